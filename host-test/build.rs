//! Builds the component (`wasm32-wasip2`, profile `component`) so that no manual step
//! comes before the tests, the CLI or the examples. It runs a nested cargo with a target
//! directory of its own (sharing the outer one would deadlock on its lock), shrinks the
//! linked component with `scripts/optimize-component` (wasm-opt on its core module),
//! and hands the path of the result to the crate as `SMTP_COMPONENT_WASM`. These are
//! the two steps of `scripts/build-component`.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".."));
    for watched in [
        "src",
        "wit",
        "Cargo.toml",
        "Cargo.lock",
        "rust-toolchain.toml",
        ".cargo/config.toml",
        "scripts/optimize-component",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let target_dir = root.join("target").join("component-build");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root).args([
        "build",
        "--package",
        "smtp-component",
        "--target",
        "wasm32-wasip2",
        "--profile",
        "component",
        "--target-dir",
    ]);
    cmd.arg(&target_dir);
    // The outer build's settings are for the host; keep them away from the wasm build.
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        let outer = key.starts_with("CARGO_CFG_")
            || key.starts_with("CARGO_FEATURE_")
            || key.starts_with("CARGO_PKG_")
            || matches!(
                key.as_str(),
                "CARGO_ENCODED_RUSTFLAGS"
                    | "CARGO_TARGET_DIR"
                    | "CARGO_BUILD_TARGET"
                    | "CARGO_MAKEFLAGS"
                    | "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "MAKEFLAGS"
                    | "MFLAGS"
                    | "TARGET"
                    | "HOST"
                    | "OUT_DIR"
                    | "PROFILE"
                    | "OPT_LEVEL"
                    | "DEBUG"
                    | "NUM_JOBS"
                    | "RUSTFLAGS"
            );
        if outer {
            cmd.env_remove(&key);
        }
    }
    let status = cmd.status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("building the smtp component failed ({s}); run: cargo build -p smtp-component --target wasm32-wasip2 --profile component"),
        Err(e) => panic!("could not run cargo to build the smtp component: {e}"),
    }
    let linked = target_dir
        .join("wasm32-wasip2")
        .join("component")
        .join("smtp_component.wasm");
    let wasm = target_dir.join("smtp_component.wasm");
    let status = Command::new("python3")
        .arg(root.join("scripts").join("optimize-component"))
        .arg(&linked)
        .arg(&wasm)
        .stdout(std::process::Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("optimizing the smtp component failed ({s}); wasm-opt comes from Debian's binaryen: run scripts/install-build-deps"),
        Err(e) => panic!("could not run python3 scripts/optimize-component: {e}"),
    }
    println!("cargo:rustc-env=SMTP_COMPONENT_WASM={}", wasm.display());
}
