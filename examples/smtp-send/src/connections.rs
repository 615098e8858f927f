//! `--connections N`: the `--count` messages spread over N connections at once.
//!
//! `--wasi p2`: each connection a task on a tokio runtime, each on a client instance
//! from one [`ClientPool`] (made by wasmtime's pooling allocator, and reused from one
//! session to the next, so `--reconnect` instantiates the component N times, not once
//! per message).
//!
//! `--wasi p3`: ONE instance of the WASI 0.3 build ([`smtp_host::P3Instance`]) with N
//! `client` resources in it, whose calls overlap while they wait on the network: one
//! store, one thread, one linear memory (`run_p3`).

use std::sync::Arc;

use smtp_host::{ClientPool, SmtpHost, Stderr, Wasi, COMPONENT};

use crate::report::Outcome;
use crate::{client_options, host_fail, session, set_up, Job};

/// How many of `count` messages connection `i` of `n` sends: an even share, the first
/// `count % n` connections one more.
fn share(count: u32, n: u32, i: u32) -> u32 {
    count / n + u32::from(i < count % n)
}

/// Sends `job.args.count` messages over `n` concurrent connections (fewer when there
/// are fewer messages): connection `i` sends its [`share`], numbered on from the shares
/// before it, in one session, or with `--reconnect` in a session per message. A
/// connection that fails stops there and the others go on; the outcome is
/// [`Outcome::combine`] of theirs, in order.
pub fn run(job: Job, n: u32) -> Outcome {
    let n = n.min(job.args.count).max(1);
    #[cfg(feature = "p3")]
    if job.args.wasi == Wasi::P3 {
        return run_p3(job, n);
    }
    let host = match job.args.wasi {
        Wasi::P2 => SmtpHost::pooled(COMPONENT, "smtp_component", n),
        // Without the `p3` feature the host refuses the WASI 0.3 build here.
        Wasi::P3 => SmtpHost::shared_wasi(Wasi::P3).cloned(),
    };
    let host = match host {
        Ok(h) => h,
        Err(e) => return host_fail("loading the smtp component", &e),
    };
    let workers = std::thread::available_parallelism()
        .map(|p| p.get())
        .unwrap_or(1)
        .min(n as usize);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return host_fail("starting the tokio runtime", &e),
    };
    let pool = Arc::new(ClientPool::new(
        host.clone(),
        client_options(&job.args),
        job.args.lmtp,
        Stderr::Inherit,
    ));
    let job = Arc::new(job);
    let outcome = runtime.block_on(async move {
        let started = std::time::Instant::now();
        let mut tasks = Vec::new();
        let mut before = 0;
        for i in 0..n {
            let count = share(job.args.count, n, i);
            let (job, pool) = (job.clone(), pool.clone());
            tasks.push(tokio::spawn(connection(job, pool, before, count)));
            before += count;
        }
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(match task.await {
                Ok(outcome) => outcome,
                Err(e) => host_fail("a connection's task failed", &e),
            });
        }
        Outcome::combine(outcomes, started.elapsed().as_secs_f64() * 1000.0)
    });
    Outcome {
        instances: Some(host.instances()),
        ..outcome
    }
}

/// [`run`] for `--wasi p3`: one instance, `n` clients in it, their sessions joined on
/// one thread inside one [`smtp_host::P3Instance::run`].
#[cfg(feature = "p3")]
fn run_p3(job: Job, n: u32) -> Outcome {
    use smtp_host::P3Instance;

    let host = match SmtpHost::shared_wasi(Wasi::P3) {
        Ok(h) => h,
        Err(e) => return host_fail("loading the smtp component", &e),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return host_fail("starting the tokio runtime", &e),
    };
    let outcome = runtime.block_on(async {
        let mut instance = match P3Instance::new(host, Stderr::Inherit).await {
            Ok(i) => i,
            Err(e) => return host_fail("instantiating the smtp component", &e),
        };
        let started = std::time::Instant::now();
        let job = &job;
        let ran = instance
            .run(async |scope| {
                let mut sessions = Vec::new();
                let mut before = 0;
                for i in 0..n {
                    let count = share(job.args.count, n, i);
                    sessions.push(connection_p3(scope, job, before, count));
                    before += count;
                }
                futures_util::future::join_all(sessions).await
            })
            .await;
        match ran {
            Ok(outcomes) => Outcome::combine(outcomes, started.elapsed().as_secs_f64() * 1000.0),
            Err(e) => host_fail("the instance trapped", &e),
        }
    });
    Outcome {
        instances: Some(host.instances()),
        ..outcome
    }
}

/// One of the concurrent connections of [`run_p3`]: a `client` resource of its own in
/// the shared instance, `count` messages numbered from `before + 1`, in one session,
/// or with `--reconnect` a session per message on the same client.
#[cfg(feature = "p3")]
async fn connection_p3(
    scope: &smtp_host::P3Scope<'_>,
    job: &Job,
    before: u32,
    count: u32,
) -> Outcome {
    let options = client_options(&job.args);
    let made = if job.args.lmtp {
        scope.lmtp_client(&options).await
    } else {
        scope.client(&options).await
    };
    let mut client = match made {
        Ok(c) => c,
        Err(e) => return host_fail("creating the client", &e),
    };
    if let Err(outcome) = set_up(&mut client, &job.args).await {
        return outcome;
    }
    let (sessions, per_session) = if job.args.reconnect {
        (count, 1)
    } else {
        (1, count)
    };
    let mut sent = 0;
    let mut last = None;
    for _ in 0..sessions {
        let outcome = session(&mut client, job, before + sent, per_session).await;
        sent += outcome.sent;
        if outcome.result.is_err() {
            return Outcome { sent, ..outcome };
        }
        last = Some(outcome);
    }
    match last {
        Some(outcome) => Outcome { sent, ..outcome },
        None => Outcome::host(sent, "no messages for this connection"),
    }
}

/// One of the concurrent connections: `count` messages numbered from `before + 1`, in
/// one session, or one session each with `--reconnect`, on clients from `pool`.
async fn connection(job: Arc<Job>, pool: Arc<ClientPool>, before: u32, count: u32) -> Outcome {
    let (sessions, per_session) = if job.args.reconnect {
        (count, 1)
    } else {
        (1, count)
    };
    let mut sent = 0;
    let mut last = None;
    for _ in 0..sessions {
        let mut client = match pool.take().await {
            Ok(c) => c,
            Err(e) => {
                return Outcome {
                    sent,
                    ..host_fail("creating the client", &e)
                }
            }
        };
        if let Err(outcome) = set_up(&mut client, &job.args).await {
            return Outcome { sent, ..outcome };
        }
        let outcome = session(&mut client, &job, before + sent, per_session).await;
        pool.put(client).await;
        sent += outcome.sent;
        if outcome.result.is_err() {
            return Outcome { sent, ..outcome };
        }
        last = Some(outcome);
    }
    match last {
        Some(outcome) => Outcome { sent, ..outcome },
        None => Outcome::host(sent, "no messages for this connection"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shares add up to the count and differ by one at most.
    #[test]
    fn shares_are_even() {
        for (count, n) in [(2000, 20), (10, 3), (3, 3), (7, 1), (1000, 7)] {
            let shares: Vec<u32> = (0..n).map(|i| share(count, n, i)).collect();
            assert_eq!(shares.iter().sum::<u32>(), count);
            let (min, max) = (shares.iter().min().unwrap(), shares.iter().max().unwrap());
            assert!(max - min <= 1, "{shares:?}");
        }
    }
}
