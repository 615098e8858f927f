//! `run`: instantiates a `wasi:cli` command and calls its `run` export.

use crate::cli::Options;
use crate::state::State;
use wasmtime::component::Linker;
use wasmtime::{Result, Store};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::I32Exit;

/// Runs the command; returns its exit code (0 when `run` returned ok).
pub fn run(options: &Options) -> Result<u8> {
    let engine = smtp_host::engine()?;
    let component = smtp_host::cache::load_file(&engine, &options.component)?;
    let mut linker = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    let mut store = Store::new(&engine, State::new(options, true));
    let command = Command::instantiate(&mut store, &component, &linker)?;
    match command.wasi_cli_run().call_run(&mut store) {
        Ok(Ok(())) => Ok(0),
        Ok(Err(())) => Ok(1),
        Err(trap) => match trap.downcast_ref::<I32Exit>() {
            Some(exit) => Ok(u8::try_from(exit.0).unwrap_or(1)),
            None => Err(trap),
        },
    }
}
