//! What a run came to, and how it is shown: one JSON object (`--json`) or text.

use std::io::Write;

use serde_json::{json, Map, Value};
use smtp_host::{Delivery, Refusal, Reply, SmtpError};

use crate::demo_server::Received;

/// Why a run failed.
#[derive(Debug, Clone)]
pub enum Failure {
    /// The component answered with an SMTP error (exit status 1).
    Smtp(SmtpError),
    /// The host failed: bad usage, an unreadable message, a component that cannot be
    /// loaded, or a trap (exit status 2).
    Host(String),
}

/// The result of a run.
#[derive(Debug)]
pub struct Outcome {
    /// How many messages the server accepted.
    pub sent: u32,
    /// The refusals of the last message, or what went wrong.
    pub result: Result<Vec<Refusal>, Failure>,
    /// Whether the connection was encrypted (`is-tls()` once connected and, with
    /// `--starttls`, after STARTTLS); `None` when it never got that far.
    pub tls: Option<bool>,
    /// In demo mode, what the embedded server received.
    pub received: Option<Vec<Received>>,
    /// Milliseconds from just before the (first) connect to just after the (last) QUIT,
    /// on success: the send phase without process start-up or component loading.
    pub elapsed_ms: Option<f64>,
    /// The delivery report of the last message, when the call gave one (not for
    /// `--send-message`).
    pub delivery: Option<Delivery>,
    /// With `--connections`: each connection's own outcome, in order (`sent` above is
    /// their sum).
    pub connections: Option<Vec<Outcome>>,
    /// How many instances of the component the run made (`--json` `instances`): one
    /// per client for `--wasi p2`, one for all the connections of `--wasi p3
    /// --connections N`; `None` for a connection's own outcome.
    pub instances: Option<u64>,
    /// The guest's linear memory peak in bytes (`--json`'s `guest_memory_peak_bytes`, on
    /// success and on failure): for runs over one instance (not `--connections`).
    pub guest_memory_peak_bytes: Option<u64>,
}

impl Outcome {
    /// A host failure after `sent` accepted messages.
    pub fn host(sent: u32, message: impl Into<String>) -> Outcome {
        Outcome {
            sent,
            result: Err(Failure::Host(message.into())),
            tls: None,
            received: None,
            elapsed_ms: None,
            delivery: None,
            connections: None,
            instances: None,
            guest_memory_peak_bytes: None,
        }
    }

    /// The outcome of a run over several connections, from theirs: `sent` is the sum;
    /// the run succeeded only if every connection did, and otherwise fails with the
    /// first failure of the gravest kind (a host failure before an SMTP error), so the
    /// exit status is the worst of theirs. `tls` holds when every connection was
    /// encrypted; the refusals are the last connection's.
    pub fn combine(connections: Vec<Outcome>, elapsed_ms: f64) -> Outcome {
        let sent = connections.iter().map(|c| c.sent).sum();
        let worst = connections
            .iter()
            .enumerate()
            .max_by_key(|(i, c)| (c.exit_code(), std::cmp::Reverse(*i)))
            .map(|(_, c)| c);
        let result = match worst {
            None => Err(Failure::Host("no connection was made".into())),
            Some(c) => match &c.result {
                Err(f) => Err(f.clone()),
                Ok(_) => Ok(connections
                    .last()
                    .and_then(|c| c.result.as_ref().ok().cloned())
                    .unwrap_or_default()),
            },
        };
        let tls = connections
            .iter()
            .map(|c| c.tls)
            .collect::<Option<Vec<bool>>>()
            .map(|t| t.iter().all(|&x| x));
        Outcome {
            sent,
            elapsed_ms: result.is_ok().then_some(elapsed_ms),
            result,
            tls,
            received: None,
            delivery: None,
            connections: Some(connections),
            instances: None,
            guest_memory_peak_bytes: None,
        }
    }

    /// The process exit status: 0 when every message was accepted, 1 on an SMTP error,
    /// 2 on a host failure.
    pub fn exit_code(&self) -> u8 {
        match self.result {
            Ok(_) => 0,
            Err(Failure::Smtp(_)) => 1,
            Err(Failure::Host(_)) => 2,
        }
    }

