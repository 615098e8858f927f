//! `build-component` (what `scripts/build-component` runs): builds the component and
//! prints its path, `target/component-build/smtp_component.wasm`. For hosts that are not
//! Rust crates (the Python, JavaScript and Spin examples, the benchmark): a Rust host
//! gets the same file from smtp-host's build script.
//!
//! The workspace it builds is the first argument, or else the directory it runs in
//! (`scripts/build-component` runs it at the root). Not the path it was compiled in:
//! a binary in a target dir that several checkouts share would build another one.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = match std::env::args_os().nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    };
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
