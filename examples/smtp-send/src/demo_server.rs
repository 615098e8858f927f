//! The demo mode's mail server: a small SMTP server (RFC 5321) on 127.0.0.1, run in
//! threads of this process, that accepts every sender and recipient and keeps the
//! messages in memory so that `smtp-send` can show what arrived.
//!
//! It speaks EHLO (advertising SIZE, 8BITMIME and HELP), HELO, MAIL, RCPT, DATA, RSET,
//! NOOP, HELP and QUIT. Lines may end in CRLF or a bare LF. Command lines, message size,
//! recipients per message, connections and the store are all capped, so a client cannot
//! make it eat memory.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The largest message accepted, in bytes (as advertised with SIZE).
pub const MAX_MESSAGE: usize = 10 * 1024 * 1024;
/// The longest command line, CRLF included (RFC 5321 allows 512; options may add more).
const MAX_COMMAND_LINE: usize = 2048;
/// Recipients per message.
const MAX_RECIPIENTS: usize = 1000;
/// Messages kept in memory.
const MAX_STORED_MESSAGES: usize = 1000;
/// Bytes of message data kept in memory.
const MAX_STORED_BYTES: usize = 64 * 1024 * 1024;
/// Connections served at once.
const MAX_CONNECTIONS: usize = 8;
/// How long a client may stay silent before it is disconnected.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The name the server gives itself.
const HOSTNAME: &str = "smtp-send.demo";

/// One message the server accepted: its envelope and its data after dot-unstuffing
/// (with the final CRLF before the terminating `.` kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The reverse-path of MAIL FROM, without the angle brackets.
    pub mail_from: String,
    /// The forward-paths of the accepted RCPT TO commands, in order.
    pub rcpt_tos: Vec<String>,
    /// The message bytes.
    pub data: Vec<u8>,
}

/// The messages received so far and their total size.
#[derive(Default)]
struct Store {
    messages: Vec<Received>,
    bytes: usize,
}

/// A running demo server. It serves until the process exits.
pub struct DemoServer {
    addr: SocketAddr,
    store: Arc<Mutex<Store>>,
}

impl DemoServer {
    /// Binds 127.0.0.1 on a port the system chooses and starts serving in a thread.
    pub fn start() -> io::Result<DemoServer> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let store = Arc::new(Mutex::new(Store::default()));
        let shared = Arc::clone(&store);
        std::thread::Builder::new()
            .name("demo-smtp-accept".into())
            .spawn(move || accept_loop(&listener, &shared))?;
        Ok(DemoServer { addr, store })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A copy of the messages received so far, in the order they were accepted.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.store).messages.clone()
    }
}

/// Locks the store, even if a connection thread panicked while holding it (the store is
/// only ever appended to, so it is consistent either way).
fn lock(store: &Mutex<Store>) -> MutexGuard<'_, Store> {
    store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Accepts connections forever, serving each in its own thread.
fn accept_loop(listener: &TcpListener, store: &Arc<Mutex<Store>>) {
    let active = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        let Ok(mut stream) = conn else {
            // Out of file descriptors and the like: wait a little rather than spin.
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            let _ = stream.write_all(b"421 4.7.0 Too many connections, try again later\r\n");
            continue;
        }
        let store = Arc::clone(store);
        let counter = Arc::clone(&active);
        let spawned = std::thread::Builder::new()
            .name("demo-smtp-session".into())
            .spawn(move || {
                let _ = serve(stream, &store);
                counter.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// One line read from the client.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// A whole line, with its line ending.
    Full(Vec<u8>),
    /// A line longer than the limit; it was read and thrown away.
    TooLong,
    /// The client closed the connection (a partial last line is dropped).
    Eof,
}

/// Reads up to and including the next LF, keeping at most `max` bytes in memory.
fn read_line(reader: &mut impl BufRead, max: usize) -> io::Result<Line> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(Line::Eof);
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(lf) => (lf + 1, true),
            None => (buf.len(), false),
        };
        if !too_long {
            if line.len() + take > max {
                too_long = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(&buf[..take]);
            }
        }
        reader.consume(take);
        if done {
            return Ok(if too_long {
                Line::TooLong
            } else {
                Line::Full(line)
            });
        }
    }
}

