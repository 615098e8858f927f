//! Builds the smtp component file, `target/component-build/smtp_component.wasm`.
//!
//! Two steps, both here so that a plain `cargo build` of any host does them:
//! 1. a nested cargo links the component crate for `wasm32-wasip2` with the `component`
//!    profile, in a target directory of its own (sharing the outer build's would
//!    deadlock on its lock);
//! 2. [`optimize`] takes the core module out of the linked component, runs binaryen's
//!    `wasm-opt -Oz` on it when `wasm-opt` is on `PATH` (or `$WASM_OPT` names it; an
//!    empty `WASM_OPT` turns it off), and puts it back in place, every other byte
//!    unchanged (the component refers to its core module only by its imports' and
//!    exports' names, which wasm-opt keeps). It also drops the component's
//!    `component-name` section (debug names of the wiring, 12 KB). Without wasm-opt the
//!    file is the linked component and [`Built::skipped`] says why.
//!
//! Used by smtp-host's build script and by `scripts/build-component`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The result of [`build`].
#[derive(Debug)]
pub struct Built {
    /// The component file: `target/component-build/smtp_component.wasm` under the root.
    pub wasm: PathBuf,
    /// The linked (unoptimized) component that cargo wrote.
    pub linked: PathBuf,
    /// Why the optimization did not run (wasm-opt missing), when it did not.
    pub skipped: Option<String>,
}

/// The files whose change makes the component change (for `cargo:rerun-if-changed`).
pub const INPUTS: &[&str] = &[
    "src",
    "wit",
    "Cargo.toml",
    "Cargo.lock",
    "rust-toolchain.toml",
    ".cargo/config.toml",
];

/// rustc 1.95's default target features for wasm32-wasip2, as wasm-opt names them, so
/// that the output uses nothing the input did not.
const WASM_OPT_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-multivalue",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-reference-types",
    "--enable-sign-ext",
];

/// Environment variables an outer cargo sets for a build script or a `cargo run`
/// that must not leak into the nested wasm32 build (they describe the host build).
fn is_outer(key: &str) -> bool {
    key.starts_with("CARGO_CFG_")
        || key.starts_with("CARGO_FEATURE_")
        || key.starts_with("CARGO_PKG_")
        || key.starts_with("CARGO_BIN_")
        || matches!(
            key,
            "CARGO_ENCODED_RUSTFLAGS"
                | "CARGO_TARGET_DIR"
                | "CARGO_BUILD_TARGET"
                | "CARGO_MAKEFLAGS"
                | "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_MANIFEST_LINKS"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_CRATE_NAME"
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
                | "RUSTC_WORKSPACE_WRAPPER"
        )
}

/// Which build of the component: the crate's features and where its files go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wasi {
    /// WASI 0.2 (the default features): `target/component-build/`.
    P2,
    /// WASI 0.3 (`--no-default-features --features p3`): `target/component-build-p3/`,
    /// a target directory of its own so neither build invalidates the other.
    P3,
}

/// Builds the WASI 0.2 component of the workspace at `root` and returns where it is.
pub fn build(root: &Path) -> Result<Built, String> {
    build_wasi(root, Wasi::P2)
}

/// Builds the `wasi` build of the component of the workspace at `root`.
pub fn build_wasi(root: &Path, wasi: Wasi) -> Result<Built, String> {
    let (dir, features): (&str, &[&str]) = match wasi {
        Wasi::P2 => ("component-build", &[]),
        Wasi::P3 => (
            "component-build-p3",
            &["--no-default-features", "--features", "p3"],
        ),
    };
    let target_dir = root.join("target").join(dir);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["build", "--package", "smtp-component"])
        .args(features)
        .args(["--target", "wasm32-wasip2", "--profile", "component"])
        .arg("--target-dir")
        .arg(&target_dir)
        // A build script's stdout is cargo's instruction channel: keep cargo's off it.
        .stdout(Stdio::null());
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if is_outer(&key) {
            cmd.env_remove(&key);
        }
    }
    match cmd.status() {
        Ok(s) if s.success() => {}
        Ok(s) => {
            return Err(format!(
                "building the smtp component failed ({s}); run: cargo build -p smtp-component \
                 {}--target wasm32-wasip2 --profile component (scripts/install-build-deps adds \
                 the target, clang and llvm)",
                features.iter().map(|f| format!("{f} ")).collect::<String>()
            ))
        }
        Err(e) => {
            return Err(format!(
                "could not run cargo to build the smtp component: {e}"
            ))
        }
    }
    let linked = target_dir
        .join("wasm32-wasip2")
        .join("component")
        .join("smtp_component.wasm");
    let wasm = target_dir.join("smtp_component.wasm");
    let skipped = optimize_file(&linked, &wasm)?;
    Ok(Built {
        wasm,
        linked,
        skipped,
    })
}

