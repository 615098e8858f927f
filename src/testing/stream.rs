//! A streamed body (`Client::sendmail_stream`) against the model server: over DATA and
//! over BDAT, lockstep and pipelined, the server receives exactly what `sendmail` of
//! the whole message gives it, however the source cuts the body; a source that fails
//! midway closes the connection before the end of data and nothing is delivered; a
//! refusal before the body reads none of it.

use super::peer::{Pair, ServerConfig, Verdict};
use crate::client::{BodySource, Client, ClientOptions, STREAM_PIECE};
use crate::error::SmtpError;

/// A body handed over `step` bytes at a time, failing after `fail_at` bytes if set.
struct Source {
    data: Vec<u8>,
    pos: usize,
    step: usize,
    fail_at: Option<usize>,
    reads: usize,
}

impl Source {
    fn new(data: Vec<u8>, step: usize) -> Source {
        Source {
            data,
            pos: 0,
            step,
            fail_at: None,
            reads: 0,
        }
    }
}

impl BodySource for Source {
    fn read(&mut self, buf: &mut Vec<u8>) -> Result<usize, String> {
        self.reads += 1;
        if self.fail_at.is_some_and(|at| self.pos >= at) {
            return Err("the source broke".into());
        }
        let room = buf.capacity() - buf.len();
        let end = self.data.len().min(self.pos + self.step.min(room));
        buf.extend_from_slice(&self.data[self.pos..end]);
        let n = end - self.pos;
        self.pos = end;
        Ok(n)
    }
}

/// A message with dots at line starts, bare CR and LF, and CRLFs at many offsets.
fn message(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut i = 0u64;
    while out.len() < len {
        i += 1;
        // The special lines now and then only: the model server looks for the end of
        // data in everything it has so far at every piece a whole message is sent in.
        match if i % 2000 < 7 { i % 7 } else { 5 } {
            0 => out.extend_from_slice(b".dot line\r\n"),
            1 => out.extend_from_slice(b"..two\r\n"),
            2 => out.push(b'\n'),
            3 => out.push(b'\r'),
            4 => out.extend_from_slice(b"."),
            _ => out.extend_from_slice(format!("line {i} xxxxxxxxxxxxx\r\n").as_bytes()),
        }
    }
    out.truncate(len);
    out
}

fn cfg(extensions: &[&str]) -> ServerConfig {
    ServerConfig {
        extensions: extensions.iter().map(|s| s.to_string()).collect(),
        ..ServerConfig::default()
    }
}

fn connected(cfg: ServerConfig) -> (Pair, Client<Pair>) {
    let pair = Pair::new(cfg);
    let mut client = Client::new(pair.clone(), ClientOptions::default());
    client.connect("127.0.0.1", Some(2525)).unwrap();
    (pair, client)
}

fn to() -> Vec<String> {
    vec!["b@example.org".to_string()]
}

/// What the server received for `msg` sent whole with `sendmail`.
fn received_whole(extensions: &[&str], msg: &[u8]) -> Vec<u8> {
    let (pair, mut client) = connected(cfg(extensions));
    client
        .sendmail("a@example.com", &to(), msg.to_vec(), &[], &[])
        .unwrap();
    let server = pair.server.borrow();
    assert_eq!(server.deliveries.len(), 1);
    server.deliveries[0].data.clone()
}

const SETS: [&[&str]; 4] = [
    &[],
    &["PIPELINING"],
    &["CHUNKING"],
    &["PIPELINING", "CHUNKING"],
];

#[test]
fn streamed_equals_whole_for_every_extension_set_and_cut() {
    for len in [0, 1, 5000, STREAM_PIECE, 2 * STREAM_PIECE + 3] {
        let msg = message(len);
        for extensions in SETS {
            let whole = received_whole(extensions, &msg);
            for step in [1 << 20, 65_521] {
                let (pair, mut client) = connected(cfg(extensions));
                let mut source = Source::new(msg.clone(), step);
                let delivery = client
                    .sendmail_stream("a@example.com", &to(), &mut source, &[], &[])
                    .unwrap();
                let server = pair.server.borrow();
                assert_eq!(server.deliveries.len(), 1, "{extensions:?} {len} {step}");
                assert_eq!(server.deliveries[0].verdict, Verdict::Accepted);
                assert!(
                    server.deliveries[0].data == whole,
                    "{extensions:?} {len} {step}"
                );
                let chunking = extensions.contains(&"CHUNKING");
                assert_eq!(
                    delivery.extensions.iter().any(|e| e == "chunking"),
                    chunking
                );
                if chunking {
                    // One BDAT per piece: a body of n pieces is n BDAT commands.
                    let wire = String::from_utf8_lossy(&server.wire).into_owned();
                    let bdats = wire.matches("BDAT ").count();
                    assert!(bdats >= len.div_ceil(STREAM_PIECE).max(1), "{bdats}");
                }
                drop(server);
                // The connection is ready for the next transaction.
                assert!(client.docmd("NOOP", None).is_ok());
            }
        }
    }
}

#[test]
fn a_source_that_fails_midway_closes_the_connection_and_delivers_nothing() {
    for extensions in SETS {
        let (pair, mut client) = connected(cfg(extensions));
        let mut source = Source::new(message(3 * STREAM_PIECE), 10_000);
        source.fail_at = Some(STREAM_PIECE + 20_000);
        let error = client
            .sendmail_stream("a@example.com", &to(), &mut source, &[], &[])
            .unwrap_err();
        assert!(
            matches!(&error, SmtpError::Io(m) if m.contains("nothing was delivered")),
            "{error:?}"
        );
        assert!(!client.is_connected());
        let server = pair.server.borrow();
        assert!(server.deliveries.is_empty(), "{extensions:?}");
        let wire = String::from_utf8_lossy(&server.wire).into_owned();
        assert!(!wire.contains("LAST"), "{extensions:?}");
        assert!(!wire.ends_with("\r\n.\r\n"), "{extensions:?}");
    }
}

#[test]
fn refused_recipients_read_none_of_the_body() {
    for extensions in SETS {
        let mut config = cfg(extensions);
        config.refuse_rcpt = vec!["b@example.org".into()];
        let (_pair, mut client) = connected(config);
        let mut source = Source::new(message(1000), 100);
        let error = client
            .sendmail_stream("a@example.com", &to(), &mut source, &[], &[])
            .unwrap_err();
        assert_eq!(error.kind(), "recipients-refused", "{extensions:?}");
        assert_eq!(source.reads, 0);
        // RSET was answered: the connection is still usable.
        assert!(client.docmd("NOOP", None).is_ok(), "{extensions:?}");
    }
}

#[test]
fn no_size_unless_given() {
    let (pair, mut client) = connected(cfg(&["SIZE 1000000", "PIPELINING"]));
    let mut source = Source::new(message(100), 7);
    client
        .sendmail_stream("a@example.com", &to(), &mut source, &[], &[])
        .unwrap();
    let mut source = Source::new(message(100), 7);
    client
        .sendmail_stream(
            "a@example.com",
            &to(),
            &mut source,
            &["SIZE=100".to_string()],
            &[],
        )
        .unwrap();
    let wire = String::from_utf8_lossy(&pair.server.borrow().wire).into_owned();
    assert_eq!(wire.matches("SIZE=").count(), 1, "{wire}");
}