/// The state of one SMTP session.
#[derive(Default)]
struct Session {
    greeted: bool,
    mail_from: Option<String>,
    rcpt_tos: Vec<String>,
}

impl Session {
    fn reset(&mut self) {
        self.mail_from = None;
        self.rcpt_tos.clear();
    }
}

/// Serves one client until QUIT, end of file, an I/O error or the idle timeout.
fn serve(stream: TcpStream, store: &Mutex<Store>) -> io::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    stream.set_write_timeout(Some(IDLE_TIMEOUT))?;
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut session = Session::default();
    out.write_all(format!("220 {HOSTNAME} ESMTP smtp-send demo server\r\n").as_bytes())?;
    loop {
        let line = match read_line(&mut reader, MAX_COMMAND_LINE)? {
            Line::Eof => return Ok(()),
            Line::TooLong => {
                out.write_all(b"500 5.5.2 Error: line too long\r\n")?;
                continue;
            }
            Line::Full(line) => line,
        };
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        let (verb, rest) = text.split_once(' ').unwrap_or((text, ""));
        let reply = match verb.to_ascii_uppercase().as_str() {
            "EHLO" | "HELO" if rest.trim().is_empty() => {
                format!("501 5.5.4 Syntax: {} hostname", verb.to_ascii_uppercase())
            }
            "EHLO" => {
                session.reset();
                session.greeted = true;
                format!(
                    "250-{HOSTNAME} Hello {}\r\n250-SIZE {MAX_MESSAGE}\r\n250-8BITMIME\r\n250 HELP",
                    rest.trim()
                )
            }
            "HELO" => {
                session.reset();
                session.greeted = true;
                format!("250 {HOSTNAME}")
            }
            "MAIL" => mail(&mut session, rest),
            "RCPT" => rcpt(&mut session, rest),
            "DATA" if !rest.trim().is_empty() => "501 5.5.4 Syntax: DATA".into(),
            "DATA" if session.mail_from.is_none() => "503 5.5.1 Error: need MAIL command".into(),
            "DATA" if session.rcpt_tos.is_empty() => "503 5.5.1 Error: need RCPT command".into(),
            "DATA" => {
                out.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
                match read_data(&mut reader)? {
                    None => return Ok(()),
                    Some(data) => {
                        let reply = store_message(&mut session, data, store);
                        session.reset();
                        reply
                    }
                }
            }
            "RSET" => {
                session.reset();
                "250 2.0.0 Ok".into()
            }
            "NOOP" => "250 2.0.0 Ok".into(),
            "HELP" => "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP HELP QUIT".into(),
            "QUIT" => {
                out.write_all(b"221 2.0.0 Bye\r\n")?;
                return Ok(());
            }
            "" => "500 5.5.2 Error: bad syntax".into(),
            _ => "502 5.5.2 Error: command not recognized".into(),
        };
        // One write per reply: a second write before the client answers would wait
        // ~40 ms for its delayed ACK (Nagle).
        out.write_all(format!("{reply}\r\n").as_bytes())?;
    }
}

/// Splits `FROM:<path> params` (or `TO:`) into the path and the parameters.
fn parse_path<'a>(rest: &'a str, keyword: &str) -> Option<(&'a str, Vec<&'a str>)> {
    let head = rest.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let after = rest.get(keyword.len()..)?.trim_start();
    let inner = after.strip_prefix('<')?;
    let close = inner.find('>')?;
    let path = inner.get(..close)?;
    let params = inner.get(close + 1..)?;
    if !params.is_empty() && !params.starts_with(' ') {
        return None;
    }
    Some((path, params.split_whitespace().collect()))
}

