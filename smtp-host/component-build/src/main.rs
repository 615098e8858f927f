//! `build-component` (what `scripts/build-component` runs): builds the component and
//! prints its path, `target/component-build/smtp_component.wasm`. For hosts that are not
//! Rust crates (the Python, JavaScript and Spin examples, the benchmark): a Rust host
//! gets the same file from smtp-host's build script.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().unwrap_or(root);
    match smtp_component_build::build(&root) {
        Ok(built) => {
            if let Some(why) = built.skipped {
                eprintln!("build-component: warning: {why}");
            }
            println!("{}", built.wasm.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("build-component: {e}");
            ExitCode::FAILURE
        }
    }
}
