//! examples/spin-app, the composed HTTP app: its guest is built for wasm32-wasip2,
//! plugged with the smtp component by `wac plug` (as Spin does for component
//! dependencies) and served over HTTP by `wasi-host` (wasmtime-wasi-http) with Spin's
//! network rules: only the listed outbound addresses, no DNS. A POST must make the mail
//! arrive byte-exact at a real aiosmtpd (over STARTTLS too, verified against the
//! separate server name); with the server down, the app must answer an error. The tests
//! are `common::spin`'s suite, which examples/spin-app-p3 passes as well.

mod common;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

use common::certs::Pki;
use common::spin::{addr_of, request, server_env, MSG, MSG_SENT};
use host_test::servers::Aiosmtpd;

/// Builds the guest and composes it with the component once per test process.
fn composed() -> PathBuf {
    static COMPOSED: OnceLock<PathBuf> = OnceLock::new();
    COMPOSED
        .get_or_init(|| {
            common::spin::compose(
                "spin-app",
                "spin_app.wasm",
                smtp_host::COMPONENT_PATH.as_ref(),
                "spin-app-test.wasm",
            )
        })
        .clone()
}

/// Serves the composition with `env`, allowing TCP only to `allowed`.
fn serve(env: &[(&str, String)], allowed: &[SocketAddr]) -> SocketAddr {
    common::spin::serve(composed(), env, allowed)
}

crate::spin_app_suite!();
