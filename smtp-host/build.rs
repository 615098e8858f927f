//! Builds the component (see the `smtp-component-build` crate) so that no manual step
//! comes before the tests, the CLI or the examples, and hands its path to the crate as
//! `SMTP_COMPONENT_WASM` (`smtp_host::COMPONENT` embeds it); with the `p3` feature, the
//! WASI 0.3 build as well, as `SMTP_COMPONENT_P3_WASM`. Each comes with a hash of its
//! bytes (`..._HASH`), so the compile cache finds an embedded component's `.cwasm`
//! without reading the embedded bytes (see `cache`). Without binaryen's
//! `wasm-opt` the build still works, with a warning and an unoptimized component.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use smtp_component_build::Wasi;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest_dir.join("..");
    for input in smtp_component_build::INPUTS {
        println!("cargo:rerun-if-changed={}", root.join(input).display());
    }
    println!("cargo:rerun-if-changed=component-build/src");
    println!("cargo:rerun-if-env-changed=WASM_OPT");
    embed(&root, Wasi::P2, "SMTP_COMPONENT_WASM");
    // The WASI 0.3 build too, with the `p3` feature (`smtp_host::COMPONENT_P3`).
    if std::env::var_os("CARGO_FEATURE_P3").is_some() {
        embed(&root, Wasi::P3, "SMTP_COMPONENT_P3_WASM");
    }
}

/// Builds `wasi`'s component and hands its path to the crate as `env`, and the hash of
/// its bytes as `env_HASH` (the same hash as `cache::bytes_hash`: one std, one hasher).
fn embed(root: &Path, wasi: Wasi, env: &str) {
    match smtp_component_build::build_wasi(root, wasi) {
        Ok(built) => {
            if let Some(why) = built.skipped {
                println!("cargo:warning={why}");
            }
            println!("cargo:rustc-env={env}={}", built.wasm.display());
            let bytes = std::fs::read(&built.wasm)
                .unwrap_or_else(|e| panic!("reading {}: {e}", built.wasm.display()));
            let mut h = DefaultHasher::new();
            bytes.hash(&mut h);
            println!("cargo:rustc-env={env}_HASH={:016x}", h.finish());
        }
        Err(e) => panic!("{e}"),
    }
}
