//! The fixtures of the integration tests: real mail servers started on 127.0.0.1 and
//! stopped by PID ([`servers`]), the one scripted peer for the faults no real server
//! produces on demand ([`peer`]), and `wit/` parsed ([`wit`]). The wasmtime host is the
//! `smtp-host` crate.

pub mod peer;
pub mod servers;
pub mod wit;
