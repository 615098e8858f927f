//! The `wasi-host` command; see the library's documentation for its usage.

use std::process::ExitCode;
use wasi_host::{cli, run, serve};

fn main() -> ExitCode {
    let result = cli::parse(std::env::args().skip(1)).and_then(|command| match command {
        cli::Command::Run(options) => run::run(&options),
        cli::Command::Serve(options) => serve::serve(&options).map(|()| 0),
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("wasi-host: {e:#}");
            ExitCode::from(2)
        }
    }
}
