//! The fixtures of the integration tests: real mail servers started on 127.0.0.1 and
//! stopped by PID ([`servers`]), the scripted peer for the faults no real server
//! produces on demand ([`fault_server`]), and `wit/` parsed ([`wit`]). The wasmtime host
//! is the `smtp-host` crate.

pub mod fault_server;
pub mod servers;
pub mod wit;
