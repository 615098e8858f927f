//! The mailer's flags: a message built from parts by the component (`--subject`,
//! `--text`, `--html`, `--attach`, `--cc`, `--bcc`, `--reply-to`, `--header`), DKIM
//! signing (`--dkim-*`), DSN (`--dsn-notify`, `--dsn-ret`, `--envid`) and
//! `--require-tls`. Parsed here, next to the other flags in `args.rs`; turned into the
//! WIT `mail` and `mail-options` records once the files are read.

use smtp_host::{
    Attachment, Dkim, DkimAlgorithm, Dsn, DsnEvents, DsnNotify, DsnReturn, Header, Mail,
    MailOptions, Mailbox,
};

/// The flags that take a value.
pub const FLAGS: [&str; 15] = [
    "--subject",
    "--text",
    "--html",
    "--attach",
    "--cc",
    "--bcc",
    "--reply-to",
    "--header",
    "--dkim-key",
    "--dkim-domain",
    "--dkim-selector",
    "--dkim-algorithm",
    "--dsn-notify",
    "--dsn-ret",
    "--envid",
];

/// The switch.
pub const SWITCHES: [&str; 1] = ["--require-tls"];

/// The usage text of these flags (appended to `--help`).
pub const USAGE: &str = "\
Building the message (the component composes it: MIME, RFC 2047 headers, attachments;
From, To and Cc come from --from, --to and --cc; any of these replaces --message):
  --subject TEXT         the Subject (any Unicode)
  --text FILE            the plain-text body (UTF-8)
  --html FILE            the HTML body (UTF-8); with --text, multipart/alternative
  --attach FILE          attach FILE (repeatable); its type from the extension, its
                         name from the file name
  --cc ADDR              a Cc recipient (repeatable)
  --bcc ADDR             a blind copy: envelope only, never in the message (repeatable)
  --reply-to ADDR        a Reply-To address (repeatable)
  --header 'NAME: VALUE' an extra header field (repeatable)
Signing, DSN and REQUIRETLS (also for --message and the generated message):
  --dkim-key PEM         sign with DKIM (relaxed/relaxed) with this private key file;
                         needs --dkim-domain and --dkim-selector
  --dkim-domain D        the signing domain (d=)
  --dkim-selector S      the selector (s=): the key is at S._domainkey.D
  --dkim-algorithm ALG   rsa-sha256 (default) or ed25519-sha256
  --dsn-notify LIST      never, or any of success,failure,delay (RFC 3461 NOTIFY;
                         ORCPT is sent with each recipient)
  --dsn-ret full|hdrs    what a failure notice carries (RET)
  --envid ID             the envelope id for notices (ENVID)
  --require-tls          RFC 8689 REQUIRETLS: refused (not-supported) on a connection
                         without TLS or by a server that does not offer it, before
                         anything of the message is sent
";

/// What the mailer flags asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MailerArgs {
    /// `--subject`.
    pub subject: Option<String>,
    /// `--text FILE`.
    pub text: Option<String>,
    /// `--html FILE`.
    pub html: Option<String>,
    /// `--attach FILE`s.
    pub attach: Vec<String>,
    /// `--cc`s.
    pub cc: Vec<String>,
    /// `--bcc`s.
    pub bcc: Vec<String>,
    /// `--reply-to`s.
    pub reply_to: Vec<String>,
    /// `--header`s, split at the first colon.
    pub headers: Vec<(String, String)>,
    /// `--dkim-key FILE`.
    pub dkim_key: Option<String>,
    /// `--dkim-domain`.
    pub dkim_domain: Option<String>,
    /// `--dkim-selector`.
    pub dkim_selector: Option<String>,
    /// `--dkim-algorithm`: true for ed25519-sha256.
    pub dkim_ed25519: bool,
    /// `--dsn-notify`: `None` for never, else (success, failure, delay).
    pub dsn_notify: Option<Option<(bool, bool, bool)>>,
    /// `--dsn-ret`: true for hdrs.
    pub dsn_ret_hdrs: Option<bool>,
    /// `--envid`.
    pub envid: Option<String>,
    /// `--require-tls`.
    pub require_tls: bool,
}

/// Whether `flag` may be given more than once.
pub fn repeatable(flag: &str) -> bool {
    matches!(
        flag,
        "--attach" | "--cc" | "--bcc" | "--reply-to" | "--header"
    )
}

