//! A scripted SMTP server that plays a normal session and injects one fault at one
//! stage, for what real servers do not do on demand: hang up, say 421, go silent, or
//! stop reading, at the greeting, EHLO, AUTH, MAIL, a given RCPT, DATA, the middle of
//! the body, after the final dot, or QUIT. It serves one connection on 127.0.0.1 and
//! ends by itself (every wait is bounded).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

/// Where the fault happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Instead of the greeting.
    Greeting,
    /// In answer to EHLO.
    Ehlo,
    /// In answer to AUTH.
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
    /// Say nothing and keep the connection open.
    Silence,
    /// Stop reading (and replying), keeping the connection open.
    StopReading,
}

/// How long a silent or deaf server keeps the connection before giving up.
const HOLD: Duration = Duration::from_secs(3);

/// A running fault server.
pub struct FaultServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    thread: Option<JoinHandle<()>>,
}

impl FaultServer {
    /// Starts a server that injects `fault` at `stage`.
    pub fn start(stage: Stage, fault: Fault) -> std::io::Result<FaultServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let thread = std::thread::spawn(move || {
            if let Ok((stream, _)) = listener.accept() {
                let _ = serve(stream, stage, fault);
            }
        });
        Ok(FaultServer {
            port,
            thread: Some(thread),
        })
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        // Unblock a server still waiting to accept, then let its thread end.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Applies `fault` and ends the session.
fn inject(stream: &mut TcpStream, fault: Fault) {
    match fault {
        // Just close (when the session ends): with unread data in the buffer the kernel
        // answers with a reset, as a crashed server's would. A shutdown() first would
        // make Linux go on acknowledging (and dropping) what the client sends.
        Fault::Disconnect => return,
        Fault::Reply421 => {
            let _ = stream.write_all(b"421 4.3.2 fault.test service shutting down\r\n");
        }
        Fault::Silence => {
            // Read (and ignore) whatever comes until the client gives up.
            let _ = stream.set_read_timeout(Some(HOLD));
            let mut buf = [0u8; 4096];
            while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
        }
        Fault::StopReading => std::thread::sleep(HOLD),
    }
    let _ = stream.shutdown(Shutdown::Both);
}

fn serve(mut stream: TcpStream, stage: Stage, fault: Fault) -> std::io::Result<()> {
    stream.set_read_timeout(Some(HOLD))?;
    stream.set_nodelay(true)?;
    if stage == Stage::Greeting {
        inject(&mut stream, fault);
        return Ok(());
    }
    stream.write_all(b"220 fault.test ESMTP\r\n")?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut rcpt = 0;
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let verb = String::from_utf8_lossy(&line).to_ascii_uppercase();
        let (here, reply): (bool, &[u8]) = if verb.starts_with("EHLO") {
            (
                stage == Stage::Ehlo,
                b"250-fault.test\r\n250-AUTH PLAIN\r\n250 SIZE 100000000\r\n",
            )
        } else if verb.starts_with("HELO") {
            (stage == Stage::Ehlo, b"250 fault.test\r\n")
        } else if verb.starts_with("AUTH") {
            (stage == Stage::Auth, b"235 2.7.0 ok\r\n")
        } else if verb.starts_with("MAIL") {
            (stage == Stage::Mail, b"250 2.1.0 ok\r\n")
        } else if verb.starts_with("RCPT") {
            rcpt += 1;
            (stage == Stage::Rcpt(rcpt - 1), b"250 2.1.5 ok\r\n")
        } else if verb.starts_with("DATA") {
            (stage == Stage::Data, b"354 go ahead\r\n")
        } else if verb.starts_with("QUIT") {
            (stage == Stage::Quit, b"221 2.0.0 bye\r\n")
        } else {
            (false, b"250 2.0.0 ok\r\n")
        };
        if here {
            inject(&mut stream, fault);
            return Ok(());
        }
        stream.write_all(reply)?;
        if verb.starts_with("QUIT") {
            return Ok(());
        }
        if verb.starts_with("DATA") {
            read_body(&mut reader, &mut stream, stage, fault)?;
            if matches!(stage, Stage::MidBody | Stage::AfterDot) {
                return Ok(());
            }
            stream.write_all(b"250 2.0.0 queued\r\n")?;
        }
    }
}

/// Reads the message up to the final dot, injecting a body-stage fault.
fn read_body(
    reader: &mut BufReader<TcpStream>,
    stream: &mut TcpStream,
    stage: Stage,
    fault: Fault,
) -> std::io::Result<()> {
    let mut seen = 0usize;
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        seen += line.len();
        if stage == Stage::MidBody && seen >= 64 * 1024 {
            inject(stream, fault);
            return Ok(());
        }
        if line == b".\r\n" {
            if stage == Stage::AfterDot {
                inject(stream, fault);
            }
            return Ok(());
        }
    }
}
