//! `smtp-send`: sends mail through the smtp WebAssembly component (Python's smtplib
//! rebuilt as a component), run in wasmtime by the `smtp-host` crate, which embeds the component in
//! this binary.
//!
//! Without `--server` it runs a demo: it starts a small SMTP server in this process,
//! sends to it with the SMTP transcript on stderr, and prints what the server received.
//! With `--lmtp` it speaks LMTP, and with `--send-message` it takes the envelope from
//! the message headers (smtplib's `send_message`).
//! See the README for the flags, the `--json` contract and the exit codes.

mod args;
mod calls;
mod connections;
mod demo_server;
mod mailer_args;
mod message;
mod report;

use std::ffi::OsString;
use std::process::ExitCode;

use smtp_host::{
    AsyncClient, ClientOptions, Delivery, Mail, MailOptions, Message, Refusal, SaslMechanism,
    SmtpHost, SourceAddress, Stderr, TlsConfig,
};

use crate::args::{Args, AuthMech, Command, SecretSource};
use crate::calls::Calls;
use crate::demo_server::DemoServer;
use crate::report::{Failure, Outcome};

/// The sender when `--from` is not given.
const DEFAULT_FROM: &str = "smtp-send@localhost";
/// The recipient in demo mode when `--to` is not given.
const DEMO_TO: &str = "demo@localhost";

