//! Real mail servers for the tests, each on 127.0.0.1 and stopped by its PID when its
//! guard drops: aiosmtpd (from the project's `.venv`, see `scripts/install-test-deps`)
//! and Postfix's `smtp-sink`.

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A fixture's error: what failed, in words.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// A fixture's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Returns an [`Error`] made of a format string.
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err(format!($($arg)*).into())
    };
}

/// Adds what was being done to an error (as anyhow's `Context`, without the crate).
trait Context<T> {
    /// The error, or an absent value, as "`what`: cause".
    fn context(self, what: &str) -> Result<T>;
    /// [`Context::context`] with the words computed only on failure.
    fn with_context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: std::fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, what: &str) -> Result<T> {
        self.map_err(|e| format!("{what}: {e}").into())
    }
    fn with_context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| format!("{}: {e}", what()).into())
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, what: &str) -> Result<T> {
        self.ok_or_else(|| what.into())
    }
    fn with_context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.ok_or_else(|| what().into())
    }
}

/// The workspace root: the nearest folder above the crate that compiles this file
/// (host-test, or smtp-send's tests, which include it by path) holding `host-test/`.
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .find(|dir| dir.join("host-test").join("servers").is_dir())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest.join(".."))
}

/// Reads the message in `file` as a mail client does, with
/// `host-test/servers/mail_check.py` (Python's `email`; with `dkim_txt`, dkimpy's
/// verdict with that TXT record as the selector's), and parses its one JSON line.
pub fn mail_check(file: &Path, dkim_txt: Option<&str>) -> Result<serde_json::Value> {
    let mut cmd = Command::new(python());
    cmd.arg(workspace_root().join("host-test/servers/mail_check.py"))
        .arg(file);
    if let Some(txt) = dkim_txt {
        cmd.args(["--dkim-txt", txt]);
    }
    let out = cmd.output().context("running mail_check.py")?;
    if !out.status.success() {
        bail!(
            "mail_check.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout).context("mail_check.py's JSON")
}

/// The content type of every part [`mail_check`] read, in its order (multipart
/// containers included).
pub fn part_types(checked: &serde_json::Value) -> Vec<&str> {
    checked["parts"]
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .map(|p| p["content_type"].as_str().unwrap_or_default())
                .collect()
        })
        .unwrap_or_default()
}

/// The Python that has aiosmtpd: `$SMTP_TEST_PYTHON`, else the project's `.venv`.
pub fn python() -> PathBuf {
    std::env::var_os("SMTP_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv").join("bin").join("python"))
}

/// Ends a child we started, by its PID, and reaps it.
fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// One message as aiosmtpd stored it.
#[derive(Debug, Clone)]
pub struct Stored {
    /// `{"mail_from", "rcpt_tos", "mail_options", "rcpt_options"}`.
    pub envelope: serde_json::Value,
    /// The message bytes, byte-exact after dot-unstuffing.
    pub bytes: Vec<u8>,
}

