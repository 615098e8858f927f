//! The command line: a small hand-written parser for `smtp-send`'s flags.

use std::ffi::OsString;

use crate::mailer_args::{self, MailerArgs};

/// The usage text printed by `--help`.
pub const USAGE: &str = "\
smtp-send: send mail through the smtp WebAssembly component (Python's smtplib, rebuilt)

Usage:
  smtp-send [--server HOST[:PORT]] [--from ADDR] [--to ADDR]... [--message FILE|-]
            [--mail-option OPT]... [--rcpt-option OPT]... [--local-hostname NAME]
            [--source-address IP] [--timeout SECS] [--debug 0|1|2] [--count N]
            [--reconnect] [--connections N] [--json] [--wasi p2|p3]
            [--tls | --starttls] [--tls-server-name NAME] [--ca-file PEM]
            [--client-cert PEM --client-key PEM] [--unsafe-accept-invalid-certs]
            [--user USER (--password-env VAR | --password-file FILE |
                          --oauth2-token-env VAR)] [--auth-mech MECH]
            [--allow-insecure-auth] [--lmtp] [--send-message]
            [--subject TEXT] [--text FILE] [--html FILE] [--attach FILE]...
            [--cc ADDR]... [--bcc ADDR]... [--reply-to ADDR]... [--header 'N: V']...
            [--dkim-key PEM --dkim-domain D --dkim-selector S [--dkim-algorithm ALG]]
            [--dsn-notify LIST] [--dsn-ret full|hdrs] [--envid ID] [--require-tls]

Without --server, smtp-send starts a small SMTP server inside this process on
127.0.0.1, sends to it with the SMTP transcript on stderr, and prints what it received.

Options:
  --server HOST[:PORT]   the mail server (port 25 by default; IPv6 as [v6]:port)
  --from ADDR            the envelope sender (default smtp-send@localhost)
  --to ADDR              a recipient; repeat for more (required with --server,
                         unless --send-message)
  --message FILE|-       send this file (or stdin) byte for byte; default: a small
                         generated test message
  --message-stream FILE|-
                         send this file (or stdin) byte for byte, streamed: read and
                         sent as it goes (sendmail-stream), so memory stays flat
                         whatever its size; no SIZE= unless given with --mail-option.
                         Needs --wasi p3; prints the guest's memory peak to stderr.
                         From stdin, one message (--count 1)
  --mail-option OPT      an ESMTP option for MAIL FROM, such as BODY=8BITMIME (repeatable)
  --rcpt-option OPT      an ESMTP option for every RCPT TO (repeatable)
  --local-hostname NAME  the name sent in EHLO/HELO (default localhost)
  --source-address IP    the local address to connect from
  --timeout SECS         time limit for connecting and for each read and write
                         (default 60)
  --debug 0|1|2          SMTP transcript on stderr (2 adds timestamps); 1 in demo mode
  --count N              send the message N times over one connection (default 1)
  --reconnect            with --count N: a new connection for each message (connect,
                         any STARTTLS and login, send once, QUIT), N times
  --connections N        spread the --count messages over N connections at once
                         (1 to 1000; connection i sends every N-th message); --json
                         then adds each connection's count and outcome
  --json                 print one JSON object on stdout instead of text
  --wasi p2|p3           which build of the component runs: WASI 0.2 (the default)
                         or WASI 0.3 (async exports; needs smtp-send built with
                         --features p3)
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

Authentication (with --server only: the demo server has no AUTH). After connecting
and any STARTTLS, before sending; a refusal is an error (exit 1) and no mail is sent.
Secrets never go on the command line, and are never printed:
  --user USER            log in as USER; needs exactly one of the next three flags
  --password-env VAR     the password is the value of environment variable VAR
  --password-file FILE   the password is the first line of FILE (without its line end)
  --oauth2-token-env VAR an OAuth 2.0 access token from environment variable VAR,
                         sent with XOAUTH2 (or OAUTHBEARER with --auth-mech)
  --auth-mech MECH       use this mechanism: CRAM-MD5, PLAIN, LOGIN (with a password),
                         XOAUTH2 or OAUTHBEARER (with a token); case-insensitive.
                         Default: CRAM-MD5, PLAIN, LOGIN in turn, among those offered
  --allow-insecure-auth  allow credentials over an unencrypted connection to a host
                         other than loopback (refused by default)
For example, with the password in SMTP_PASSWORD (set from a password manager):
  smtp-send --server mail.example.com:587 --starttls --user me@example.com \\
      --password-env SMTP_PASSWORD --from me@example.com --to you@example.com

