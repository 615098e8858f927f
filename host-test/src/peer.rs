//! The one scripted SMTP peer, for the faults no real server produces on demand: it plays
//! a table of [`Step`]s on one connection on 127.0.0.1 (write this, read a command and
//! check it, answer, read the data, hang up, go silent, trickle bytes...) and records
//! what it read. Every wait is bounded, so its thread always ends. [`fault`] builds the
//! tables of the fault matrix (a normal session with one fault at one stage).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long any one read waits before the peer gives up on the client.
const READ_LIMIT: Duration = Duration::from_secs(10);

/// One thing the peer does, in order.
#[derive(Debug, Clone)]
pub enum Step {
    /// Writes these bytes in one write.
    Send(Vec<u8>),
    /// Writes these bytes one at a time, pausing this long after each.
    Trickle(Vec<u8>, Duration),
    /// Reads one command line, which must start with this text (compared without case
    /// when the text has no lower-case letter, as a verb; exactly otherwise, as base64;
    /// `""` takes any line), and answers it with the bytes (none when empty).
    Reply(&'static str, Vec<u8>),
    /// Reads one line, whatever it says.
    Line,
    /// Reads exactly this many bytes.
    Read(usize),
    /// Reads once, whatever has arrived (up to 4 KiB).
    ReadSome,
    /// Reads message data up to and including the CRLF.CRLF that ends it at a strict
    /// receiver; kept in [`Played::data`].
    Data,
    /// Reads at least this many bytes of message data (or up to its end, if sooner);
    /// kept in [`Played::data`].
    DataAtLeast(usize),
    /// Waits this long.
    Pause(Duration),
    /// Reads and drops whatever comes until the client closes or this long passes
    /// without a byte.
    Drain(Duration),
    /// Keeps the connection this long without reading a byte.
    Hold(Duration),
    /// Shuts both directions down (a clean close, even with unread data).
    Shutdown,
}

/// What a played script saw.
#[derive(Debug, Default, Clone)]
pub struct Played {
    /// The client's address, once it connected.
    pub client: Option<SocketAddr>,
    /// Everything the peer read, in order.
    pub received: Vec<u8>,
    /// The message data each [`Step::Data`] or [`Step::DataAtLeast`] read.
    pub data: Vec<Vec<u8>>,
    /// The first line that did not match its [`Step::Reply`], if one did not: the peer
    /// stops playing there.
    pub mismatch: Option<String>,
    /// Why the script stopped early, if a read or write failed (the client went away).
    pub io_error: Option<String>,
}

impl Played {
    /// What the peer read, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.received).into_owned()
    }
}

/// A running peer: it plays its script on the first connection and then closes it.
pub struct ScriptPeer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    played: Arc<Mutex<Played>>,
    thread: Option<JoinHandle<()>>,
}

impl ScriptPeer {
    /// Listens on 127.0.0.1 and plays `steps` on the first connection.
    pub fn start(steps: Vec<Step>) -> std::io::Result<ScriptPeer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let played = Arc::new(Mutex::new(Played::default()));
        let log = played.clone();
        let thread = std::thread::spawn(move || {
            if let Ok((stream, addr)) = listener.accept() {
                lock(&log).client = Some(addr);
                if let Err(e) = play(stream, &steps, &log) {
                    lock(&log).io_error = Some(e.to_string());
                }
            }
        });
        Ok(ScriptPeer {
            port,
            played,
            thread: Some(thread),
        })
    }

    /// What the peer has seen so far (it may still be playing).
    pub fn played(&self) -> Played {
        lock(&self.played).clone()
    }

    /// Waits for the script to end and returns what it saw. Close the client first when
    /// the script ends by reading until the client goes away.
    pub fn finish(mut self) -> Played {
        self.join();
        self.played()
    }

    fn join(&mut self) {
        if let Some(thread) = self.thread.take() {
            if lock(&self.played).client.is_none() {
                // Nobody connected: unblock the accept (the script then plays to nobody).
                let _ = TcpStream::connect(("127.0.0.1", self.port));
            }
            let _ = thread.join();
        }
    }
}

