//! smtp-host's typed async client (`AsyncClient`) against a real aiosmtpd: sessions
//! on one thread that overlap, and one client reused for a second connection.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use host_test::servers::Aiosmtpd;
use smtp_host::{AsyncClient, ClientOptions, Message, SmtpHost, Stderr};

/// A current-thread runtime, as a host with one event loop has.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn new_client() -> AsyncClient {
    SmtpHost::shared()
        .expect("load the component")
        .async_client(&ClientOptions::default(), Stderr::Capture)
        .await
        .expect("instantiate the component")
}

/// Connect, wait at `barrier` (when given) until every session is connected, send
/// `count` messages tagged `tag-N`, quit; the number accepted.
async fn session(
    c: &mut AsyncClient,
    addr: &str,
    tag: &str,
    count: usize,
    barrier: Option<&tokio::sync::Barrier>,
) -> usize {
    c.connect(addr, None).await.unwrap().unwrap();
    if let Some(b) = barrier {
        b.wait().await;
    }
    let to = vec!["b@example.com".to_string()];
    let mut sent = 0;
    for n in 0..count {
        let msg = Message::Text(format!("Subject: {tag}-{n}\n\nbody {tag}-{n}\n"));
        let refused = c
            .sendmail("a@example.com", &to, &msg, &[], &[])
            .await
            .unwrap()
            .unwrap();
        assert!(refused.is_empty(), "{refused:?}");
        sent += 1;
    }
    c.quit().await.unwrap().unwrap();
    sent
}

/// Eight clients spawned on one thread, all connected at once (each waits at a
/// barrier until all eight are, which only sessions that overlap can pass): each one's
/// messages all arrive.
#[test]
fn concurrent_sessions_on_one_thread_all_deliver() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let addr = server.addr();
    let barrier = Arc::new(tokio::sync::Barrier::new(8));
    let total = runtime().block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..8 {
            let (addr, barrier) = (addr.clone(), barrier.clone());
            tasks.spawn(async move {
                let mut c = new_client().await;
                session(&mut c, &addr, &format!("c{i}"), 3, Some(&barrier)).await
            });
        }
        let all = async {
            let mut total = 0;
            while let Some(sent) = tasks.join_next().await {
                total += sent.unwrap();
            }
            total
        };
        tokio::time::timeout(Duration::from_secs(60), all)
            .await
            .expect("the sessions did not overlap")
    });
    assert_eq!(total, 24);
    let stored = server.wait_messages(24);
    let subjects: BTreeSet<String> = stored
        .iter()
        .map(|m| {
            let text = String::from_utf8_lossy(&m.bytes).into_owned();
            text.lines().next().unwrap_or_default().to_string()
        })
        .collect();
    assert_eq!(subjects.len(), 24, "{subjects:?}");
    for i in 0..8 {
        for n in 0..3 {
            assert!(subjects.contains(&format!("Subject: c{i}-{n}")));
        }
    }
}

/// One async client serves two connections in a row (connect after QUIT), and the
/// blocking `Client` over it still works the same.
#[test]
fn one_client_reconnects_after_quit() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let addr = server.addr();
    runtime().block_on(async {
        let mut c = new_client().await;
        assert_eq!(session(&mut c, &addr, "first", 1, None).await, 1);
        assert!(!c.is_connected().await.unwrap());
        assert_eq!(session(&mut c, &addr, "second", 2, None).await, 2);
    });
    assert_eq!(server.wait_messages(3).len(), 3);
    let mut blocking = SmtpHost::shared()
        .unwrap()
        .client(&ClientOptions::default(), Stderr::Capture)
        .unwrap();
    blocking.connect(&addr, None).unwrap().unwrap();
    blocking.quit().unwrap().unwrap();
}