LMTP and send-message:
  --lmtp                 speak LMTP (RFC 2033: LHLO, one reply per recipient after the
                         data) instead of SMTP; port 24 by default (with --tls, 465:
                         give the port). Needs --server: the demo server speaks SMTP
                         only. Recipients refused after the data are listed with those
                         refused at RCPT; exit 0 when at least one got the message
  --send-message         take the envelope from the message headers, like smtplib's
                         send_message: the sender from Sender or From, the recipients
                         from To, Cc and Bcc (or from the one Resent- block); Bcc and
                         Resent-Bcc are not sent; SMTPUTF8 is asked for when an
                         address is not ASCII. Needs --message; --from and --to become
                         optional and, when given, replace the headers' envelope
For example, an LMTP delivery, and a message sent to the addresses in its headers:
  smtp-send --server mail.example.com --lmtp --to alice@example.com --message note.eml
  smtp-send --server mail.example.com --send-message --message note.eml

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
    /// `--message-stream`: the file to stream (`-` is stdin), if given (WASI 0.3 only).
    pub message_stream: Option<String>,
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
    /// `--reconnect`: one connection per message instead of one for all of them.
    pub reconnect: bool,
    /// `--connections N`: spread `--count` over N concurrent connections (`None`: one
    /// connection, and no per-connection counts in the output).
    pub connections: Option<u32>,
    /// `--json`: print one JSON object instead of text.
    pub json: bool,
    /// `--wasi`: which build of the component runs (WASI 0.2 by default).
    pub wasi: smtp_host::Wasi,
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
    /// `--user`: the login name.
    pub user: Option<String>,
    /// Where the secret comes from: `--password-env`, `--password-file` or
    /// `--oauth2-token-env` (never the secret itself).
    pub secret: Option<SecretSource>,
    /// `--auth-mech`: the mechanism to force; `None` is the component's `login`.
    pub auth_mech: Option<AuthMech>,
    /// `--allow-insecure-auth`: allow credentials in clear to a non-loopback peer.
    pub allow_insecure_auth: bool,
    /// `--lmtp`: an LMTP client (`lmtp_client`) instead of an SMTP one.
    pub lmtp: bool,
    /// `--send-message`: `send-message` (envelope from the headers) instead of
    /// `sendmail`.
    pub send_message: bool,
    /// The mailer's flags (`--subject`, `--attach`, `--dkim-*`, `--dsn-*`, ...).
    pub mailer: MailerArgs,
}

/// Where the password or token is read from. Only names are held here, so that the
/// secret never shows in `Args` (nor in its `Debug` output).
#[derive(Debug, Clone, PartialEq)]
pub enum SecretSource {
    /// `--password-env VAR`: the password is the value of `VAR`.
    PasswordEnv(String),
    /// `--password-file FILE`: the password is the first line of `FILE`.
    PasswordFile(String),
    /// `--oauth2-token-env VAR`: an OAuth 2.0 access token is the value of `VAR`.
    OAuth2TokenEnv(String),
}

/// A mechanism `--auth-mech` can force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMech {
    CramMd5,
    Plain,
    Login,
    Xoauth2,
    Oauthbearer,
}

impl AuthMech {
    /// Every mechanism with its name, in the order `--help` lists them.
    pub const ALL: [(AuthMech, &'static str); 5] = [
        (AuthMech::CramMd5, "CRAM-MD5"),
        (AuthMech::Plain, "PLAIN"),
        (AuthMech::Login, "LOGIN"),
        (AuthMech::Xoauth2, "XOAUTH2"),
        (AuthMech::Oauthbearer, "OAUTHBEARER"),
    ];

    /// The SASL name, such as `CRAM-MD5`.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(m, _)| *m == self)
            .map_or("?", |(_, n)| n)
    }

    /// Whether the secret is an OAuth 2.0 access token rather than a password.
    pub fn takes_token(self) -> bool {
        matches!(self, AuthMech::Xoauth2 | AuthMech::Oauthbearer)
    }
}