/// The optimizer: `$WASM_OPT` when set (empty: none, to build without it), else
/// `wasm-opt` on `PATH`.
fn wasm_opt_tool() -> Option<PathBuf> {
    match std::env::var_os("WASM_OPT") {
        Some(path) if path.is_empty() => None,
        Some(path) => Some(PathBuf::from(path)),
        None => find_on_path("wasm-opt"),
    }
}

/// Writes `out`: `linked` optimized (see [`optimize`]), or as it is when wasm-opt is
/// missing (then returns why). Does nothing when `out` is newer than `linked` and was
/// written the same way (a stamp file next to it records which).
pub fn optimize_file(linked: &Path, out: &Path) -> Result<Option<String>, String> {
    let tool = wasm_opt_tool();
    let how = if tool.is_some() {
        "wasm-opt -Oz"
    } else {
        "as linked"
    };
    let stamp = out.with_extension("wasm.how");
    let fresh = match (mtime(linked), mtime(out)) {
        (Some(input), Some(output)) => output > input,
        _ => false,
    };
    let skipped = tool.is_none().then(|| {
        "wasm-opt not found on PATH, or WASM_OPT is empty (Debian package binaryen; \
         scripts/install-build-deps installs it): the component is not optimized (about \
         15% larger)"
            .to_string()
    });
    if fresh && std::fs::read_to_string(&stamp).ok().as_deref() == Some(how) {
        return Ok(skipped);
    }
    let component = std::fs::read(linked).map_err(|e| format!("{}: {e}", linked.display()))?;
    let result = match &tool {
        Some(tool) => optimize(&component, |module| wasm_opt(tool, module))
            .map_err(|e| format!("optimizing {}: {e}", linked.display()))?,
        None => component,
    };
    let tmp = out.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, &result).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, out).map_err(|e| format!("{}: {e}", out.display()))?;
    std::fs::write(&stamp, how).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(skipped)
}

