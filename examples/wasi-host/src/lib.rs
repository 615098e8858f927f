//! `wasi-host`: a small wasmtime host for composed components, as a library (used by
//! `host-test`) and a command.
//!
//! ```text
//! wasi-host run   [OPTIONS] COMPONENT [ARGS...]   run a wasi:cli command (stdio inherited)
//! wasi-host serve [OPTIONS] COMPONENT             serve a wasi:http/incoming-handler
//!                                                 (or, with the `p3` feature, a
//!                                                 wasi:http/handler@0.3)
//! OPTIONS:
//!   --env KEY=VALUE          an environment variable for the guest (repeatable)
//!   --allow-outbound IP:PORT allow TCP connections only to these addresses and give the
//!                            guest no DNS, as Spin does with allowed_outbound_hosts
//!                            (repeatable; without it any address and DNS are allowed)
//!   --listen ADDR            serve: the address to listen on (default 127.0.0.1:8080)
//! ```
//!
//! `serve` prints `listening on http://ADDR` on stdout once it accepts connections.
//! Compiled code is cached as a `.cwasm` (`smtp_host::cache`), so only the first start
//! of a component pays for the compile.

pub mod cli;
pub mod run;
pub mod serve;
#[cfg(feature = "p3")]
mod serve_p3;
pub mod state;