impl Drop for ScriptPeer {
    fn drop(&mut self) {
        self.join();
    }
}

fn lock(played: &Mutex<Played>) -> std::sync::MutexGuard<'_, Played> {
    played.lock().unwrap_or_else(|e| e.into_inner())
}

/// Plays `steps` on `stream`; the connection closes when the script ends.
fn play(stream: TcpStream, steps: &[Step], log: &Mutex<Played>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(READ_LIMIT))?;
    let mut w = stream.try_clone()?;
    let mut r = BufReader::new(stream);
    for step in steps {
        match step {
            Step::Send(bytes) => w.write_all(bytes)?,
            Step::Trickle(bytes, pause) => {
                for b in bytes {
                    w.write_all(&[*b])?;
                    std::thread::sleep(*pause);
                }
            }
            Step::Reply(expect, reply) => {
                let line = read_line(&mut r, log)?;
                let text = String::from_utf8_lossy(&line);
                let matches = if expect.bytes().any(|b| b.is_ascii_lowercase()) {
                    text.starts_with(expect)
                } else {
                    text.to_ascii_uppercase().starts_with(expect)
                };
                if !matches {
                    lock(log).mismatch = Some(format!("expected {expect:?}, got {text:?}"));
                    return Ok(());
                }
                if !reply.is_empty() {
                    w.write_all(reply)?;
                }
            }
            Step::Line => {
                read_line(&mut r, log)?;
            }
            Step::Read(n) => {
                let mut buf = vec![0u8; *n];
                r.read_exact(&mut buf)?;
                lock(log).received.extend_from_slice(&buf);
            }
            Step::ReadSome => {
                let mut buf = [0u8; 4096];
                let n = r.read(&mut buf)?;
                lock(log).received.extend_from_slice(&buf[..n]);
            }
            Step::Data => read_data(&mut r, log, usize::MAX)?,
            Step::DataAtLeast(n) => read_data(&mut r, log, *n)?,
            Step::Pause(d) => std::thread::sleep(*d),
            Step::Drain(quiet) => {
                r.get_ref().set_read_timeout(Some(*quiet))?;
                let mut buf = [0u8; 4096];
                while matches!(r.read(&mut buf), Ok(n) if n > 0) {}
                r.get_ref().set_read_timeout(Some(READ_LIMIT))?;
            }
            Step::Hold(d) => std::thread::sleep(*d),
            Step::Shutdown => {
                let _ = w.shutdown(Shutdown::Both);
            }
        }
    }
    Ok(())
}

/// Reads one line (up to LF, or what came before the client closed) and records it.
fn read_line(r: &mut BufReader<TcpStream>, log: &Mutex<Played>) -> std::io::Result<Vec<u8>> {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line)?;
    lock(log).received.extend_from_slice(&line);
    if line.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the client closed the connection",
        ));
    }
    Ok(line)
}

/// Reads message data until CRLF.CRLF, or until `at_least` bytes have come.
fn read_data(
    r: &mut BufReader<TcpStream>,
    log: &Mutex<Played>,
    at_least: usize,
) -> std::io::Result<()> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    while data.len() < at_least && !data.ends_with(b"\r\n.\r\n") && data != b".\r\n" {
        line.clear();
        if r.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        data.extend_from_slice(&line);
    }
    let mut played = lock(log);
    played.received.extend_from_slice(&data);
    played.data.push(data);
    Ok(())
}

/// The fault matrix's sessions: a lockstep server (no PIPELINING) that plays a normal
/// session and injects one fault at one stage: hang up, say 421, go silent, or stop
/// reading, at the greeting, EHLO, AUTH, MAIL, a given RCPT, DATA, the middle of the
/// body, after the final dot, or QUIT.
pub mod fault {
    use super::Step;
    use std::time::Duration;