fn main() -> ExitCode {
    let raw: Vec<OsString> = std::env::args_os().skip(1).collect();
    let args = match args::parse(&raw) {
        Ok(Command::Run(args)) => args,
        Ok(Command::Help) => {
            // The mailer's flags go before the exit status, which ends the text.
            let at = args::USAGE
                .find("Exit status:")
                .unwrap_or(args::USAGE.len());
            let (head, tail) = args::USAGE.split_at(at);
            print!("{head}{}\n{tail}", mailer_args::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            if args::wants_json(&raw) {
                Outcome::host(0, format!("bad usage: {message}")).print(true);
            } else {
                eprintln!("smtp-send: {message}\nTry 'smtp-send --help'.");
            }
            return ExitCode::from(2);
        }
    };
    let outcome = run(&args);
    outcome.print(args.json);
    ExitCode::from(outcome.exit_code())
}

/// Runs the command: demo mode when no `--server` is given, otherwise a plain send.
fn run(args: &Args) -> Outcome {
    let message = match args.message.as_deref().map(message::read).transpose() {
        Ok(m) => m,
        Err(e) => return Outcome::host(0, e),
    };
    match &args.server {
        Some(server) => send(args, server, &args.to, message),
        None => {
            let demo = match DemoServer::start() {
                Ok(d) => d,
                Err(e) => return Outcome::host(0, format!("starting the demo server: {e}")),
            };
            // With --send-message the recipients come from the headers unless given.
            let to = if args.to.is_empty() && !args.send_message {
                vec![DEMO_TO.to_string()]
            } else {
                args.to.clone()
            };
            let demo_args = Args {
                debug: args.debug.or(Some(1)),
                ..args.clone()
            };
            let outcome = send(&demo_args, &demo.addr().to_string(), &to, message);
            Outcome {
                received: Some(demo.received()),
                ..outcome
            }
        }
    }
}

/// The `tls-config` the TLS flags ask for, with the PEM files read in.
fn tls_config(args: &Args) -> Result<TlsConfig, String> {
    let read = |flag: &str, path: &Option<String>| {
        path.as_deref()
            .map(|p| {
                std::fs::read_to_string(p).map_err(|e| format!("reading {flag} file {p}: {e}"))
            })
            .transpose()
    };
    Ok(TlsConfig {
        server_name: args.tls_server_name.clone(),
        extra_roots_pem: read("--ca-file", &args.ca_file)?,
        client_cert_pem: read("--client-cert", &args.client_cert)?,
        client_key_pem: read("--client-key", &args.client_key)?,
        unsafe_accept_invalid_certs: args.unsafe_accept_invalid_certs,
    })
}

/// A password or access token. Its `Debug` output hides it.
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Reads the secret `source` names: an environment variable's value, or a file's first
/// line without its line end. Errors name the variable or file, never the content.
fn read_secret(source: &SecretSource) -> Result<Secret, String> {
    let from_env = |flag: &str, var: &str| match std::env::var_os(var) {
        None => Err(format!("{flag}: environment variable {var} is not set")),
        Some(v) => v
            .into_string()
            .map(Secret)
            .map_err(|_| format!("{flag}: environment variable {var} is not valid UTF-8")),
    };
    match source {
        SecretSource::PasswordEnv(var) => from_env("--password-env", var),
        SecretSource::OAuth2TokenEnv(var) => from_env("--oauth2-token-env", var),
        SecretSource::PasswordFile(path) => {
            let bytes = std::fs::read(path)
                .map_err(|e| format!("reading --password-file file {path}: {e}"))?;
            let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            String::from_utf8(line.to_vec()).map(Secret).map_err(|_| {
                format!("--password-file file {path}: the first line is not valid UTF-8")
            })
        }
    }
}

/// The component's mechanism for `--auth-mech`.
fn sasl_mechanism(mech: AuthMech) -> SaslMechanism {
    match mech {
        AuthMech::CramMd5 => SaslMechanism::CramMd5,
        AuthMech::Plain => SaslMechanism::Plain,
        AuthMech::Login => SaslMechanism::Login,
        AuthMech::Xoauth2 => SaslMechanism::Xoauth2,
        AuthMech::Oauthbearer => SaslMechanism::Oauthbearer,
    }
}

/// The mechanism to force, if any: `--auth-mech`, or XOAUTH2 for an access token.
fn forced_mechanism(args: &Args) -> Option<AuthMech> {
    match (&args.secret, args.auth_mech) {
        (_, Some(mech)) => Some(mech),
        (Some(SecretSource::OAuth2TokenEnv(_)), None) => Some(AuthMech::Xoauth2),
        _ => None,
    }
}

/// Connects to `server` (with TLS from the first byte for `--tls`, or upgrading with
/// STARTTLS for `--starttls`), logs in for `--user`, sends the message `args.count`
/// times (with `sendmail`, or `send-message` for `--send-message`) and quits; an LMTP
/// client for `--lmtp`. With `--reconnect` each message gets a connection of its own
/// (connect, STARTTLS, login, send, QUIT, `args.count` times) on the same client. With
/// `--connections N` the messages are spread over N connections at once
/// ([`connections::run`]). With `--send-message`, an empty `to` and no `--from` leave
/// the envelope to the message headers. The outcome has how many messages were
/// accepted, whether the connection was encrypted, the refusals of the last message or
/// the failure, and on success the time from the first connect to the last QUIT;
/// `received` is left `None`.
fn send(args: &Args, server: &str, to: &[String], message: Option<Vec<u8>>) -> Outcome {
    // The mailer's message and options, with their files read before connecting.
    let from_addr = args.from.as_deref().unwrap_or(DEFAULT_FROM);
    let mail = if args.mailer.composes() {
        match args.mailer.mail(from_addr, to) {
            Ok(m) => Some(m),
            Err(e) => return Outcome::host(0, e),
        }
    } else {
        None
    };
    let mail_options = if mail.is_none() && args.mailer.has_options() {
        match args.mailer.options() {
            Ok(o) => Some(o),
            Err(e) => return Outcome::host(0, e),
        }
    } else {
        None
    };
    let wants_tls = args.tls || args.starttls;
    let config = if wants_tls {
        match tls_config(args) {
            Ok(c) => c,
            Err(e) => return Outcome::host(0, e),
        }
    } else {
        TlsConfig::default()
    };
    // Read before connecting, so that a missing secret costs no connection.
    let credentials = match (&args.user, &args.secret) {
        (Some(user), Some(source)) => match read_secret(source) {
            Ok(secret) => Some((user.clone(), secret)),
            Err(e) => return Outcome::host(0, e),
        },
        _ => None,
    };
    let job = Job {
        args: args.clone(),
        server: server.to_string(),
        to: to.to_vec(),
        config,
        credentials,
        from: args.from.clone().unwrap_or_else(|| DEFAULT_FROM.into()),
        fixed: message.map(Message::Bytes),
        mail,
        mail_options,
    };
    if let Some(n) = args.connections {
        return connections::run(job, n);
    }
    let host = match SmtpHost::shared_wasi(args.wasi) {
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
        let mut client = match new_client(host, &job).await {
            Ok(c) => c,
            Err(outcome) => return outcome,
        };
        let (connections, per_connection) = if args.reconnect {
            (args.count, 1)
        } else {
            (1, args.count)
        };
        let started = std::time::Instant::now();
        let mut sent = 0;
        let mut last = None;
        // The guest's linear memory peak (the one instance's) goes into the JSON.
        let peak =
            |client: &AsyncClient| Some(u64::try_from(client.peak_memory()).unwrap_or(u64::MAX));
        for _ in 0..connections {
            let outcome = session(&mut client, &job, sent, per_connection).await;
            sent += outcome.sent;
            if outcome.result.is_err() {
                return Outcome {
                    sent,
                    guest_memory_peak_bytes: peak(&client),
                    ..outcome
                };
            }
            last = Some(outcome);
        }
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        match last {
            Some(outcome) => Outcome {
                sent,
                elapsed_ms: Some(elapsed_ms),
                guest_memory_peak_bytes: peak(&client),
                ..outcome
            },
            None => Outcome::host(sent, "no connection was made (--count 0)"),
        }
    });
    Outcome {
        instances: Some(host.instances()),
        ..outcome
    }
}