impl Default for Args {
    fn default() -> Self {
        Args {
            server: None,
            from: None,
            to: Vec::new(),
            message: None,
            message_stream: None,
            mail_options: Vec::new(),
            rcpt_options: Vec::new(),
            local_hostname: None,
            source_address: None,
            timeout_ms: None,
            debug: None,
            count: 1,
            reconnect: false,
            connections: None,
            json: false,
            wasi: smtp_host::Wasi::P2,
            tls: false,
            starttls: false,
            tls_server_name: None,
            ca_file: None,
            client_cert: None,
            client_key: None,
            unsafe_accept_invalid_certs: false,
            user: None,
            secret: None,
            auth_mech: None,
            allow_insecure_auth: false,
            lmtp: false,
            send_message: false,
            mailer: MailerArgs::default(),
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
                "--allow-insecure-auth" => args.allow_insecure_auth = true,
                "--lmtp" => args.lmtp = true,
                "--send-message" => args.send_message = true,
                "--reconnect" => args.reconnect = true,
                "--require-tls" => args.mailer.require_tls = true,
                _ => args.unsafe_accept_invalid_certs = true,
            }
            continue;
        }
        let flag = flag_name(name).ok_or_else(|| unknown_option(name))?;
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
        let repeatable = matches!(flag, "--to" | "--mail-option" | "--rcpt-option")
            || mailer_args::repeatable(flag);
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
            "--message-stream" => args.message_stream = Some(value),
            "--mail-option" => args.mail_options.push(value),
            "--rcpt-option" => args.rcpt_options.push(value),
            "--local-hostname" => args.local_hostname = Some(value),
            "--source-address" => args.source_address = Some(value),
            "--timeout" => args.timeout_ms = Some(parse_timeout(&value)?),
            "--debug" => args.debug = Some(parse_debug(&value)?),
            "--count" => args.count = parse_count(&value)?,
            "--connections" => args.connections = Some(parse_connections(&value)?),
            "--wasi" => args.wasi = parse_wasi(&value)?,
            "--tls-server-name" => args.tls_server_name = Some(value),
            "--ca-file" => args.ca_file = Some(value),
            "--client-cert" => args.client_cert = Some(value),
            "--client-key" => args.client_key = Some(value),
            "--user" => args.user = Some(value),
            "--password-env" | "--password-file" | "--oauth2-token-env" => {
                if let Some(other) = &args.secret {
                    return Err(format!(
                        "{} and {flag} exclude each other: give one of them",
                        secret_flag(other)
                    ));
                }
                args.secret = Some(match flag {
                    "--password-env" => SecretSource::PasswordEnv(value),
                    "--password-file" => SecretSource::PasswordFile(value),
                    _ => SecretSource::OAuth2TokenEnv(value),
                });
            }
            "--auth-mech" => args.auth_mech = Some(parse_auth_mech(&value)?),
            _ if mailer_args::FLAGS.contains(&flag) => args.mailer.set(flag, value)?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if args.server.is_some() && args.to.is_empty() && !args.send_message {
        return Err(
            "--to is required with --server (give at least one recipient, or \
             --send-message to take them from the message headers)"
                .into(),
        );
    }
    if args.lmtp && args.server.is_none() {
        return Err("--lmtp needs --server: the demo server (no --server) speaks SMTP only".into());
    }
    if args.send_message && args.message.is_none() {
        return Err(
            "--send-message needs --message FILE|- (the envelope comes from its headers)".into(),
        );
    }
    check_tls(&args)?;
    check_auth(&args)?;
    if args.message_stream.is_some() {
        if args.wasi != smtp_host::Wasi::P3 {
            return Err(
                "--message-stream needs --wasi p3 (sendmail-stream is in the WASI 0.3 build only)"
                    .into(),
            );
        }
        if args.message.is_some()
            || args.send_message
            || args.connections.is_some()
            || args.server.is_none()
        {
            return Err("--message-stream needs --server, and goes without --message, --send-message and --connections".into());
        }
        // The body is sent as it is read: nothing can build, sign or mark it.
        if args.mailer.composes() || args.mailer.has_options() {
            return Err(
                "--message-stream sends the file as it is: it works with neither the \
                 message-building flags nor --dkim-*, --dsn-*, --envid, --require-tls"
                    .into(),
            );
        }
        // Stdin can be read once: a second message from it would be empty.
        if args.message_stream.as_deref() == Some("-") && args.count != 1 {
            return Err("--message-stream - (stdin) sends one message: --count must be 1".into());
        }
    }
    args.mailer
        .check(args.message.is_some(), args.send_message)?;
    Ok(Command::Run(Box::new(args)))
}