impl Stored {
    /// The envelope recipients.
    pub fn rcpt_tos(&self) -> Vec<String> {
        self.envelope["rcpt_tos"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The envelope sender.
    pub fn mail_from(&self) -> String {
        self.envelope["mail_from"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// A running aiosmtpd (`host-test/servers/aiosmtpd_server.py`) that stores every
/// message it accepts.
pub struct Aiosmtpd {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    store: tempfile::TempDir,
}

impl Aiosmtpd {
    /// Starts it with extra command-line options (see the script's `--help`).
    pub fn start(args: &[&str]) -> Result<Aiosmtpd> {
        let store = tempfile::tempdir()?;
        let script = workspace_root().join("host-test/servers/aiosmtpd_server.py");
        let py = python();
        if !py.exists() {
            bail!(
                "no Python with aiosmtpd at {}: run scripts/install-test-deps (or set SMTP_TEST_PYTHON)",
                py.display()
            );
        }
        let mut child = Command::new(&py)
            .arg(&script)
            .arg("--store")
            .arg(store.path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", script.display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let port = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v["port"].as_u64())
            .and_then(|p| u16::try_from(p).ok());
        match port {
            Some(port) => Ok(Aiosmtpd { child, port, store }),
            None => {
                stop(&mut child);
                bail!("aiosmtpd did not report its port (got {line:?})")
            }
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Every message stored so far, in order.
    pub fn messages(&self) -> Vec<Stored> {
        let mut names: Vec<_> = std::fs::read_dir(self.store.path())
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
            .into_iter()
            .filter_map(|eml| {
                let bytes = std::fs::read(&eml).ok()?;
                let json = std::fs::read(eml.with_extension("json")).ok()?;
                Some(Stored {
                    envelope: serde_json::from_slice(&json).ok()?,
                    bytes,
                })
            })
            .collect()
    }

    /// Waits up to 5 s for at least `n` stored messages and returns them.
    pub fn wait_messages(&self, n: usize) -> Vec<Stored> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let got = self.messages();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Aiosmtpd {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// A running Postfix `smtp-sink`: accepts and discards mail, with fault options.
pub struct SmtpSink {
    child: Child,
    /// The loopback address it listens on.
    pub ip: IpAddr,
    /// Its port.
    pub port: u16,
}

/// Where Debian installs `smtp-sink`.
pub fn smtp_sink_path() -> PathBuf {
    ["/usr/sbin/smtp-sink", "/usr/lib/postfix/sbin/smtp-sink"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("smtp-sink"))
}

/// A port on 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> Result<u16> {
    free_port_on(IpAddr::from([127, 0, 0, 1]))
}

/// A port on loopback address `ip` that nothing listens on right now.
pub fn free_port_on(ip: IpAddr) -> Result<u16> {
    Ok(TcpListener::bind((ip, 0))?.local_addr()?.port())
}

impl SmtpSink {
    /// Starts `smtp-sink [args] 127.0.0.1:PORT 64` (args such as `-r` or `-q rcpt`).
    pub fn start(args: &[&str]) -> Result<SmtpSink> {
        SmtpSink::start_on(IpAddr::from([127, 0, 0, 1]), args)
    }

    /// Starts it on the loopback address `ip` (`127.0.0.1` or `::1`).
    pub fn start_on(ip: IpAddr, args: &[&str]) -> Result<SmtpSink> {
        let port = free_port_on(ip)?;
        let listen = match ip {
            IpAddr::V4(v4) => format!("{v4}:{port}"),
            IpAddr::V6(v6) => format!("[{v6}]:{port}"),
        };
        let mut cmd = Command::new(smtp_sink_path());
        // As root, smtp-sink wants a user to drop to.
        if std::env::var("USER").map(|u| u == "root").unwrap_or(false) || is_root() {
            cmd.args(["-u", "nobody"]);
        }
        let mut child = cmd
            .args(args)
            .arg(&listen)
            .arg("64")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting smtp-sink (install postfix: scripts/install-test-deps)")?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect((ip, port)).is_err() {
            if Instant::now() > deadline || matches!(child.try_wait(), Ok(Some(_))) {
                stop(&mut child);
                bail!("smtp-sink did not start listening on port {port}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(SmtpSink { child, ip, port })
    }

    /// `127.0.0.1:PORT` or `[::1]:PORT`.
    pub fn addr(&self) -> String {
        match self.ip {
            IpAddr::V4(v4) => format!("{v4}:{}", self.port),
            IpAddr::V6(v6) => format!("[{v6}]:{}", self.port),
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false)
}

/// Runs one of the fixture scripts in `host-test/servers/` and parses its JSON line.
fn run_fixture(script: &str, args: &[&str]) -> Result<serde_json::Value> {
    let path = workspace_root().join("host-test/servers").join(script);
    let out = Command::new(python())
        .arg(&path)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", path.display()))?;
    if !out.status.success() {
        bail!(
            "{script} {} failed: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let line = String::from_utf8_lossy(&out.stdout);
    Ok(serde_json::from_str(line.trim()).unwrap_or(serde_json::Value::Null))
}

/// Runs `script start` for a private instance in `dir` listening on two fresh ports
/// (given as `flags`), with a certificate, a relay target and `extra` options; returns
/// the two ports.
fn start_instance(
    script: &str,
    dir: &Path,
    flags: [&str; 2],
    cert: &Path,
    key: &Path,
    relay_port: u16,
    extra: &[&str],
) -> Result<(u16, u16)> {
    let ports = (free_port()?, free_port()?);
    let dir = dir.to_string_lossy();
    let (p0, p1) = (ports.0.to_string(), ports.1.to_string());
    let (cert, key) = (cert.to_string_lossy(), key.to_string_lossy());
    let relay = relay_port.to_string();
    let mut all = vec![
        "start",
        "--dir",
        &dir,
        flags[0],
        &p0,
        flags[1],
        &p1,
        "--cert",
        &cert,
        "--key",
        &key,
        "--relay-port",
        &relay,
    ];
    all.extend_from_slice(extra);
    run_fixture(script, &all)?;
    Ok(ports)
}

/// A private Postfix instance (`host-test/servers/postfix_instance.py`): STARTTLS on
/// `smtp_port`, implicit TLS on `smtps_port`, relaying every message it accepts to an
/// SMTP server on 127.0.0.1:`relay_port` (an [`Aiosmtpd`] that stores it). It advertises
/// PIPELINING, SIZE, 8BITMIME, DSN, SMTPUTF8, ENHANCEDSTATUSCODES and CHUNKING.
pub struct Postfix {
    dir: tempfile::TempDir,
    /// Port with STARTTLS.
    pub smtp_port: u16,
    /// Port with TLS from the first byte.
    pub smtps_port: u16,
}

impl Postfix {
    /// Starts it with the given certificate and key files.
    pub fn start(cert: &Path, key: &Path, relay_port: u16) -> Result<Postfix> {
        Postfix::start_with(cert, key, relay_port, &[])
    }

    /// Starts it with more of the script's options, such as `--hold` (accepted
    /// messages stay in the hold queue, where [`Postfix::queue_file`] reads them) or
    /// `--connection-limit N`.
    pub fn start_with(cert: &Path, key: &Path, relay_port: u16, extra: &[&str]) -> Result<Postfix> {
        let dir = tempfile::tempdir()?;
        let (smtp_port, smtps_port) = start_instance(
            "postfix_instance.py",
            dir.path(),
            ["--smtp-port", "--smtps-port"],
            cert,
            key,
            relay_port,
            extra,
        )?;
        Ok(Postfix {
            dir,
            smtp_port,
            smtps_port,
        })
    }

    /// The instance's mail log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// The queue file of the message `queue_id` as `postcat -e -q` prints it (its
    /// envelope records: sender, recipients with their DSN NOTIFY and ORCPT, the DSN
    /// ENVID and RET), or the error.
    pub fn queue_file(&self, queue_id: &str) -> Result<String> {
        let etc = self.dir.path().join("etc");
        let out = Command::new("postcat")
            .arg("-c")
            .arg(&etc)
            .args(["-e", "-q", queue_id])
            .stdin(Stdio::null())
            .output()
            .context("running postcat")?;
        if !out.status.success() {
            bail!(
                "postcat -q {queue_id}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let dir = self.dir.path().to_string_lossy().into_owned();
        let _ = run_fixture("postfix_instance.py", &["stop", "--dir", &dir]);
    }
}

/// A private Dovecot (`host-test/servers/dovecot_instance.py`): submission with STARTTLS
/// and AUTH PLAIN/LOGIN/CRAM-MD5 on `submission_port` (users alice, bob, carol with
/// passwords `alice-pw`, …), relaying to 127.0.0.1:`relay_port`; LMTP on `lmtp_port`
/// (carol is over quota).
pub struct Dovecot {
    dir: tempfile::TempDir,
    /// Submission port (STARTTLS).
    pub submission_port: u16,
    /// LMTP port.
    pub lmtp_port: u16,
}

impl Dovecot {
    /// Starts it with the given certificate and key files.
    pub fn start(cert: &Path, key: &Path, relay_port: u16) -> Result<Dovecot> {
        let dir = tempfile::tempdir()?;
        let (submission_port, lmtp_port) = start_instance(
            "dovecot_instance.py",
            &dir.path().join("dc"),
            ["--submission-port", "--lmtp-port"],
            cert,
            key,
            relay_port,
            &[],
        )?;
        Ok(Dovecot {
            dir,
            submission_port,
            lmtp_port,
        })
    }
}

impl Dovecot {
    /// How many messages Dovecot delivered into `user`'s mailbox.
    pub fn delivered_to(&self, user: &str) -> usize {
        let maildir = self.dir.path().join("dc").join("mail").join(user);
        ["new", "cur"]
            .iter()
            .filter_map(|sub| std::fs::read_dir(maildir.join(sub)).ok())
            .map(|d| d.count())
            .sum()
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let dir = self.dir.path().join("dc").to_string_lossy().into_owned();
        let _ = run_fixture("dovecot_instance.py", &["stop", "--dir", &dir]);
    }
}