impl MailerArgs {
    /// Takes the value of one of [`FLAGS`].
    pub fn set(&mut self, flag: &str, value: String) -> Result<(), String> {
        match flag {
            "--subject" => self.subject = Some(value),
            "--text" => self.text = Some(value),
            "--html" => self.html = Some(value),
            "--attach" => self.attach.push(value),
            "--cc" => self.cc.push(value),
            "--bcc" => self.bcc.push(value),
            "--reply-to" => self.reply_to.push(value),
            "--header" => {
                let Some((name, v)) = value.split_once(':') else {
                    return Err(format!("--header: {value:?} is not 'Name: value'"));
                };
                self.headers
                    .push((name.trim().to_string(), v.trim().to_string()));
            }
            "--dkim-key" => self.dkim_key = Some(value),
            "--dkim-domain" => self.dkim_domain = Some(value),
            "--dkim-selector" => self.dkim_selector = Some(value),
            "--dkim-algorithm" => {
                self.dkim_ed25519 = match value.to_ascii_lowercase().as_str() {
                    "rsa-sha256" => false,
                    "ed25519-sha256" => true,
                    _ => {
                        return Err(format!(
                            "--dkim-algorithm: {value:?} must be rsa-sha256 or ed25519-sha256"
                        ))
                    }
                }
            }
            "--dsn-notify" => self.dsn_notify = Some(parse_notify(&value)?),
            "--dsn-ret" => {
                self.dsn_ret_hdrs = Some(match value.to_ascii_lowercase().as_str() {
                    "full" => false,
                    "hdrs" => true,
                    _ => return Err(format!("--dsn-ret: {value:?} must be full or hdrs")),
                })
            }
            "--envid" => self.envid = Some(value),
            _ => return Err(format!("unknown option {flag}")),
        }
        Ok(())
    }

    /// Whether the message is built from parts (any of the composing flags).
    pub fn composes(&self) -> bool {
        self.subject.is_some()
            || self.text.is_some()
            || self.html.is_some()
            || !self.attach.is_empty()
            || !self.cc.is_empty()
            || !self.bcc.is_empty()
            || !self.reply_to.is_empty()
            || !self.headers.is_empty()
    }

    /// Whether DKIM, DSN or REQUIRETLS is asked for.
    pub fn has_options(&self) -> bool {
        self.dkim_key.is_some()
            || self.dsn_notify.is_some()
            || self.dsn_ret_hdrs.is_some()
            || self.envid.is_some()
            || self.require_tls
    }

    /// The checks between flags, once all are parsed.
    pub fn check(&self, message: bool, send_message: bool) -> Result<(), String> {
        if self.composes() && message {
            return Err(
                "--message and the flags that build a message (--subject, --text, --html, \
                 --attach, --cc, --bcc, --reply-to, --header) exclude each other"
                    .into(),
            );
        }
        if send_message && (self.composes() || self.has_options()) {
            return Err(
                "--send-message takes the envelope from the headers: it works with neither \
                 the message-building flags nor --dkim-*, --dsn-*, --envid, --require-tls"
                    .into(),
            );
        }
        let dkim = [
            ("--dkim-key", self.dkim_key.is_some()),
            ("--dkim-domain", self.dkim_domain.is_some()),
            ("--dkim-selector", self.dkim_selector.is_some()),
        ];
        if dkim.iter().any(|(_, set)| *set) {
            if let Some((flag, _)) = dkim.iter().find(|(_, set)| !*set) {
                return Err(format!(
                    "DKIM signing needs --dkim-key, --dkim-domain and --dkim-selector: {flag} is missing"
                ));
            }
        } else if self.dkim_ed25519 {
            return Err("--dkim-algorithm needs --dkim-key".into());
        }
        Ok(())
    }

    /// The `mail-options` record, with the key file read.
    pub fn options(&self) -> Result<MailOptions, String> {
        let dkim = match (&self.dkim_key, &self.dkim_domain, &self.dkim_selector) {
            (Some(key), Some(domain), Some(selector)) => Some(Dkim {
                domain: domain.clone(),
                selector: selector.clone(),
                private_key_pem: std::fs::read_to_string(key)
                    .map_err(|e| format!("reading --dkim-key file {key}: {e}"))?,
                algorithm: if self.dkim_ed25519 {
                    DkimAlgorithm::Ed25519Sha256
                } else {
                    DkimAlgorithm::RsaSha256
                },
                signed_headers: None,
            }),
            _ => None,
        };
        let wants_dsn =
            self.dsn_notify.is_some() || self.dsn_ret_hdrs.is_some() || self.envid.is_some();
        let dsn = wants_dsn.then(|| Dsn {
            notify: self.dsn_notify.map(|n| match n {
                None => DsnNotify::Never,
                Some((success, failure, delay)) => {
                    let mut events = DsnEvents::empty();
                    if success {
                        events |= DsnEvents::SUCCESS;
                    }
                    if failure {
                        events |= DsnEvents::FAILURE;
                    }
                    if delay {
                        events |= DsnEvents::DELAY;
                    }
                    DsnNotify::On(events)
                }
            }),
            ret: self.dsn_ret_hdrs.map(|hdrs| {
                if hdrs {
                    DsnReturn::Headers
                } else {
                    DsnReturn::Full
                }
            }),
            envid: self.envid.clone(),
            orcpt: true,
            best_effort: false,
        });
        Ok(MailOptions {
            dkim,
            dsn,
            require_tls: self.require_tls,
        })
    }

