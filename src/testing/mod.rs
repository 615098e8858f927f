//! Native tests of the client and the session over an in-memory scripted SMTP peer on a
//! virtual clock (quinn's `Pair` idea): every reply position under every fault runs in
//! microseconds, with no network and no wasmtime.

pub mod peer;

mod mailer;
mod matrix;
mod policy;
mod stream;