/// The error for an unknown option, with a hint for those who try to give a password
/// on the command line.
fn unknown_option(name: &str) -> String {
    if ["pass", "password", "passwd", "pw", "token", "secret"].contains(&name) {
        format!(
            "unknown option --{name}: secrets are not taken on the command line; \
             use --password-env VAR, --password-file FILE or --oauth2-token-env VAR"
        )
    } else {
        format!("unknown option --{name}")
    }
}

/// The flag a secret source came from.
fn secret_flag(source: &SecretSource) -> &'static str {
    match source {
        SecretSource::PasswordEnv(_) => "--password-env",
        SecretSource::PasswordFile(_) => "--password-file",
        SecretSource::OAuth2TokenEnv(_) => "--oauth2-token-env",
    }
}

/// The rules between the authentication flags: none of them in demo mode, `--user`
/// with exactly one secret source and the other flags only with `--user`, a password
/// for CRAM-MD5, PLAIN and LOGIN, a token for XOAUTH2 and OAUTHBEARER.
fn check_auth(args: &Args) -> Result<(), String> {
    let auth_flags = [
        ("--user", args.user.is_some()),
        (
            "--password-env",
            matches!(args.secret, Some(SecretSource::PasswordEnv(_))),
        ),
        (
            "--password-file",
            matches!(args.secret, Some(SecretSource::PasswordFile(_))),
        ),
        (
            "--oauth2-token-env",
            matches!(args.secret, Some(SecretSource::OAuth2TokenEnv(_))),
        ),
        ("--auth-mech", args.auth_mech.is_some()),
        ("--allow-insecure-auth", args.allow_insecure_auth),
    ];
    let first = auth_flags.iter().find(|(_, given)| *given).map(|(f, _)| *f);
    if args.server.is_none() {
        return match first {
            Some(flag) => Err(format!(
                "{flag} needs --server: the demo server (no --server) has no AUTH"
            )),
            None => Ok(()),
        };
    }
    if args.user.is_none() {
        return match first {
            Some(flag) => Err(format!("{flag} needs --user")),
            None => Ok(()),
        };
    }
    let Some(secret) = &args.secret else {
        return Err(
            "--user needs one of --password-env VAR, --password-file FILE or \
             --oauth2-token-env VAR"
                .into(),
        );
    };
    let token = matches!(secret, SecretSource::OAuth2TokenEnv(_));
    match args.auth_mech {
        Some(mech) if mech.takes_token() && !token => Err(format!(
            "--auth-mech {} takes an OAuth 2.0 access token: give it with \
             --oauth2-token-env VAR instead of {}",
            mech.name(),
            secret_flag(secret)
        )),
        Some(mech) if !mech.takes_token() && token => Err(format!(
            "--oauth2-token-env works with --auth-mech XOAUTH2 or OAUTHBEARER, not {}",
            mech.name()
        )),
        _ => Ok(()),
    }
}

/// `--auth-mech MECH`, case-insensitive.
fn parse_auth_mech(value: &str) -> Result<AuthMech, String> {
    AuthMech::ALL
        .iter()
        .find(|(_, name)| name.eq_ignore_ascii_case(value.trim()))
        .map(|(m, _)| *m)
        .ok_or_else(|| {
            let names: Vec<&str> = AuthMech::ALL.iter().map(|(_, n)| *n).collect();
            format!("--auth-mech: {value:?} must be one of {}", names.join(", "))
        })
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
    const SWITCHES: [&str; 7] = [
        "--tls",
        "--starttls",
        "--unsafe-accept-invalid-certs",
        "--allow-insecure-auth",
        "--lmtp",
        "--send-message",
        "--reconnect",
    ];
    SWITCHES
        .into_iter()
        .chain(mailer_args::SWITCHES)
        .find(|f| f.get(2..) == Some(name))
}

/// The canonical spelling of a flag that takes a value, if `name` is one.
fn flag_name(name: &str) -> Option<&'static str> {
    const FLAGS: [&str; 23] = [
        "--server",
        "--from",
        "--to",
        "--message",
        "--message-stream",
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
        "--user",
        "--password-env",
        "--password-file",
        "--oauth2-token-env",
        "--auth-mech",
        "--connections",
        "--wasi",
    ];
    FLAGS
        .into_iter()
        .chain(mailer_args::FLAGS)
        .find(|f| f.get(2..) == Some(name))
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