    /// Where the fault happens.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Stage {
        /// Instead of the greeting.
        Greeting,
        /// In answer to EHLO.
        Ehlo,
        /// In answer to AUTH (the client logs in first).
        Auth,
        /// In answer to MAIL.
        Mail,
        /// In answer to the RCPT with this index (0 is the first).
        Rcpt(usize),
        /// In answer to DATA.
        Data,
        /// After the first 64 KiB of the message body.
        MidBody,
        /// After the final `.`, instead of the reply.
        AfterDot,
        /// In answer to QUIT.
        Quit,
    }

    /// What goes wrong.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Fault {
        /// Close the connection without a word.
        Disconnect,
        /// Reply `421` and close.
        Reply421,
        /// Say nothing and keep the connection open, reading.
        Silence,
        /// Stop reading (and replying), keeping the connection open.
        StopReading,
    }

    /// How long a silent or deaf server keeps the connection before giving up.
    const HOLD: Duration = Duration::from_secs(3);

    /// The script of a session with `recipients` RCPTs and `fault` at `stage`.
    pub fn script(stage: Stage, fault: Fault, recipients: usize) -> Vec<Step> {
        let mut steps = Vec::new();
        let at = |here: Stage, verb: &'static str, normal: &[u8], steps: &mut Vec<Step>| {
            if here != stage {
                steps.push(Step::Reply(verb, normal.to_vec()));
                return false;
            }
            if !verb.is_empty() {
                steps.push(Step::Reply(verb, Vec::new()));
            }
            steps.extend(inject(fault));
            true
        };
        if stage == Stage::Greeting {
            return inject(fault);
        }
        steps.push(Step::Send(b"220 fault.test ESMTP\r\n".to_vec()));
        let ehlo = b"250-fault.test\r\n250-AUTH PLAIN\r\n250 SIZE 100000000\r\n";
        if at(Stage::Ehlo, "EHLO", ehlo, &mut steps)
            || (stage == Stage::Auth && at(Stage::Auth, "AUTH", b"", &mut steps))
            || at(Stage::Mail, "MAIL", b"250 2.1.0 ok\r\n", &mut steps)
        {
            return steps;
        }
        for i in 0..recipients {
            if at(Stage::Rcpt(i), "RCPT", b"250 2.1.5 ok\r\n", &mut steps) {
                return steps;
            }
        }
        if at(Stage::Data, "DATA", b"354 go ahead\r\n", &mut steps) {
            return steps;
        }
        match stage {
            Stage::MidBody => {
                steps.push(Step::DataAtLeast(64 * 1024));
                steps.extend(inject(fault));
                return steps;
            }
            Stage::AfterDot => {
                steps.push(Step::Data);
                steps.extend(inject(fault));
                return steps;
            }
            _ => {
                steps.push(Step::Data);
                steps.push(Step::Send(b"250 2.0.0 queued\r\n".to_vec()));
            }
        }
        at(Stage::Quit, "QUIT", b"221 2.0.0 bye\r\n", &mut steps);
        steps
    }

    /// The steps of `fault`, which end the session.
    fn inject(fault: Fault) -> Vec<Step> {
        match fault {
            // Just close (when the script ends): with unread data in the buffer the
            // kernel answers with a reset, as a crashed server's would. A shutdown first
            // would make Linux go on acknowledging (and dropping) what the client sends.
            Fault::Disconnect => Vec::new(),
            Fault::Reply421 => vec![
                Step::Send(b"421 4.3.2 fault.test service shutting down\r\n".to_vec()),
                Step::Shutdown,
            ],
            Fault::Silence => vec![Step::Drain(HOLD), Step::Shutdown],
            Fault::StopReading => vec![Step::Hold(HOLD), Step::Shutdown],
        }
    }
}
