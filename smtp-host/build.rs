//! Builds the component (see the `smtp-component-build` crate) so that no manual step
//! comes before the tests, the CLI or the examples, and hands its path to the crate as
//! `SMTP_COMPONENT_WASM` (`smtp_host::COMPONENT` embeds it). Without binaryen's
//! `wasm-opt` the build still works, with a warning and an unoptimized component.

use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest_dir.join("..");
    for input in smtp_component_build::INPUTS {
        println!("cargo:rerun-if-changed={}", root.join(input).display());
    }
    println!("cargo:rerun-if-changed=component-build/src");
    println!("cargo:rerun-if-env-changed=WASM_OPT");
    match smtp_component_build::build(&root) {
        Ok(built) => {
            if let Some(why) = built.skipped {
                println!("cargo:warning={why}");
            }
            println!(
                "cargo:rustc-env=SMTP_COMPONENT_WASM={}",
                built.wasm.display()
            );
        }
        Err(e) => panic!("{e}"),
    }
}