/// A failure of the host before anything was sent: a load failure or a trap.
fn host_fail(what: &str, e: &dyn std::fmt::Display) -> Outcome {
    Outcome {
        sent: 0,
        result: Err(host_failure(what, &e)),
        tls: None,
        received: None,
        elapsed_ms: None,
        delivery: None,
        connections: None,
        instances: None,
        guest_memory_peak_bytes: None,
    }
}

/// The client options the flags ask for.
fn client_options(args: &Args) -> ClientOptions {
    ClientOptions {
        local_hostname: args.local_hostname.clone(),
        timeout_ms: args.timeout_ms,
        source_address: args
            .source_address
            .clone()
            .map(|ip| SourceAddress { ip, port: 0 }),
    }
}

/// A new client (LMTP for `--lmtp`) on `host`, set up as the flags ask.
async fn new_client(host: &SmtpHost, job: &Job) -> Result<AsyncClient, Outcome> {
    let options = client_options(&job.args);
    let created = if job.args.lmtp {
        host.async_lmtp_client(&options, Stderr::Inherit).await
    } else {
        host.async_client(&options, Stderr::Inherit).await
    };
    let mut client = created.map_err(|e| host_fail("creating the client", &e))?;
    set_up(&mut client, &job.args).await?;
    Ok(client)
}

/// `--debug` and `--allow-insecure-auth` on a new client.
async fn set_up(client: &mut impl Calls, args: &Args) -> Result<(), Outcome> {
    if let Some(level) = args.debug {
        if let Err(e) = client.set_debuglevel(level).await {
            return Err(host_fail("set-debuglevel trapped", &e));
        }
    }
    if args.allow_insecure_auth {
        if let Err(e) = client.allow_insecure_auth(true).await {
            return Err(host_fail("allow-insecure-auth trapped", &e));
        }
    }
    Ok(())
}

/// What every connection of a run needs.
struct Job {
    args: Args,
    server: String,
    to: Vec<String>,
    config: TlsConfig,
    credentials: Option<(String, Secret)>,
    from: String,
    /// `--message` as read, or `None` for a generated message per send.
    fixed: Option<Message>,
    /// The message the mailer builds from parts (`--subject`, `--text`, ...).
    mail: Option<Mail>,
    /// DKIM, DSN and REQUIRETLS for `--message` or the generated message.
    mail_options: Option<MailOptions>,
}

