//! The command line: a small hand-written parser for `smtp-send`'s flags.

use std::ffi::OsString;

/// The usage text printed by `--help`.
pub const USAGE: &str = "\
smtp-send: send mail through the smtp WebAssembly component (Python's smtplib, rebuilt)

Usage:
  smtp-send [--server HOST[:PORT]] [--from ADDR] [--to ADDR]... [--message FILE|-]
            [--mail-option OPT]... [--rcpt-option OPT]... [--local-hostname NAME]
            [--source-address IP] [--timeout SECS] [--debug 0|1|2] [--count N] [--json]
            [--tls | --starttls] [--tls-server-name NAME] [--ca-file PEM]
            [--client-cert PEM --client-key PEM] [--unsafe-accept-invalid-certs]

Without --server, smtp-send starts a small SMTP server inside this process on
127.0.0.1, sends to it with the SMTP transcript on stderr, and prints what it received.

Options:
  --server HOST[:PORT]   the mail server (port 25 by default; IPv6 as [v6]:port)
  --from ADDR            the envelope sender (default smtp-send@localhost)
  --to ADDR              a recipient; repeat for more (required with --server)
  --message FILE|-       send this file (or stdin) byte for byte; default: a small
                         generated test message
  --mail-option OPT      an ESMTP option for MAIL FROM, such as BODY=8BITMIME (repeatable)
  --rcpt-option OPT      an ESMTP option for every RCPT TO (repeatable)
  --local-hostname NAME  the name sent in EHLO/HELO (default localhost)
  --source-address IP    the local address to connect from
  --timeout SECS         time limit for connecting and for each read and write
                         (default 60)
  --debug 0|1|2          SMTP transcript on stderr (2 adds timestamps); 1 in demo mode
  --count N              send the message N times over one connection (default 1)
  --json                 print one JSON object on stdout instead of text
  -h, --help             print this help

TLS (with --server only: the demo server has no TLS):
  --tls                  TLS from the first byte (SMTPS, like smtplib's SMTP_SSL);
                         port 465 by default
  --starttls             connect in clear, then STARTTLS before sending anything
                         else; fails (exit 1) if the server does not offer it
  --tls-server-name NAME the name to verify the certificate against and send as SNI
                         (default: the host of --server), e.g. to connect to an IP
  --ca-file PEM          trust the certificates in this PEM file too (added to the
                         built-in Mozilla roots)
  --client-cert PEM      present this client certificate chain (needs --client-key)
  --client-key PEM       the private key of --client-cert
  --unsafe-accept-invalid-certs
                         UNSAFE, for tests only: accept any certificate for any
                         name, which makes TLS worthless against an attacker
The certificate flags need --tls or --starttls.

Exit status: 0 every message was accepted (for at least one recipient),
             1 an SMTP error, 2 bad usage or a failure of the host itself.
";

/// Everything the command line asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Args {
    /// `--server`: the server to connect to; `None` is demo mode.
    pub server: Option<String>,
    /// `--from`: the envelope sender, if given.
    pub from: Option<String>,
    /// `--to`: the recipients, in order.
    pub to: Vec<String>,
    /// `--message`: the file to send (`-` is stdin), if given.
    pub message: Option<String>,
    /// `--mail-option`: ESMTP options for MAIL FROM.
    pub mail_options: Vec<String>,
    /// `--rcpt-option`: ESMTP options for every RCPT TO.
    pub rcpt_options: Vec<String>,
    /// `--local-hostname`: the name for EHLO/HELO.
    pub local_hostname: Option<String>,
    /// `--source-address`: the local IP address to bind to.
    pub source_address: Option<String>,
    /// `--timeout`, converted to whole milliseconds (rounded up, at least 1).
    pub timeout_ms: Option<u32>,
    /// `--debug`: the component's debug level (0, 1 or 2).
    pub debug: Option<u8>,
    /// `--count`: how many times to send the message (at least 1).
    pub count: u32,
    /// `--json`: print one JSON object instead of text.
    pub json: bool,
    /// `--tls`: TLS from the first byte (`connect-tls`).
    pub tls: bool,
    /// `--starttls`: STARTTLS right after connecting.
    pub starttls: bool,
    /// `--tls-server-name`: the name to verify and send as SNI.
    pub tls_server_name: Option<String>,
    /// `--ca-file`: a PEM file of extra trusted roots.
    pub ca_file: Option<String>,
    /// `--client-cert`: a PEM file with the client certificate chain.
    pub client_cert: Option<String>,
    /// `--client-key`: a PEM file with the client certificate's private key.
    pub client_key: Option<String>,
    /// `--unsafe-accept-invalid-certs`: accept any server certificate (tests only).
    pub unsafe_accept_invalid_certs: bool,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            server: None,
            from: None,
            to: Vec::new(),
            message: None,
            mail_options: Vec::new(),
            rcpt_options: Vec::new(),
            local_hostname: None,
            source_address: None,
            timeout_ms: None,
            debug: None,
            count: 1,
            json: false,
            tls: false,
            starttls: false,
            tls_server_name: None,
            ca_file: None,
            client_cert: None,
            client_key: None,
            unsafe_accept_invalid_certs: false,
        }
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Send mail.
    Run(Box<Args>),
    /// Print [`USAGE`] and exit.
    Help,
}