fn mtime(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The first `name` in `PATH` that is a file.
fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// `module` after `wasm-opt -Oz`, run from `tool`.
fn wasm_opt(tool: &Path, module: &[u8]) -> Result<Vec<u8>, String> {
    let dir = std::env::temp_dir().join(format!("smtp-component-opt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (input, output) = (dir.join("in.wasm"), dir.join("out.wasm"));
    let result = std::fs::write(&input, module)
        .map_err(|e| format!("{}: {e}", input.display()))
        .and_then(|()| {
            let status = Command::new(tool)
                .arg("-Oz")
                .args(WASM_OPT_FEATURES)
                .arg(&input)
                .arg("-o")
                .arg(&output)
                .stdout(Stdio::null())
                .status()
                .map_err(|e| format!("running {}: {e}", tool.display()))?;
            if !status.success() {
                return Err(format!("{} failed ({status})", tool.display()));
            }
            std::fs::read(&output).map_err(|e| format!("{}: {e}", output.display()))
        });
    let _ = std::fs::remove_dir_all(&dir);
    result
}

const COMPONENT_PREAMBLE: &[u8] = b"\0asm\x0d\x00\x01\x00";
const CUSTOM_SECTION: u8 = 0;
const CORE_MODULE_SECTION: u8 = 1;
const DROPPED_CUSTOM: &[u8] = b"component-name";

/// An unsigned LEB128 at `pos`: the value and the position after it.
fn read_leb(data: &[u8], mut pos: usize) -> Result<(usize, usize), String> {
    let (mut value, mut shift) = (0usize, 0u32);
    loop {
        let byte = *data.get(pos).ok_or("truncated LEB128")?;
        pos += 1;
        if shift >= usize::BITS {
            return Err("LEB128 too long".into());
        }
        value |= usize::from(byte & 0x7f) << shift;
        shift += 7;
        if byte < 0x80 {
            return Ok((value, pos));
        }
    }
}

/// `value` as unsigned LEB128, appended to `out`.
fn write_leb(mut value: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// The component's top-level sections as (id, payload) pairs.
fn sections(component: &[u8]) -> Result<Vec<(u8, &[u8])>, String> {
    if !component.starts_with(COMPONENT_PREAMBLE) {
        return Err("not a WebAssembly component (wrong preamble)".into());
    }
    let (mut out, mut pos) = (Vec::new(), COMPONENT_PREAMBLE.len());
    while pos < component.len() {
        let id = component[pos];
        let (size, start) = read_leb(component, pos + 1)?;
        let end = start
            .checked_add(size)
            .filter(|&end| end <= component.len())
            .ok_or("a section runs past the end of the file")?;
        out.push((id, &component[start..end]));
        pos = end;
    }
    Ok(out)
}

/// The name of a custom section.
fn custom_name(payload: &[u8]) -> Option<&[u8]> {
    let (size, start) = read_leb(payload, 0).ok()?;
    payload.get(start..start.checked_add(size)?)
}

/// The component with its largest core module replaced by `optimize_module` of it and
/// its `component-name` section left out; every other section byte for byte.
pub fn optimize(
    component: &[u8],
    optimize_module: impl FnOnce(&[u8]) -> Result<Vec<u8>, String>,
) -> Result<Vec<u8>, String> {
    let parts = sections(component)?;
    let main = parts
        .iter()
        .enumerate()
        .filter(|(_, (id, _))| *id == CORE_MODULE_SECTION)
        .max_by_key(|(_, (_, payload))| payload.len())
        .map(|(i, _)| i)
        .ok_or("the component holds no core module")?;
    let optimized = optimize_module(parts[main].1)?;
    let mut out = COMPONENT_PREAMBLE.to_vec();
    for (i, (id, payload)) in parts.iter().enumerate() {
        if *id == CUSTOM_SECTION && custom_name(payload) == Some(DROPPED_CUSTOM) {
            continue;
        }
        let payload: &[u8] = if i == main { &optimized } else { payload };
        out.push(*id);
        write_leb(payload.len(), &mut out);
        out.extend_from_slice(payload);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(id: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![id];
        write_leb(payload.len(), &mut out);
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn replaces_the_largest_module_and_drops_component_names() {
        let mut names = Vec::new();
        write_leb(DROPPED_CUSTOM.len(), &mut names);
        names.extend_from_slice(DROPPED_CUSTOM);
        names.extend_from_slice(b"xyz");
        let big = vec![7u8; 300];
        let mut input = COMPONENT_PREAMBLE.to_vec();
        input.extend(section(CORE_MODULE_SECTION, b"small"));
        input.extend(section(CORE_MODULE_SECTION, &big));
        input.extend(section(7, b"wiring"));
        input.extend(section(CUSTOM_SECTION, &names));
        let out = optimize(&input, |m| {
            assert_eq!(m, &big[..]);
            Ok(b"opt".to_vec())
        })
        .unwrap();
        let mut expected = COMPONENT_PREAMBLE.to_vec();
        expected.extend(section(CORE_MODULE_SECTION, b"small"));
        expected.extend(section(CORE_MODULE_SECTION, b"opt"));
        expected.extend(section(7, b"wiring"));
        assert_eq!(out, expected);
    }

    #[test]
    fn refuses_what_is_not_a_component() {
        assert!(optimize(b"\0asm\x01\x00\x00\x00", |m| Ok(m.to_vec())).is_err());
        let mut cut = COMPONENT_PREAMBLE.to_vec();
        cut.extend([CORE_MODULE_SECTION, 0x10, 1, 2]);
        assert!(optimize(&cut, |m| Ok(m.to_vec())).is_err());
    }

    #[test]
    fn leb_round_trip() {
        for value in [0, 1, 127, 128, 300, 624_485, usize::MAX >> 1] {
            let mut out = Vec::new();
            write_leb(value, &mut out);
            assert_eq!(read_leb(&out, 0).unwrap(), (value, out.len()));
        }
    }
}