    /// The `--json` object (without `peak_rss_bytes`, which [`Outcome::print`] adds as
    /// it prints).
    pub fn to_json(&self) -> Value {
        let mut top = Map::new();
        match &self.result {
            Ok(refused) => {
                top.insert("ok".into(), Value::Bool(true));
                top.insert(
                    "refused".into(),
                    refused.iter().map(refusal_json).collect::<Value>(),
                );
                top.insert("tls".into(), Value::Bool(self.tls.unwrap_or(false)));
                if let Some(ms) = self.elapsed_ms {
                    top.insert("elapsed_ms".into(), json!(ms));
                }
                if let Some(d) = &self.delivery {
                    top.insert("delivery".into(), delivery_json(d));
                }
            }
            Err(failure) => {
                top.insert("ok".into(), Value::Bool(false));
                top.insert("error".into(), failure_json(failure));
            }
        }
        top.insert("sent".into(), json!(self.sent));
        if let Some(n) = self.instances {
            top.insert("instances".into(), json!(n));
        }
        if let Some(peak) = self.guest_memory_peak_bytes {
            top.insert("guest_memory_peak_bytes".into(), json!(peak));
        }
        if let Some(connections) = &self.connections {
            let list = connections.iter().map(Outcome::to_json).collect::<Value>();
            top.insert("connections".into(), list);
        }
        if let Some(received) = &self.received {
            let list = received
                .iter()
                .map(|r| {
                    json!({
                        "mail_from": r.mail_from,
                        "rcpt_tos": r.rcpt_tos,
                        "data": String::from_utf8_lossy(&r.data),
                    })
                })
                .collect::<Value>();
            top.insert("received".into(), list);
        }
        Value::Object(top)
    }

    /// Prints the outcome: the JSON object alone on stdout, or text (the summary and
    /// what the demo server received on stdout, errors on stderr).
    pub fn print(&self, as_json: bool) {
        if as_json {
            let mut json = self.to_json();
            if let (Value::Object(top), Some(peak)) = (&mut json, peak_rss_bytes()) {
                top.insert("peak_rss_bytes".into(), json!(peak));
            }
            println!("{json}");
            return;
        }
        let mut out = String::new();
        let mut err = String::new();
        match &self.result {
            Ok(refused) => {
                match &self.connections {
                    Some(c) => out.push_str(&format!(
                        "sent {} message(s) over {} connection(s)\n",
                        self.sent,
                        c.len()
                    )),
                    None => out.push_str(&format!("sent {} message(s)\n", self.sent)),
                }
                if let Some(id) = self.delivery.as_ref().and_then(|d| d.queue_id.as_deref()) {
                    out.push_str(&format!("queued as {}\n", printable(id)));
                }
                for r in refused {
                    out.push_str(&format!(
                        "refused {}: {}\n",
                        printable(&r.recipient),
                        reply_text(&r.reply)
                    ));
                }
            }
            Err(failure) => {
                err.push_str(&failure_text(failure));
                if self.sent > 0 {
                    err.push_str(&format!(
                        "smtp-send: {} message(s) were sent before the error\n",
                        self.sent
                    ));
                }
            }
        }
        if let (Err(_), Some(connections)) = (&self.result, &self.connections) {
            for (i, c) in connections.iter().enumerate() {
                match &c.result {
                    Ok(_) => err.push_str(&format!(
                        "smtp-send: connection {}: sent {}\n",
                        i + 1,
                        c.sent
                    )),
                    Err(f) => err.push_str(&format!(
                        "smtp-send: connection {}: sent {}, then {}",
                        i + 1,
                        c.sent,
                        failure_text(f).trim_start_matches("smtp-send: ")
                    )),
                }
            }
        }
        if let Some(received) = &self.received {
            out.push_str("=== the server received:\n");
            if received.is_empty() {
                out.push_str("(nothing)\n");
            }
            for (i, r) in received.iter().enumerate() {
                out.push_str(&format!(
                    "--- message {}\nMAIL FROM:<{}>\n",
                    i + 1,
                    r.mail_from
                ));
                for to in &r.rcpt_tos {
                    out.push_str(&format!("RCPT TO:<{to}>\n"));
                }
                out.push('\n');
                out.push_str(&String::from_utf8_lossy(&r.data));
                if !r.data.ends_with(b"\n") {
                    out.push('\n');
                }
            }
        }
        // Errors go first, so that they come before the demo output in a shared terminal.
        let _ = std::io::stderr().write_all(err.as_bytes());
        let _ = std::io::stdout().write_all(out.as_bytes());
    }
}