/// `--wasi p2|p3`.
fn parse_wasi(value: &str) -> Result<smtp_host::Wasi, String> {
    match value.trim() {
        "p2" | "0.2" => Ok(smtp_host::Wasi::P2),
        "p3" | "0.3" => Ok(smtp_host::Wasi::P3),
        _ => Err(format!("--wasi: {value:?} must be p2 or p3")),
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

/// The most `--connections` takes.
pub const MAX_CONNECTIONS: u32 = 1000;

/// `--connections N`: a whole number from 1 to [`MAX_CONNECTIONS`].
fn parse_connections(value: &str) -> Result<u32, String> {
    match value.trim().parse::<u32>() {
        Ok(n) if (1..=MAX_CONNECTIONS).contains(&n) => Ok(n),
        _ => Err(format!(
            "--connections: {value:?} must be a whole number from 1 to {MAX_CONNECTIONS}"
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
    fn message_stream_from_stdin_is_one_message() {
        let base = [
            "--wasi", "p3", "--server", "h", "--to", "b@x", "--count", "2",
        ];
        let with = |m: &str| {
            let mut v = base.to_vec();
            v.extend(["--message-stream", m]);
            run(&v)
        };
        assert!(with("-").unwrap_err().contains("--count must be 1"));
        assert_eq!(with("m.eml").map(|a| a.count), Ok(2));
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
    fn the_mailer_flags_work_on_both_builds_but_not_with_message_stream() {
        let extras = [
            &["--subject", "hi"][..],
            &["--require-tls"],
            &["--envid", "x"],
        ];
        for wasi in ["p2", "p3"] {
            let base = ["--server", "h", "--to", "b@x", "--wasi", wasi];
            for extra in extras {
                let argv: Vec<&str> = base.iter().chain(extra).copied().collect();
                let a = run(&argv).unwrap();
                assert!(a.mailer.composes() || a.mailer.has_options(), "{extra:?}");
            }
        }
        let base = ["--server", "h", "--to", "b@x", "--wasi", "p3"];
        for extra in extras {
            let argv: Vec<&str> = base
                .iter()
                .chain(&["--message-stream", "m.eml"])
                .chain(extra)
                .copied()
                .collect();
            assert!(
                run(&argv)
                    .unwrap_err()
                    .contains("--message-stream sends the file"),
                "{extra:?}"
            );
        }
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
    fn auth_flags() {
        let server = ["--server", "h", "--to", "b@x", "--user", "alice"];
        let with = |more: &[&str]| run(&[&server[..], more].concat());
        let a = with(&["--password-env", "PW", "--auth-mech", "cram-md5"]).unwrap();
        assert_eq!(a.user.as_deref(), Some("alice"));
        assert_eq!(a.secret, Some(SecretSource::PasswordEnv("PW".into())));
        assert_eq!(a.auth_mech, Some(AuthMech::CramMd5));
        assert!(!a.allow_insecure_auth);
        let a = with(&["--password-file=pw.txt", "--allow-insecure-auth"]).unwrap();
        assert_eq!(a.secret, Some(SecretSource::PasswordFile("pw.txt".into())));
        assert_eq!(a.auth_mech, None);
        assert!(a.allow_insecure_auth);
        let a = with(&["--oauth2-token-env", "TOK", "--auth-mech", "OAuthBearer"]).unwrap();
        assert_eq!(a.secret, Some(SecretSource::OAuth2TokenEnv("TOK".into())));
        assert_eq!(a.auth_mech, Some(AuthMech::Oauthbearer));
        for (name, mech) in [("PLAIN", AuthMech::Plain), ("login", AuthMech::Login)] {
            let a = with(&["--password-env", "PW", "--auth-mech", name]).unwrap();
            assert_eq!(a.auth_mech, Some(mech));
            assert_eq!(mech.name(), name.to_ascii_uppercase());
        }
        let a = with(&["--oauth2-token-env", "TOK", "--auth-mech", "xoauth2"]).unwrap();
        assert_eq!(a.auth_mech, Some(AuthMech::Xoauth2));
    }

    #[test]
    fn bad_auth_usage_is_refused() {
        let server = ["--server", "h", "--to", "b@x"];
        let with = |more: &[&str]| run(&[&server[..], more].concat());
        let e = with(&["--user", "a"]).unwrap_err();
        assert!(e.contains("--user needs one of --password-env"), "{e}");
        for (flags, says) in [
            (
                &["--user", "a", "--password-env", "A", "--password-file", "f"][..],
                "exclude",
            ),
            (
                &[
                    "--user",
                    "a",
                    "--password-file",
                    "f",
                    "--oauth2-token-env",
                    "T",
                ],
                "exclude",
            ),
            (
                &["--user", "a", "--password-env", "A", "--password-env", "B"],
                "more than once",
            ),
            (&["--password-env", "A"], "--password-env needs --user"),
            (&["--password-file", "f"], "--password-file needs --user"),
            (
                &["--oauth2-token-env", "T"],
                "--oauth2-token-env needs --user",
            ),
            (&["--auth-mech", "PLAIN"], "--auth-mech needs --user"),
            (
                &["--allow-insecure-auth"],
                "--allow-insecure-auth needs --user",
            ),
            (&["--allow-insecure-auth=yes"], "takes no value"),
            (
                &[
                    "--user",
                    "a",
                    "--password-env",
                    "A",
                    "--auth-mech",
                    "GSSAPI",
                ],
                "one of CRAM-MD5",
            ),
            (
                &[
                    "--user",
                    "a",
                    "--password-env",
                    "A",
                    "--auth-mech",
                    "XOAUTH2",
                ],
                "token",
            ),
            (
                &[
                    "--user",
                    "a",
                    "--password-file",
                    "f",
                    "--auth-mech",
                    "oauthbearer",
                ],
                "token",
            ),
            (
                &[
                    "--user",
                    "a",
                    "--oauth2-token-env",
                    "T",
                    "--auth-mech",
                    "LOGIN",
                ],
                "not LOGIN",
            ),
            (&["--password", "hunter2"], "--password-env VAR"),
        ] {
            let e = with(flags).unwrap_err();
            assert!(e.contains(says), "{flags:?}: {e}");
            assert!(!e.contains("hunter2"), "{flags:?}: {e}");
        }
        for flag in [
            &["--user", "a", "--password-env", "A"][..],
            &["--password-file", "f"],
            &["--oauth2-token-env", "T"],
            &["--auth-mech", "PLAIN"],
            &["--allow-insecure-auth"],
        ] {
            let e = run(flag).unwrap_err();
            assert!(e.contains("needs --server") && e.contains("no AUTH"), "{e}");
        }
    }

    #[test]
    fn lmtp_and_send_message_flags() {
        let a = run(&["--server", "h", "--to", "b@x", "--lmtp"]).unwrap();
        assert!(a.lmtp && !a.send_message);
        let a = run(&[
            "--server",
            "h",
            "--lmtp",
            "--starttls",
            "--send-message",
            "--message",
            "m.eml",
        ])
        .unwrap();
        assert!(a.lmtp && a.send_message && a.starttls);
        assert!(a.to.is_empty() && a.from.is_none());
        // In demo mode too, as long as there is a message.
        let a = run(&["--send-message", "--message", "-"]).unwrap();
        assert!(a.send_message && a.server.is_none());
    }

    #[test]
    fn bad_lmtp_and_send_message_usage_is_refused() {
        let e = run(&["--lmtp"]).unwrap_err();
        assert!(e.contains("--lmtp needs --server"), "{e}");
        let e = run(&["--send-message"]).unwrap_err();
        assert!(e.contains("--send-message needs --message"), "{e}");
        let e = run(&["--server", "h", "--send-message"]).unwrap_err();
        assert!(e.contains("--send-message needs --message"), "{e}");
        let e = run(&["--server", "h", "--lmtp", "--message", "m"]).unwrap_err();
        assert!(e.contains("--to is required"), "{e}");
        assert!(run(&["--lmtp=yes"]).unwrap_err().contains("takes no value"));
    }

    #[test]
    fn connections_flag() {
        let a = run(&["--count", "20", "--connections", "4"]).unwrap();
        assert_eq!((a.count, a.connections), (20, Some(4)));
        assert_eq!(run(&["--connections=1"]).unwrap().connections, Some(1));
        assert_eq!(run(&[]).unwrap().connections, None);
        for bad in ["0", "-1", "x", "1001"] {
            assert!(run(&["--connections", bad]).is_err(), "{bad}");
        }
        assert!(run(&["--connections", "2", "--connections", "3"]).is_err());
    }

    #[test]
    fn reconnect_flag() {
        let a = run(&[
            "--server",
            "h",
            "--to",
            "b@x",
            "--count",
            "4",
            "--reconnect",
        ])
        .unwrap();
        assert!(a.reconnect);
        assert_eq!(a.count, 4);
        assert!(!run(&["--count", "2"]).unwrap().reconnect);
        assert!(run(&["--reconnect"]).unwrap().reconnect);
        assert!(run(&["--reconnect=yes"])
            .unwrap_err()
            .contains("takes no value"));
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