/// MAIL FROM: starts a transaction.
fn mail(session: &mut Session, rest: &str) -> String {
    if !session.greeted {
        return "503 5.5.1 Error: send HELO/EHLO first".into();
    }
    if session.mail_from.is_some() {
        return "503 5.5.1 Error: nested MAIL command".into();
    }
    let Some((path, params)) = parse_path(rest, "FROM:") else {
        return "501 5.5.4 Syntax: MAIL FROM:<address>".into();
    };
    for param in params {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        match key.to_ascii_uppercase().as_str() {
            "SIZE" => match value.parse::<u64>() {
                Ok(size) if size > MAX_MESSAGE as u64 => {
                    return "552 5.3.4 Message size exceeds fixed limit".into()
                }
                Ok(_) => {}
                Err(_) => return "501 5.5.4 Bad SIZE parameter".into(),
            },
            "BODY" if value.eq_ignore_ascii_case("7BIT") => {}
            "BODY" if value.eq_ignore_ascii_case("8BITMIME") => {}
            "BODY" => return "501 5.5.4 Bad BODY parameter".into(),
            _ => return format!("555 5.5.4 Unsupported option: {param}"),
        }
    }
    session.mail_from = Some(path.to_string());
    "250 2.1.0 Ok".into()
}

/// RCPT TO: adds a recipient to the transaction.
fn rcpt(session: &mut Session, rest: &str) -> String {
    if session.mail_from.is_none() {
        return "503 5.5.1 Error: need MAIL command".into();
    }
    let Some((path, params)) = parse_path(rest, "TO:") else {
        return "501 5.5.4 Syntax: RCPT TO:<address>".into();
    };
    if path.is_empty() {
        return "501 5.1.3 Bad recipient address syntax".into();
    }
    if let Some(param) = params.first() {
        return format!("555 5.5.4 Unsupported option: {param}");
    }
    if session.rcpt_tos.len() >= MAX_RECIPIENTS {
        return "452 4.5.3 Error: too many recipients".into();
    }
    session.rcpt_tos.push(path.to_string());
    "250 2.1.5 Ok".into()
}

/// Reads message data up to the line `.` CRLF, undoing dot-stuffing. `Ok(None)` when the
/// client hung up first; `Ok(Some(None))` when the message was too big (it was read and
/// thrown away).
fn read_data(reader: &mut impl BufRead) -> io::Result<Option<Option<Vec<u8>>>> {
    let mut data = Vec::new();
    let mut too_big = false;
    loop {
        let line = match read_line(reader, MAX_MESSAGE + 3)? {
            Line::Eof => return Ok(None),
            Line::TooLong => {
                too_big = true;
                data = Vec::new();
                continue;
            }
            Line::Full(line) => line,
        };
        if line == b".\r\n" {
            return Ok(Some((!too_big).then_some(data)));
        }
        if too_big {
            continue;
        }
        let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
        if data.len() + unstuffed.len() > MAX_MESSAGE {
            too_big = true;
            data = Vec::new();
        } else {
            data.extend_from_slice(unstuffed);
        }
    }
}