/// `{"queue_id", "reply": {...}, "accepted": [...], "extensions": [...]}`.
fn delivery_json(d: &Delivery) -> Value {
    let mut reply = Map::new();
    reply_fields(&mut reply, &d.reply);
    let accepted = d
        .accepted
        .iter()
        .map(|r| {
            let mut map = Map::new();
            map.insert("recipient".into(), json!(r.recipient));
            reply_fields(&mut map, &r.reply);
            Value::Object(map)
        })
        .collect::<Value>();
    json!({
        "queue_id": d.queue_id,
        "reply": Value::Object(reply),
        "accepted": accepted,
        "extensions": d.extensions,
    })
}

/// This process's peak resident memory in bytes, as `--json`'s `peak_rss_bytes`: the
/// kernel's high-water mark of this program's memory (Linux `VmHWM`), so a benchmark
/// gets smtp-send's own peak (`wait4`'s `ru_maxrss` also counts the parent's memory at
/// the fork before `exec`). `None` where `/proc` has no such line.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `{"recipient", "code", "text"[, "enhanced_status"]}`.
fn refusal_json(r: &Refusal) -> Value {
    let mut map = Map::new();
    map.insert("recipient".into(), json!(r.recipient));
    reply_fields(&mut map, &r.reply);
    Value::Object(map)
}

/// Adds `code`, `text` and, when the server sent one, `enhanced_status` (as `"5.1.1"`).
fn reply_fields(map: &mut Map<String, Value>, reply: &Reply) {
    map.insert("code".into(), json!(reply.code));
    map.insert("text".into(), json!(reply.text));
    if let Some(e) = &reply.enhanced_status {
        map.insert(
            "enhanced_status".into(),
            json!(format!("{}.{}.{}", e.class, e.subject, e.detail)),
        );
    }
}

/// The `error` object: `kind` and the fields of its case.
fn failure_json(failure: &Failure) -> Value {
    let mut map = Map::new();
    match failure {
        Failure::Host(message) => {
            map.insert("kind".into(), json!("host"));
            map.insert("message".into(), json!(message));
        }
        Failure::Smtp(e) => {
            map.insert("kind".into(), json!(e.kind()));
            match e {
                SmtpError::ServerDisconnected(m)
                | SmtpError::NotSupported(m)
                | SmtpError::Timeout(m)
                | SmtpError::Tls(m)
                | SmtpError::Io(m)
                | SmtpError::InvalidArgument(m)
                | SmtpError::MalformedReply(m)
                | SmtpError::DeliveryUnknown(m) => {
                    map.insert("message".into(), json!(m));
                }
                SmtpError::Response(r)
                | SmtpError::DataError(r)
                | SmtpError::ConnectError(r)
                | SmtpError::HeloError(r)
                | SmtpError::AuthenticationError(r) => reply_fields(&mut map, r),
                SmtpError::SenderRefused(s) => {
                    map.insert("sender".into(), json!(s.sender));
                    reply_fields(&mut map, &s.reply);
                }
                SmtpError::RecipientsRefused(list) => {
                    map.insert(
                        "recipients".into(),
                        list.iter().map(refusal_json).collect::<Value>(),
                    );
                }
            }
        }
    }
    Value::Object(map)
}

/// A reply as `550 5.1.1 text`, continuation lines indented, control characters
/// escaped.
fn reply_text(reply: &Reply) -> String {
    format!(
        "{} {}",
        reply.code,
        printable(&reply.text).replace('\n', "\n    ")
    )
}