/// One connection: connect (and STARTTLS), log in, send the message `count` times
/// (generated ones numbered from `before + 1`) and quit. The outcome's `sent` counts
/// this connection's messages only.
async fn session(client: &mut impl Calls, job: &Job, before: u32, count: u32) -> Outcome {
    let args = &job.args;
    let (server, to) = (job.server.as_str(), job.to.as_slice());
    let mut delivery: Option<Delivery> = None;
    let done = |sent: u32, tls: Option<bool>, result: Result<Vec<Refusal>, Failure>| Outcome {
        sent,
        result,
        tls,
        received: None,
        elapsed_ms: None,
        delivery: None,
        connections: None,
        instances: None,
        guest_memory_peak_bytes: None,
    };
    let fail = host_fail;
    let wants_tls = args.tls || args.starttls;
    let (connected, call) = if args.tls {
        (
            client.connect_tls(server, None, &job.config).await,
            "connect-tls",
        )
    } else {
        (client.connect(server, None).await, "connect")
    };
    match connected {
        Ok(Ok(_greeting)) => {}
        Ok(Err(e)) => {
            let _ = client.close().await;
            return done(0, None, Err(Failure::Smtp(e)));
        }
        Err(e) => return fail(&format!("{call} trapped"), &e),
    }
    if args.starttls {
        match client.starttls(&job.config).await {
            Ok(Ok(_reply)) => {}
            Ok(Err(e)) => {
                // Nothing more may go out in clear, not even QUIT: just hang up.
                let _ = client.close().await;
                return done(0, None, Err(Failure::Smtp(e)));
            }
            Err(e) => return fail("starttls trapped", &e),
        }
    }
    let tls = match client.is_tls().await {
        Ok(t) => t,
        Err(e) => return fail("is-tls trapped", &e),
    };
    if wants_tls && !tls {
        // The component said the handshake succeeded; never send mail in clear anyway.
        let _ = client.close().await;
        let flag = if args.tls { "--tls" } else { "--starttls" };
        return Outcome::host(
            0,
            format!("the connection is not encrypted after {flag}: refusing to send"),
        );
    }
    if let Some((user, secret)) = &job.credentials {
        // Like smtplib: let PLAIN and LOGIN send their first response with AUTH.
        let (logged_in, call) = match forced_mechanism(args) {
            Some(mech) => (
                client
                    .login_with(sasl_mechanism(mech), user, &secret.0, true)
                    .await,
                "login-with",
            ),
            None => (client.login(user, &secret.0, true).await, "login"),
        };
        match logged_in {
            Ok(Ok(_reply)) => {}
            Ok(Err(e)) => {
                let _ = client.quit().await;
                let _ = client.close().await;
                return done(0, Some(tls), Err(Failure::Smtp(e)));
            }
            Err(e) => {
                return done(
                    0,
                    Some(tls),
                    Err(host_failure(&format!("{call} trapped"), &e)),
                )
            }
        }
    }

    let from = job.from.as_str();
    let mut sent = 0;
    let mut refused = Vec::new();
    for seq in before + 1..=before + count {
        let generated;
        let msg = match &job.fixed {
            Some(m) => m,
            None => {
                generated = Message::Bytes(message::generate(from, to, seq));
                &generated
            }
        };
        let (result, call) = if let Some(path) = &args.message_stream {
            (
                client.stream_message(args, from, to, path).await,
                "sendmail-stream",
            )
        } else if args.send_message {
            let bytes = match msg {
                Message::Bytes(b) => b.as_slice(),
                Message::Text(t) => t.as_bytes(),
            };
            // Only what was given overrides the headers.
            let to = (!to.is_empty()).then_some(to);
            let result = client
                .send_message(
                    bytes,
                    args.from.as_deref(),
                    to,
                    &args.mail_options,
                    &args.rcpt_options,
                )
                .await;
            (
                result.map(|r| r.map(|refused| (refused, None))),
                "send-message",
            )
        } else if let Some(mail) = &job.mail {
            (
                with_delivery(client.send_mail(mail).await),
                "mailer.send-with",
            )
        } else if let Some(options) = &job.mail_options {
            let bytes = match msg {
                Message::Bytes(b) => b.as_slice(),
                Message::Text(t) => t.as_bytes(),
            };
            let result = client.send_bytes_with(from, to, bytes, options).await;
            (with_delivery(result), "mailer.send-bytes-with")
        } else {
            let result = client
                .sendmail_report(from, to, msg, &args.mail_options, &args.rcpt_options)
                .await;
            (with_delivery(result), "sendmail-report")
        };
        match result {
            Ok(Ok((r, d))) => {
                sent += 1;
                refused = r;
                delivery = d;
            }
            Ok(Err(e)) => {
                let _ = client.quit().await;
                let _ = client.close().await;
                return done(sent, Some(tls), Err(Failure::Smtp(e)));
            }
            Err(e) => {
                return done(
                    sent,
                    Some(tls),
                    Err(host_failure(&format!("{call} trapped"), &e)),
                )
            }
        }
    }

    match client.quit().await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            // Every message was already accepted: warn, but do not fail the run.
            eprintln!("smtp-send: warning: QUIT failed: {}: {e:?}", e.kind());
            let _ = client.close().await;
        }
        Err(e) => return done(sent, Some(tls), Err(host_failure("quit trapped", &e))),
    }
    Outcome {
        delivery,
        ..done(sent, Some(tls), Ok(refused))
    }
}