/// Whether `--json` is among the raw arguments, so that even a usage error can be
/// reported as JSON.
pub fn wants_json(raw: &[OsString]) -> bool {
    raw.iter().any(|a| a == "--json")
}

/// Parses the arguments (without the program name). The error is a one-line message.
pub fn parse(raw: &[OsString]) -> Result<Command, String> {
    let mut args = Args::default();
    let mut seen: Vec<&'static str> = Vec::new();
    let mut iter = raw.iter();
    while let Some(arg) = iter.next() {
        let arg = arg
            .to_str()
            .ok_or_else(|| format!("argument {arg:?} is not valid UTF-8"))?;
        if arg == "-h" || arg == "--help" {
            return Ok(Command::Help);
        }
        if arg == "--json" {
            args.json = true;
            continue;
        }
        let Some(body) = arg.strip_prefix("--") else {
            return Err(format!("unexpected argument {arg:?}"));
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        if let Some(switch) = switch_name(name) {
            if inline.is_some() {
                return Err(format!("{switch} takes no value"));
            }
            match switch {
                "--tls" => args.tls = true,
                "--starttls" => args.starttls = true,
                _ => args.unsafe_accept_invalid_certs = true,
            }
            continue;
        }
        let flag = flag_name(name).ok_or_else(|| format!("unknown option --{name}"))?;
        let value = match inline {
            Some(v) => v,
            None => match iter.next() {
                Some(v) => v
                    .to_str()
                    .ok_or_else(|| format!("the value of {flag} is not valid UTF-8"))?
                    .to_string(),
                None => return Err(format!("{flag} needs a value")),
            },
        };
        let repeatable = matches!(flag, "--to" | "--mail-option" | "--rcpt-option");
        if !repeatable {
            if seen.contains(&flag) {
                return Err(format!("{flag} given more than once"));
            }
            seen.push(flag);
        }
        match flag {
            "--server" => args.server = Some(value),
            "--from" => args.from = Some(value),
            "--to" => args.to.push(value),
            "--message" => args.message = Some(value),
            "--mail-option" => args.mail_options.push(value),
            "--rcpt-option" => args.rcpt_options.push(value),
            "--local-hostname" => args.local_hostname = Some(value),
            "--source-address" => args.source_address = Some(value),
            "--timeout" => args.timeout_ms = Some(parse_timeout(&value)?),
            "--debug" => args.debug = Some(parse_debug(&value)?),
            "--count" => args.count = parse_count(&value)?,
            "--tls-server-name" => args.tls_server_name = Some(value),
            "--ca-file" => args.ca_file = Some(value),
            "--client-cert" => args.client_cert = Some(value),
            "--client-key" => args.client_key = Some(value),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if args.server.is_some() && args.to.is_empty() {
        return Err("--to is required with --server (give at least one recipient)".into());
    }
    check_tls(&args)?;
    Ok(Command::Run(Box::new(args)))
}

/// The rules between the TLS flags: `--tls` or `--starttls` (not both), the certificate
/// flags only with one of them, the client certificate and key together, and none of
/// them in demo mode.
fn check_tls(args: &Args) -> Result<(), String> {
    let cert_flags = [
        ("--tls-server-name", args.tls_server_name.is_some()),
        ("--ca-file", args.ca_file.is_some()),
        ("--client-cert", args.client_cert.is_some()),
        ("--client-key", args.client_key.is_some()),
        (
            "--unsafe-accept-invalid-certs",
            args.unsafe_accept_invalid_certs,
        ),
    ];
    let first_cert_flag = cert_flags.iter().find(|(_, given)| *given).map(|(f, _)| *f);
    if args.server.is_none() {
        let tls_flag = [("--tls", args.tls), ("--starttls", args.starttls)]
            .into_iter()
            .find(|(_, given)| *given)
            .map(|(f, _)| f)
            .or(first_cert_flag);
        if let Some(flag) = tls_flag {
            return Err(format!(
                "{flag} needs --server: the demo server (no --server) has no TLS"
            ));
        }
        return Ok(());
    }
    if args.tls && args.starttls {
        return Err("--tls and --starttls exclude each other: give one of them".into());
    }
    if let Some(flag) = first_cert_flag {
        if !args.tls && !args.starttls {
            return Err(format!("{flag} needs --tls or --starttls"));
        }
    }
    match (&args.client_cert, &args.client_key) {
        (Some(_), None) => Err("--client-cert needs --client-key".into()),
        (None, Some(_)) => Err("--client-key needs --client-cert".into()),
        _ => Ok(()),
    }
}

/// The canonical spelling of a flag that takes no value (other than `--json`), if
/// `name` is one.
fn switch_name(name: &str) -> Option<&'static str> {
    const SWITCHES: [&str; 3] = ["--tls", "--starttls", "--unsafe-accept-invalid-certs"];
    SWITCHES.into_iter().find(|f| f.get(2..) == Some(name))
}

/// The canonical spelling of a flag that takes a value, if `name` is one.
fn flag_name(name: &str) -> Option<&'static str> {
    const FLAGS: [&str; 15] = [
        "--server",
        "--from",
        "--to",
        "--message",
        "--mail-option",
        "--rcpt-option",
        "--local-hostname",
        "--source-address",
        "--timeout",
        "--debug",
        "--count",
        "--tls-server-name",
        "--ca-file",
        "--client-cert",
        "--client-key",
    ];
    FLAGS.into_iter().find(|f| f.get(2..) == Some(name))
}

/// `--timeout SECS`: a positive, finite number of seconds, as milliseconds rounded up.
fn parse_timeout(value: &str) -> Result<u32, String> {
    let secs: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("--timeout: {value:?} is not a number of seconds"))?;
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!("--timeout: {value:?} must be more than 0 seconds"));
    }
    let ms = (secs * 1000.0).ceil();
    if ms > f64::from(u32::MAX) {
        return Err(format!("--timeout: {value:?} is too long"));
    }
    // In range 1..=u32::MAX and integral, so the conversion is exact.
    Ok(ms as u32)
}

