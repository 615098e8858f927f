//! `cargo bench -p host-test --bench instantiate`: what a session pays to get an
//! instance of the component (an instance and its `client` resource, as Spin pays per
//! request), with wasmtime's on-demand allocator and with its pooling allocator
//! (`SmtpHost::pooled`), and the host's resident memory per live instance.

use std::time::Instant;

use smtp_host::{ClientOptions, SmtpHost, Stderr, COMPONENT};

const N: usize = 500;
const LIVE: usize = 100;

/// Resident set size of this process, in bytes (Linux).
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let options = ClientOptions::default();
    for (name, host) in [
        (
            "on-demand",
            SmtpHost::new(COMPONENT, "smtp_component").unwrap(),
        ),
        (
            "pooling",
            SmtpHost::pooled(COMPONENT, "smtp_component", LIVE as u32).unwrap(),
        ),
    ] {
        runtime.block_on(async {
            // Warm up, then one instance at a time, made and dropped.
            for _ in 0..20 {
                drop(host.async_client(&options, Stderr::Capture).await.unwrap());
            }
            let t = Instant::now();
            for _ in 0..N {
                drop(host.async_client(&options, Stderr::Capture).await.unwrap());
            }
            let per = t.elapsed().as_secs_f64() * 1e6 / N as f64;
            // LIVE instances alive at once, each having run one call.
            let before = rss();
            let mut live = Vec::new();
            for _ in 0..LIVE {
                let mut c = host.async_client(&options, Stderr::Capture).await.unwrap();
                c.set_debuglevel(0).await.unwrap();
                live.push(c);
            }
            let grown = rss().saturating_sub(before);
            println!(
                "{name:>9}: instantiate + constructor {per:.1} us per session (mean of {N}); \
                 {LIVE} live instances add {:.2} MiB resident, {:.1} KiB each",
                grown as f64 / 1048576.0,
                grown as f64 / 1024.0 / LIVE as f64
            );
        });
    }
}
