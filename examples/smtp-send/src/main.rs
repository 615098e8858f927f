//! `smtp-send`: sends mail through the smtp WebAssembly component (Python's smtplib
//! rebuilt as a component), run in wasmtime by the `host-test` crate.
//!
//! Without `--server` it runs a demo: it starts a small SMTP server in this process,
//! sends to it with the SMTP transcript on stderr, and prints what the server received.
//! See the README for the flags, the `--json` contract and the exit codes.

mod args;
mod demo_server;
mod message;
mod report;

use std::ffi::OsString;
use std::process::ExitCode;

use host_test::{ClientOptions, Message, Refusal, SmtpHost, SourceAddress, Stderr, TlsConfig};

use crate::args::{Args, Command};
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
            print!("{}", args::USAGE);
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
            let to = if args.to.is_empty() {
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

/// Connects to `server` (with TLS from the first byte for `--tls`, or upgrading with
/// STARTTLS for `--starttls`), sends the message `args.count` times and quits. The
/// outcome has how many messages were accepted, whether the connection was encrypted,
/// and the refusals of the last message or the failure; `received` is left `None`.
fn send(args: &Args, server: &str, to: &[String], message: Option<Vec<u8>>) -> Outcome {
    let done = |sent: u32, tls: Option<bool>, result: Result<Vec<Refusal>, Failure>| Outcome {
        sent,
        result,
        tls,
        received: None,
    };
    // A failure of the host before anything was sent: a load failure or a trap.
    fn fail(what: &str, e: &impl std::fmt::Display) -> Outcome {
        Outcome {
            sent: 0,
            result: Err(host_failure(what, e)),
            tls: None,
            received: None,
        }
    }
    let wants_tls = args.tls || args.starttls;
    let config = if wants_tls {
        match tls_config(args) {
            Ok(c) => c,
            Err(e) => return Outcome::host(0, e),
        }
    } else {
        TlsConfig::default()
    };
    let host = match SmtpHost::shared() {
        Ok(h) => h,
        Err(e) => return fail("loading the smtp component", &e),
    };
    let options = ClientOptions {
        local_hostname: args.local_hostname.clone(),
        timeout_ms: args.timeout_ms,
        source_address: args
            .source_address
            .clone()
            .map(|ip| SourceAddress { ip, port: 0 }),
    };
    let mut client = match host.client(&options, Stderr::Inherit) {
        Ok(c) => c,
        Err(e) => return fail("creating the client", &e),
    };
    if let Some(level) = args.debug {
        if let Err(e) = client.set_debuglevel(level) {
            return fail("set-debuglevel trapped", &e);
        }
    }
    let (connected, call) = if args.tls {
        (client.connect_tls(server, None, &config), "connect-tls")
    } else {
        (client.connect(server, None), "connect")
    };
    match connected {
        Ok(Ok(_greeting)) => {}
        Ok(Err(e)) => {
            let _ = client.close();
            return done(0, None, Err(Failure::Smtp(e)));
        }
        Err(e) => return fail(&format!("{call} trapped"), &e),
    }
    if args.starttls {
        match client.starttls(&config) {
            Ok(Ok(_reply)) => {}
            Ok(Err(e)) => {
                // Nothing more may go out in clear, not even QUIT: just hang up.
                let _ = client.close();
                return done(0, None, Err(Failure::Smtp(e)));
            }
            Err(e) => return fail("starttls trapped", &e),
        }
    }
    let tls = match client.is_tls() {
        Ok(t) => t,
        Err(e) => return fail("is-tls trapped", &e),
    };
    if wants_tls && !tls {
        // The component said the handshake succeeded; never send mail in clear anyway.
        let _ = client.close();
        let flag = if args.tls { "--tls" } else { "--starttls" };
        return Outcome::host(
            0,
            format!("the connection is not encrypted after {flag}: refusing to send"),
        );
    }

    let from = args.from.as_deref().unwrap_or(DEFAULT_FROM);
    let fixed = message.map(Message::Bytes);
    let mut sent = 0;
    let mut refused = Vec::new();
    for seq in 1..=args.count {
        let generated;
        let msg = match &fixed {
            Some(m) => m,
            None => {
                generated = Message::Bytes(message::generate(from, to, seq));
                &generated
            }
        };
        match client.sendmail(from, to, msg, &args.mail_options, &args.rcpt_options) {
            Ok(Ok(r)) => {
                sent += 1;
                refused = r;
            }
            Ok(Err(e)) => {
                let _ = client.quit();
                let _ = client.close();
                return done(sent, Some(tls), Err(Failure::Smtp(e)));
            }
            Err(e) => return done(sent, Some(tls), Err(host_failure("sendmail trapped", &e))),
        }
    }

    match client.quit() {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            // Every message was already accepted: warn, but do not fail the run.
            eprintln!("smtp-send: warning: QUIT failed: {}: {e:?}", e.kind());
            let _ = client.close();
        }
        Err(e) => return done(sent, Some(tls), Err(host_failure("quit trapped", &e))),
    }
    done(sent, Some(tls), Ok(refused))
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
    /// dots, bare line ends and 8-bit bytes included, once per `--count`.
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
        for r in received {
            assert_eq!(r.mail_from, DEFAULT_FROM);
            assert_eq!(r.rcpt_tos, to);
            assert_eq!(r.data, body);
        }
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