/// Keeps a message (`None`: it was too big) and gives the reply to its data.
fn store_message(session: &mut Session, data: Option<Vec<u8>>, store: &Mutex<Store>) -> String {
    let Some(data) = data else {
        return "552 5.3.4 Error: message too big".into();
    };
    let mut store = lock(store);
    if store.messages.len() >= MAX_STORED_MESSAGES || store.bytes + data.len() > MAX_STORED_BYTES {
        return "452 4.3.1 Insufficient system storage".into();
    }
    store.bytes += data.len();
    store.messages.push(Received {
        mail_from: session.mail_from.take().unwrap_or_default(),
        rcpt_tos: std::mem::take(&mut session.rcpt_tos),
        data,
    });
    format!("250 2.0.0 Ok: queued as {}", store.messages.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Sends `input` in one go, half-closes, and returns everything the server wrote.
    fn converse(server: &DemoServer, input: &[u8]) -> String {
        let mut s = TcpStream::connect(server.addr()).unwrap();
        s.write_all(input).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn a_whole_session() {
        let server = DemoServer::start().unwrap();
        let out = converse(
            &server,
            b"EHLO me\r\nMAIL FROM:<a@x> SIZE=20 BODY=8BITMIME\r\nRCPT TO:<b@y>\r\n\
              RCPT TO:<c@z>\r\nDATA\r\nSubject: t\r\n\r\n..dot\r\n..\r\nbare\n..lf\r\n\xff\r\n.\r\n\
              NOOP\r\nVRFY x\r\nQUIT\r\nNOOP\r\n",
        );
        let codes: Vec<&str> = out.lines().map(|l| l.get(..4).unwrap_or(l)).collect();
        assert_eq!(
            codes,
            [
                "220 ", "250-", "250-", "250-", "250 ", "250 ", "250 ", "250 ", "354 ", "250 ",
                "250 ", "502 ", "221 "
            ]
        );
        assert!(out.contains("250-SIZE 10485760\r\n250-8BITMIME\r\n250 HELP\r\n"));
        assert!(out.contains("250 2.0.0 Ok: queued as 1\r\n"));
        assert_eq!(
            server.received(),
            [Received {
                mail_from: "a@x".into(),
                rcpt_tos: vec!["b@y".into(), "c@z".into()],
                data: b"Subject: t\r\n\r\n.dot\r\n.\r\nbare\n.lf\r\n\xff\r\n".to_vec(),
            }]
        );
    }

    #[test]
    fn sequence_and_syntax_errors() {
        let server = DemoServer::start().unwrap();
        let out = converse(
            &server,
            b"MAIL FROM:<a@x>\r\nHELO\r\nHELO me\r\nRCPT TO:<b@y>\r\nDATA\r\nMAIL FROM:a@x\r\n\
              MAIL FROM:<> SIZE=99999999\r\nMAIL FROM:<> FOO\r\nMAIL FROM:<>\r\nMAIL FROM:<>\r\n\
              DATA\r\nRCPT TO:<>\r\nRSET\r\nDATA\r\n\r\n",
        );
        let codes: Vec<&str> = out.lines().map(|l| l.get(..3).unwrap_or(l)).collect();
        assert_eq!(
            codes,
            [
                "220", "503", "501", "250", "503", "503", "501", "552", "555", "250", "503", "503",
                "501", "250", "503", "500"
            ]
        );
        assert!(server.received().is_empty());
    }

    #[test]
    fn long_lines_and_big_messages_are_capped() {
        let server = DemoServer::start().unwrap();
        let mut input = b"EHLO me\r\n".to_vec();
        input.extend(vec![b'x'; MAX_COMMAND_LINE + 1]);
        input.extend_from_slice(b"\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n");
        let chunk = vec![b'y'; 1 << 20];
        for _ in 0..11 {
            input.extend_from_slice(&chunk);
            input.extend_from_slice(b"\r\n");
        }
        input.extend_from_slice(b".\r\nQUIT\r\n");
        let out = converse(&server, &input);
        assert!(out.contains("500 5.5.2 Error: line too long\r\n"), "{out}");
        assert!(
            out.contains("552 5.3.4 Error: message too big\r\n"),
            "{out}"
        );
        assert!(out.ends_with("221 2.0.0 Bye\r\n"), "{out}");
        assert!(server.received().is_empty());
    }

    #[test]
    fn read_line_keeps_endings_and_drops_partial_lines() {
        let mut r: &[u8] = b"a\r\nb\nccccc\nd";
        assert_eq!(read_line(&mut r, 4).unwrap(), Line::Full(b"a\r\n".to_vec()));
        assert_eq!(read_line(&mut r, 4).unwrap(), Line::Full(b"b\n".to_vec()));
        assert_eq!(read_line(&mut r, 4).unwrap(), Line::TooLong);
        assert_eq!(read_line(&mut r, 4).unwrap(), Line::Eof);
    }
}
