//! examples/spin-app-p3, the composed WASI 0.3 HTTP app: its guest (wasip3, exporting
//! wasi:http/handler@0.3) is built for wasm32-wasip2, plugged with the WASI 0.3 smtp
//! component by `wac plug` (as Spin does for component dependencies) and served over
//! HTTP by `wasi-host` (wasmtime-wasi-http's p3 support) with Spin's network rules:
//! only the listed outbound addresses, no DNS. A POST must make the mail arrive
//! byte-exact at a real aiosmtpd (over STARTTLS too, verified against the separate
//! server name); with the server down, the app must answer an error (`common::spin`'s
//! suite, as for examples/spin-app).
//!
//! Needs host-test's `p3` feature:
//! `cargo test -p host-test --features p3 --test spin_app_p3`.

mod common;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

use common::certs::Pki;
use common::spin::{addr_of, request, server_env, MSG, MSG_SENT};
use host_test::servers::Aiosmtpd;

/// Builds the guest and composes it with the WASI 0.3 component once per process.
fn composed() -> PathBuf {
    static COMPOSED: OnceLock<PathBuf> = OnceLock::new();
    COMPOSED
        .get_or_init(|| {
            common::spin::compose(
                "spin-app-p3",
                "spin_app_p3.wasm",
                smtp_host::COMPONENT_P3_PATH.as_ref(),
                "spin-app-p3-test.wasm",
            )
        })
        .clone()
}

/// Serves the composition with `env`, allowing TCP only to `allowed`.
fn serve(env: &[(&str, String)], allowed: &[SocketAddr]) -> SocketAddr {
    common::spin::serve(composed(), env, allowed)
}

crate::spin_app_suite!();