/// A call's delivery report as the refusals (what `sendmail` returns) and the report.
/// `--message-stream`: `sendmail-stream` with the body read from `path` (`-`: stdin)
/// as the component asks for it; then the guest's memory peak to stderr.
#[cfg(feature = "p3")]
async fn stream_message(
    client: &mut AsyncClient,
    args: &Args,
    from: &str,
    to: &[String],
    path: &str,
) -> smtp_host::Call<(Vec<Refusal>, Option<Delivery>)> {
    let body: Box<dyn tokio::io::AsyncRead + Send + Unpin> = if path == "-" {
        Box::new(tokio::io::stdin())
    } else {
        match tokio::fs::File::open(path).await {
            Ok(f) => Box::new(f),
            Err(e) => {
                return Ok(Err(smtp_host::SmtpError::InvalidArgument(format!(
                    "--message-stream {path}: {e}"
                ))))
            }
        }
    };
    let result = client
        .sendmail_stream(from, to, body, &args.mail_options, &args.rcpt_options)
        .await;
    eprintln!(
        "smtp-send: guest linear memory peak {} bytes",
        client.peak_memory()
    );
    with_delivery(result)
}

/// Without the `p3` feature there is no WASI 0.3 build (args refuse the flag first).
#[cfg(not(feature = "p3"))]
async fn stream_message(
    _client: &mut AsyncClient,
    _args: &Args,
    _from: &str,
    _to: &[String],
    _path: &str,
) -> smtp_host::Call<(Vec<Refusal>, Option<Delivery>)> {
    wasmtime_bail()
}

#[cfg(not(feature = "p3"))]
fn wasmtime_bail() -> smtp_host::Call<(Vec<Refusal>, Option<Delivery>)> {
    Ok(Err(smtp_host::SmtpError::NotSupported(
        "--message-stream needs smtp-send built with --features p3".into(),
    )))
}

fn with_delivery(
    call: smtp_host::Call<Delivery>,
) -> smtp_host::Call<(Vec<Refusal>, Option<Delivery>)> {
    call.map(|r| r.map(|d| (d.refused.clone(), Some(d))))
}