/// `--debug 0|1|2`.
fn parse_debug(value: &str) -> Result<u8, String> {
    match value.trim() {
        "0" => Ok(0),
        "1" => Ok(1),
        "2" => Ok(2),
        _ => Err(format!("--debug: {value:?} must be 0, 1 or 2")),
    }
}

/// `--count N`: a whole number, at least 1.
fn parse_count(value: &str) -> Result<u32, String> {
    match value.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "--count: {value:?} must be a whole number from 1 to {}",
            u32::MAX
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Args, String> {
        let raw: Vec<OsString> = args.iter().map(OsString::from).collect();
        match parse(&raw)? {
            Command::Run(a) => Ok(*a),
            Command::Help => Err("help".into()),
        }
    }

    #[test]
    fn defaults_are_demo_mode() {
        assert_eq!(run(&[]), Ok(Args::default()));
    }

    #[test]
    fn every_flag() {
        let a = run(&[
            "--server",
            "[::1]:2525",
            "--from=a@x",
            "--to",
            "b@x",
            "--to",
            "c@x",
            "--message",
            "-",
            "--mail-option",
            "BODY=8BITMIME",
            "--rcpt-option",
            "NOTIFY=NEVER",
            "--local-hostname",
            "me.example",
            "--source-address",
            "127.0.0.1",
            "--timeout",
            "1.5",
            "--debug",
            "2",
            "--count",
            "3",
            "--json",
        ])
        .unwrap();
        assert_eq!(a.server.as_deref(), Some("[::1]:2525"));
        assert_eq!(a.from.as_deref(), Some("a@x"));
        assert_eq!(a.to, ["b@x", "c@x"]);
        assert_eq!(a.message.as_deref(), Some("-"));
        assert_eq!(a.mail_options, ["BODY=8BITMIME"]);
        assert_eq!(a.rcpt_options, ["NOTIFY=NEVER"]);
        assert_eq!(a.local_hostname.as_deref(), Some("me.example"));
        assert_eq!(a.source_address.as_deref(), Some("127.0.0.1"));
        assert_eq!(a.timeout_ms, Some(1500));
        assert_eq!(a.debug, Some(2));
        assert_eq!(a.count, 3);
        assert!(a.json);
    }

    #[test]
    fn bad_usage_is_refused() {
        assert!(run(&["--server", "h"]).unwrap_err().contains("--to"));
        assert!(run(&["--bogus"]).unwrap_err().contains("unknown"));
        assert!(run(&["stray"]).is_err());
        assert!(run(&["--from"]).unwrap_err().contains("needs a value"));
        assert!(run(&["--from", "a", "--from", "b"]).is_err());
        for t in ["0", "-1", "nan", "inf", "x", "1e10"] {
            assert!(run(&["--timeout", t]).is_err(), "{t}");
        }
        assert!(run(&["--debug", "3"]).is_err());
        assert!(run(&["--count", "0"]).is_err());
        assert!(run(&["--count", "-2"]).is_err());
    }

    #[test]
    fn tls_flags() {
        let a = run(&[
            "--server",
            "127.0.0.1:465",
            "--to",
            "b@x",
            "--tls",
            "--tls-server-name",
            "mail.example",
            "--ca-file=ca.pem",
            "--client-cert",
            "c.pem",
            "--client-key",
            "k.pem",
            "--unsafe-accept-invalid-certs",
        ])
        .unwrap();
        assert!(a.tls && !a.starttls && a.unsafe_accept_invalid_certs);
        assert_eq!(a.tls_server_name.as_deref(), Some("mail.example"));
        assert_eq!(a.ca_file.as_deref(), Some("ca.pem"));
        assert_eq!(a.client_cert.as_deref(), Some("c.pem"));
        assert_eq!(a.client_key.as_deref(), Some("k.pem"));
        let a = run(&[
            "--server",
            "h",
            "--to",
            "b@x",
            "--starttls",
            "--ca-file",
            "ca.pem",
        ])
        .unwrap();
        assert!(a.starttls && !a.tls);
        assert_eq!(a.ca_file.as_deref(), Some("ca.pem"));
    }

    #[test]
    fn bad_tls_usage_is_refused() {
        let server = ["--server", "h", "--to", "b@x"];
        let with = |more: &[&str]| run(&[&server[..], more].concat());
        assert!(with(&["--tls", "--starttls"])
            .unwrap_err()
            .contains("exclude"));
        assert!(with(&["--tls=yes"]).unwrap_err().contains("takes no value"));
        for flag in [
            &["--tls-server-name", "n"][..],
            &["--ca-file", "f"],
            &["--client-cert", "c", "--client-key", "k"],
            &["--unsafe-accept-invalid-certs"],
        ] {
            let e = with(flag).unwrap_err();
            assert!(e.contains("needs --tls or --starttls"), "{e}");
        }
        assert!(with(&["--tls", "--client-cert", "c"])
            .unwrap_err()
            .contains("needs --client-key"));
        assert!(with(&["--starttls", "--client-key", "k"])
            .unwrap_err()
            .contains("needs --client-cert"));
        for flag in [
            &["--tls"][..],
            &["--starttls"],
            &["--ca-file", "f"],
            &["--unsafe-accept-invalid-certs"],
        ] {
            let e = run(flag).unwrap_err();
            assert!(e.contains("demo server") && e.contains("no TLS"), "{e}");
        }
    }

    #[test]
    fn timeout_rounds_up() {
        assert_eq!(run(&["--timeout", "0.0001"]).unwrap().timeout_ms, Some(1));
        assert_eq!(run(&["--timeout", "30"]).unwrap().timeout_ms, Some(30000));
    }

    #[test]
    fn help_stops_parsing() {
        let raw: Vec<OsString> = ["--bogus", "--help"].iter().map(OsString::from).collect();
        assert_eq!(parse(&raw), Err("unknown option --bogus".into()));
        let raw: Vec<OsString> = ["--help", "--bogus"].iter().map(OsString::from).collect();
        assert_eq!(parse(&raw), Ok(Command::Help));
    }
}