    /// The `mail` record from `from`, `to` and these flags, with the files read.
    pub fn mail(&self, from: &str, to: &[String]) -> Result<Mail, String> {
        let read_text = |flag: &str, path: &Option<String>| {
            path.as_deref()
                .map(|p| {
                    std::fs::read_to_string(p).map_err(|e| format!("reading {flag} file {p}: {e}"))
                })
                .transpose()
        };
        let mut attachments = Vec::new();
        for path in &self.attach {
            let content =
                std::fs::read(path).map_err(|e| format!("reading --attach file {path}: {e}"))?;
            let name = std::path::Path::new(path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.clone());
            attachments.push(Attachment {
                content_type: content_type(&name).to_string(),
                filename: name,
                content,
                content_id: None,
            });
        }
        Ok(Mail {
            from: mailbox(from),
            to: to.iter().map(|a| mailbox(a)).collect(),
            cc: self.cc.iter().map(|a| mailbox(a)).collect(),
            bcc: self.bcc.iter().map(|a| mailbox(a)).collect(),
            reply_to: self.reply_to.iter().map(|a| mailbox(a)).collect(),
            subject: self.subject.clone().unwrap_or_default(),
            headers: self
                .headers
                .iter()
                .map(|(name, value)| Header {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
            text: read_text("--text", &self.text)?,
            html: read_text("--html", &self.html)?,
            attachments,
            options: self.options()?,
            ..Mail::default()
        })
    }
}

/// `--dsn-notify`: `never`, or a comma list of success, failure, delay.
fn parse_notify(value: &str) -> Result<Option<(bool, bool, bool)>, String> {
    let lower = value.to_ascii_lowercase();
    if lower.trim() == "never" {
        return Ok(None);
    }
    let (mut s, mut f, mut d) = (false, false, false);
    for word in lower.split(',').map(str::trim) {
        match word {
            "success" => s = true,
            "failure" => f = true,
            "delay" => d = true,
            _ => {
                return Err(format!(
                    "--dsn-notify: {value:?} must be never, or a list of success, failure, delay"
                ))
            }
        }
    }
    Ok(Some((s, f, d)))
}

/// `Name <addr>` or a bare address, as a mailbox.
fn mailbox(text: &str) -> Mailbox {
    let text = text.trim();
    if let (Some(open), true) = (text.rfind('<'), text.ends_with('>')) {
        let name = text[..open].trim().trim_matches('"').trim();
        return Mailbox {
            name: (!name.is_empty()).then(|| name.to_string()),
            address: text[open + 1..text.len() - 1].to_string(),
        };
    }
    Mailbox {
        name: None,
        address: text.to_string(),
    }
}

/// The MIME type for a file name, by its extension (application/octet-stream when
/// unknown).
pub fn content_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "txt" | "log" => "text/plain",
        "html" | "htm" => "text/html",
        "csv" => "text/csv",
        "md" => "text/markdown",
        "ics" => "text/calendar",
        "xml" => "application/xml",
        "json" => "application/json",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "eml" => "message/rfc822",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "odt" => "application/vnd.oasis.opendocument.text",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_flags() {
        let mut m = MailerArgs::default();
        m.set("--header", "X-Tag: a: b".into()).unwrap();
        assert_eq!(m.headers, [("X-Tag".to_string(), "a: b".to_string())]);
        assert!(m.set("--header", "nocolon".into()).is_err());
        m.set("--dsn-notify", "success,FAILURE".into()).unwrap();
        assert_eq!(m.dsn_notify, Some(Some((true, true, false))));
        m.set("--dsn-notify", "never".into()).unwrap();
        assert_eq!(m.dsn_notify, Some(None));
        assert!(m.set("--dsn-notify", "sometimes".into()).is_err());
        assert!(m.set("--dsn-ret", "body".into()).is_err());
        assert!(m.set("--dkim-algorithm", "rsa-sha1".into()).is_err());
        assert!(m.composes() && m.has_options());
    }

    #[test]
    fn dkim_needs_all_three() {
        let mut m = MailerArgs::default();
        m.set("--dkim-key", "k.pem".into()).unwrap();
        assert!(m.check(false, false).unwrap_err().contains("--dkim-domain"));
        m.set("--dkim-domain", "example.com".into()).unwrap();
        m.set("--dkim-selector", "s1".into()).unwrap();
        m.check(false, false).unwrap();
        assert!(m.check(false, true).is_err());
        m.set("--subject", "x".into()).unwrap();
        assert!(m.check(true, false).is_err());
    }

    #[test]
    fn mailboxes_and_types() {
        let m = mailbox("Jörg Müller <j@example.com>");
        assert_eq!(m.name.as_deref(), Some("Jörg Müller"));
        assert_eq!(m.address, "j@example.com");
        assert_eq!(mailbox("a@b").name, None);
        assert_eq!(content_type("Report.PDF"), "application/pdf");
        assert_eq!(content_type("x"), "application/octet-stream");
    }
}