/// `s` safe to print on a terminal: line feeds kept, every other control character
/// (CR, ESC, C1 controls, DEL) and the bidirectional and line-separator marks shown as
/// escapes, so a server's reply cannot move the cursor, recolour or rewrite the screen.
fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push('\n'),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && c.is_control() => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                out.push_str(&format!("\\u{{{:04x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// The error for stderr: `smtp-send: error: KIND: fields`, one line per refusal.
fn failure_text(failure: &Failure) -> String {
    let e = match failure {
        Failure::Host(message) => return format!("smtp-send: error: host: {message}\n"),
        Failure::Smtp(e) => e,
    };
    let detail = match e {
        SmtpError::ServerDisconnected(m)
        | SmtpError::NotSupported(m)
        | SmtpError::Timeout(m)
        | SmtpError::Tls(m)
        | SmtpError::Io(m)
        | SmtpError::InvalidArgument(m)
        | SmtpError::MalformedReply(m)
        | SmtpError::DeliveryUnknown(m) => printable(m),
        SmtpError::Response(r)
        | SmtpError::DataError(r)
        | SmtpError::ConnectError(r)
        | SmtpError::HeloError(r)
        | SmtpError::AuthenticationError(r) => reply_text(r),
        SmtpError::SenderRefused(s) => {
            format!("sender {}: {}", printable(&s.sender), reply_text(&s.reply))
        }
        SmtpError::RecipientsRefused(list) => list
            .iter()
            .map(|r| {
                format!(
                    "\n  refused {}: {}",
                    printable(&r.recipient),
                    reply_text(&r.reply)
                )
            })
            .collect(),
    };
    let sep = if detail.starts_with('\n') { "" } else { ": " };
    format!("smtp-send: error: {}{sep}{detail}\n", e.kind())
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtp_host::{EnhancedStatus, SenderRefusal};

    fn reply(code: u16, text: &str, enhanced: bool) -> Reply {
        Reply {
            code,
            text: text.into(),
            enhanced_status: enhanced.then_some(EnhancedStatus {
                class: 5,
                subject: 1,
                detail: 1,
            }),
        }
    }

    fn outcome(result: Result<Vec<Refusal>, Failure>, sent: u32) -> Outcome {
        Outcome {
            sent,
            result,
            tls: Some(false),
            received: None,
            elapsed_ms: None,
            delivery: None,
            connections: None,
            instances: None,
            guest_memory_peak_bytes: None,
        }
    }

    #[test]
    fn success_json() {
        let refused = vec![Refusal {
            recipient: "r@x".into(),
            reply: reply(550, "5.1.1 no", true),
        }];
        let o = outcome(Ok(refused), 2);
        assert_eq!(o.exit_code(), 0);
        assert_eq!(
            o.to_json(),
            json!({"ok": true, "sent": 2, "tls": false, "refused": [
                {"recipient": "r@x", "code": 550, "text": "5.1.1 no", "enhanced_status": "5.1.1"}
            ]})
        );
        let o = Outcome {
            tls: Some(true),
            ..outcome(Ok(Vec::new()), 1)
        };
        assert_eq!(
            o.to_json(),
            json!({"ok": true, "sent": 1, "tls": true, "refused": []})
        );
        let o = Outcome {
            elapsed_ms: Some(12.5),
            ..outcome(Ok(Vec::new()), 3)
        };
        assert_eq!(
            o.to_json(),
            json!({"ok": true, "sent": 3, "tls": false, "refused": [], "elapsed_ms": 12.5})
        );
        let o = Outcome {
            guest_memory_peak_bytes: Some(2_162_688),
            ..outcome(Ok(Vec::new()), 1)
        };
        assert_eq!(
            o.to_json(),
            json!({"ok": true, "sent": 1, "tls": false, "refused": [],
                "guest_memory_peak_bytes": 2_162_688})
        );
    }

    #[test]
    fn tls_error_json() {
        let o = outcome(
            Err(Failure::Smtp(SmtpError::NotSupported(
                "STARTTLS extension not supported by server".into(),
            ))),
            0,
        );
        assert_eq!(o.exit_code(), 1);
        assert_eq!(
            o.to_json(),
            json!({"ok": false, "sent": 0, "error": {"kind": "not-supported",
                "message": "STARTTLS extension not supported by server"}})
        );
        let o = outcome(Err(Failure::Smtp(SmtpError::Tls("bad cert".into()))), 0);
        assert_eq!(o.exit_code(), 1);
        assert_eq!(
            o.to_json(),
            json!({"ok": false, "sent": 0, "error": {"kind": "tls", "message": "bad cert"}})
        );
    }

    #[test]
    fn error_json() {
        let o = outcome(
            Err(Failure::Smtp(SmtpError::SenderRefused(SenderRefusal {
                sender: "s@x".into(),
                reply: reply(553, "no", false),
            }))),
            1,
        );
        assert_eq!(o.exit_code(), 1);
        assert_eq!(
            o.to_json(),
            json!({"ok": false, "sent": 1, "error":
                {"kind": "sender-refused", "sender": "s@x", "code": 553, "text": "no"}})
        );
        let o = outcome(Err(Failure::Smtp(SmtpError::Io("refused".into()))), 0);
        assert_eq!(
            o.to_json(),
            json!({"ok": false, "sent": 0, "error": {"kind": "io", "message": "refused"}})
        );
        let o = Outcome::host(0, "trap");
        assert_eq!(o.exit_code(), 2);
        assert_eq!(
            o.to_json(),
            json!({"ok": false, "sent": 0, "error": {"kind": "host", "message": "trap"}})
        );
    }

    #[test]
    fn replies_cannot_drive_the_terminal() {
        let e = SmtpError::DataError(reply(
            554,
            "no\x1b[2J\x1b]0;pwned\x07\r\u{202e}txt\u{9b}",
            false,
        ));
        let text = failure_text(&Failure::Smtp(e));
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        assert!(text.contains("\\x1b[2J"), "{text}");
        assert!(text.contains("\\u{202e}"), "{text}");
        let e = SmtpError::MalformedReply("reply \x1b[31mred".into());
        assert!(!failure_text(&Failure::Smtp(e)).contains('\x1b'));
    }

    #[test]
    fn error_text() {
        let e = Failure::Smtp(SmtpError::RecipientsRefused(vec![Refusal {
            recipient: "r@x".into(),
            reply: reply(550, "5.1.1 no\nreally", true),
        }]));
        assert_eq!(
            failure_text(&e),
            "smtp-send: error: recipients-refused\n  refused r@x: 550 5.1.1 no\n    really\n"
        );
        let e = Failure::Smtp(SmtpError::DataError(reply(554, "bad", false)));
        assert_eq!(failure_text(&e), "smtp-send: error: data-error: 554 bad\n");
    }

    /// Several connections: `sent` adds up; one failed connection fails the run with
    /// its error, a host failure outranks an SMTP error; every connection is listed.
    #[test]
    fn combined_connections_are_honest() {
        let ok = |sent| outcome(Ok(vec![]), sent);
        let smtp = |sent| {
            outcome(
                Err(Failure::Smtp(SmtpError::ServerDisconnected("gone".into()))),
                sent,
            )
        };
        let all = Outcome::combine(vec![ok(3), ok(4)], 12.5);
        assert_eq!(
            (all.sent, all.exit_code(), all.elapsed_ms),
            (7, 0, Some(12.5))
        );
        let v = all.to_json();
        assert_eq!(v["ok"], true);
        assert_eq!(v["connections"].as_array().unwrap().len(), 2);
        assert_eq!(v["connections"][1]["sent"], 4);

        let some = Outcome::combine(vec![ok(3), smtp(1), ok(4)], 12.5);
        assert_eq!((some.sent, some.exit_code(), some.elapsed_ms), (8, 1, None));
        let v = some.to_json();
        assert_eq!(v["ok"], false);
        assert_eq!(v["sent"], 8);
        assert_eq!(v["error"]["kind"], "server-disconnected");
        assert_eq!(v["connections"][1]["ok"], false);
        assert_eq!(v["connections"][2]["ok"], true);

        let host = Outcome::combine(vec![smtp(0), Outcome::host(0, "trap")], 1.0);
        assert_eq!(host.exit_code(), 2);
        assert_eq!(host.to_json()["error"]["kind"], "host");
    }
}