/// A host failure from a wasmtime error (a trap or a load failure), with its whole
/// cause chain (`{:#}` of `wasmtime::Error`).
fn host_failure(what: &str, e: &impl std::fmt::Display) -> Failure {
    Failure::Host(format!("{what}: {e:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Through the component to the demo server and back: the bytes arrive unchanged,
    /// dots and 8-bit bytes included, once per `--count`; a bare LF or CR arrives as
    /// CRLF (RFC 5321 §2.3.8: DATA carries no bare line ends, so none can end it early).
    #[test]
    fn demo_round_trip_is_byte_exact() {
        let demo = DemoServer::start().unwrap();
        let body =
            b"Subject: t \xe9\r\n\r\n.dot\r\n..two\r\n.\r\nbare\nlf, bare\rcr\r\n\x80\xff\r\n";
        let args = Args {
            count: 2,
            debug: Some(0),
            ..Args::default()
        };
        let to = vec!["x@y".to_string()];
        let o = send(&args, &demo.addr().to_string(), &to, Some(body.to_vec()));
        assert_eq!(o.sent, 2);
        assert_eq!(o.tls, Some(false));
        assert!(o.result.unwrap().is_empty());
        let received = demo.received();
        assert_eq!(received.len(), 2);
        let expected =
            b"Subject: t \xe9\r\n\r\n.dot\r\n..two\r\n.\r\nbare\r\nlf, bare\r\ncr\r\n\x80\xff\r\n";
        for r in received {
            assert_eq!(r.mail_from, DEFAULT_FROM);
            assert_eq!(r.rcpt_tos, to);
            assert_eq!(r.data, expected);
        }
    }

    /// `--reconnect`: one connection per message, generated messages numbered on across
    /// connections, and the send phase timed.
    #[test]
    fn reconnect_sends_each_message_on_its_own_connection() {
        let demo = DemoServer::start().unwrap();
        let args = Args {
            count: 3,
            reconnect: true,
            debug: Some(0),
            ..Args::default()
        };
        let to = vec!["x@y".to_string()];
        let o = send(&args, &demo.addr().to_string(), &to, None);
        assert_eq!(o.sent, 3, "{:?}", o.result);
        assert!(o.result.is_ok());
        assert!(o.elapsed_ms.is_some_and(|ms| ms > 0.0));
        let received = demo.received();
        assert_eq!(received.len(), 3);
        let ids: std::collections::HashSet<String> = received
            .iter()
            .map(|r| {
                let text = String::from_utf8_lossy(&r.data).into_owned();
                text.lines()
                    .find(|l| l.starts_with("Message-ID:"))
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        assert_eq!(ids.len(), 3, "{ids:?}");
    }

    /// `--send-message` to the demo server: the envelope comes from the headers, Bcc is
    /// not sent; a given `--from`/`--to` overrides the headers.
    #[test]
    fn send_message_takes_the_envelope_from_the_headers() {
        let demo = DemoServer::start().unwrap();
        let body = b"From: a@x\r\nTo: b@x\r\nBcc: c@x\r\nSubject: s\r\n\r\nhi\r\n".to_vec();
        let args = Args {
            debug: Some(0),
            send_message: true,
            ..Args::default()
        };
        let o = send(&args, &demo.addr().to_string(), &[], Some(body.clone()));
        assert_eq!(o.sent, 1, "{:?}", o.result);
        let args = Args {
            from: Some("f@y".into()),
            ..args
        };
        let to = vec!["t@y".to_string()];
        let o = send(&args, &demo.addr().to_string(), &to, Some(body));
        assert_eq!(o.sent, 1, "{:?}", o.result);
        let received = demo.received();
        assert_eq!(received.len(), 2);
        assert_eq!(received[0].mail_from, "a@x");
        assert_eq!(received[0].rcpt_tos, ["b@x", "c@x"]);
        assert!(!String::from_utf8_lossy(&received[0].data).contains("Bcc"));
        assert_eq!(received[1].mail_from, "f@y");
        assert_eq!(received[1].rcpt_tos, to);
    }

    /// An SMTP error stops the run and keeps the count of messages sent before it.
    #[test]
    fn refused_option_is_an_smtp_error() {
        let demo = DemoServer::start().unwrap();
        let args = Args {
            debug: Some(0),
            mail_options: vec!["FOO".into()],
            ..Args::default()
        };
        let to = vec!["x@y".to_string()];
        let o = send(&args, &demo.addr().to_string(), &to, None);
        assert_eq!(o.sent, 0);
        match o.result {
            Err(Failure::Smtp(e)) => assert_eq!(e.kind(), "sender-refused"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(demo.received().is_empty());
    }

    /// `--starttls` against a server that does not offer it fails with `not-supported`
    /// and sends no mail; `--tls` against a plain server fails with `tls`.
    #[test]
    fn tls_against_a_plain_server_sends_nothing() {
        let demo = DemoServer::start().unwrap();
        let to = vec!["x@y".to_string()];
        for (starttls, kind) in [(true, "not-supported"), (false, "tls")] {
            let args = Args {
                debug: Some(0),
                timeout_ms: Some(10_000),
                tls: !starttls,
                starttls,
                ..Args::default()
            };
            let o = send(&args, &demo.addr().to_string(), &to, None);
            assert_eq!(o.sent, 0);
            assert_eq!(o.exit_code(), 1);
            match o.result {
                Err(Failure::Smtp(e)) => assert_eq!(e.kind(), kind, "{e:?}"),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(demo.received().is_empty());
    }

    /// `--password-file`: the first line without CRLF or LF; errors never show content.
    #[test]
    fn password_file_first_line() {
        let dir = tempfile::tempdir().unwrap();
        for (content, want) in [
            (&b"pw\r\nsecond\n"[..], "pw"),
            (b"pw\n", "pw"),
            (b"p w\r", "p w"),
            (b"pw", "pw"),
            (b"", ""),
            (b"\nlater", ""),
        ] {
            let path = dir.path().join("pw");
            std::fs::write(&path, content).unwrap();
            let source = SecretSource::PasswordFile(path.to_string_lossy().into_owned());
            assert_eq!(read_secret(&source).unwrap().0, want, "{content:?}");
        }
        let path = dir.path().join("bad");
        std::fs::write(&path, b"caf\xe9-secret\n").unwrap();
        let source = SecretSource::PasswordFile(path.to_string_lossy().into_owned());
        let e = read_secret(&source).unwrap_err();
        assert!(
            e.contains("not valid UTF-8") && !e.contains("secret"),
            "{e}"
        );
        let source = SecretSource::PasswordFile("/nonexistent/pw".into());
        assert!(read_secret(&source)
            .unwrap_err()
            .contains("/nonexistent/pw"));
        let source = SecretSource::PasswordEnv("SMTP_SEND_UNIT_TEST_UNSET".into());
        assert!(read_secret(&source).unwrap_err().contains("is not set"));
        assert_eq!(format!("{:?}", Secret("pw".into())), "Secret(..)");
    }

    /// `--oauth2-token-env` means XOAUTH2 unless `--auth-mech` says otherwise; a
    /// password without `--auth-mech` means smtplib's `login`.
    #[test]
    fn mechanism_choice() {
        let token = Args {
            user: Some("u".into()),
            secret: Some(SecretSource::OAuth2TokenEnv("T".into())),
            ..Args::default()
        };
        assert_eq!(forced_mechanism(&token), Some(AuthMech::Xoauth2));
        let bearer = Args {
            auth_mech: Some(AuthMech::Oauthbearer),
            ..token
        };
        assert_eq!(forced_mechanism(&bearer), Some(AuthMech::Oauthbearer));
        let password = Args {
            user: Some("u".into()),
            secret: Some(SecretSource::PasswordEnv("P".into())),
            ..Args::default()
        };
        assert_eq!(forced_mechanism(&password), None);
    }

    /// An unreadable PEM file is a host failure before anything is sent.
    #[test]
    fn unreadable_ca_file_is_a_host_failure() {
        let args = Args {
            starttls: true,
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..Args::default()
        };
        let o = send(&args, "127.0.0.1:9", &["x@y".to_string()], None);
        assert_eq!(o.exit_code(), 2);
        match o.result {
            Err(Failure::Host(m)) => assert!(m.contains("--ca-file"), "{m}"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
