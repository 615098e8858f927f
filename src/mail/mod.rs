//! The mailer (WIT `mailer`): a message by its parts composed into RFC 5322 bytes
//! (`compose`, with the encodings of `mime`), signed with DKIM (`dkim`), its envelope parameters
//! (`dsn`: DSN, REQUIRETLS), and one call from a transport and a mail to a delivery
//! report (`send`, on [`crate::client::Client`]).

pub mod compose;
pub mod dkim;
pub mod dsn;
pub mod mime;
pub mod send;

use crate::auth::MechanismKind;
use crate::tls_config::TlsSettings;

/// One mailbox (WIT `mailbox`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mailbox {
    /// The display name.
    pub name: Option<String>,
    /// The address, `local@domain`.
    pub address: String,
}

/// An extra header field (WIT `header`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The field name.
    pub name: String,
    /// The value (no CR or LF).
    pub value: String,
}

/// A file sent with the message (WIT `attachment`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The file name.
    pub filename: String,
    /// The MIME type.
    pub content_type: String,
    /// The bytes.
    pub content: Vec<u8>,
    /// A Content-ID makes the part inline (multipart/related with the HTML).
    pub content_id: Option<String>,
}

/// The DKIM algorithm (WIT `dkim-algorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DkimAlgorithm {
    /// rsa-sha256.
    RsaSha256,
    /// ed25519-sha256 (RFC 8463).
    Ed25519Sha256,
}

/// DKIM signing (WIT `dkim`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dkim {
    /// `d=`.
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// The private key, PEM.
    pub private_key_pem: String,
    /// The algorithm.
    pub algorithm: DkimAlgorithm,
    /// The fields to sign (`h=`); [`dkim::DEFAULT_SIGNED`] when absent.
    pub signed_headers: Option<Vec<String>>,
}

/// RFC 3461 NOTIFY (WIT `dsn-notify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    /// NOTIFY=NEVER.
    Never,
    /// NOTIFY on these events.
    On {
        /// SUCCESS.
        success: bool,
        /// FAILURE.
        failure: bool,
        /// DELAY.
        delay: bool,
    },
}

/// RFC 3461 RET (WIT `dsn-return`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsnReturn {
    /// RET=FULL.
    Full,
    /// RET=HDRS.
    Headers,
}

/// Delivery status notifications (WIT `dsn`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dsn {
    /// NOTIFY for every recipient.
    pub notify: Option<Notify>,
    /// RET.
    pub ret: Option<DsnReturn>,
    /// ENVID (printable ASCII).
    pub envid: Option<String>,
    /// ORCPT=rfc822;<recipient> with every recipient.
    pub orcpt: bool,
    /// Leave DSN out when the server does not offer it, instead of `NotSupported`.
    pub best_effort: bool,
}

/// Options beyond the content (WIT `mail-options`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailOptions {
    /// DKIM signing.
    pub dkim: Option<Dkim>,
    /// DSN.
    pub dsn: Option<Dsn>,
    /// RFC 8689 REQUIRETLS.
    pub require_tls: bool,
}

/// A message by its parts (WIT `mail`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mail {
    /// The author (From), the envelope sender unless `sender` is given.
    pub from: Mailbox,
    /// The Sender field.
    pub sender: Option<Mailbox>,
    /// To.
    pub to: Vec<Mailbox>,
    /// Cc.
    pub cc: Vec<Mailbox>,
    /// Bcc: envelope only.
    pub bcc: Vec<Mailbox>,
    /// Reply-To.
    pub reply_to: Vec<Mailbox>,
    /// The subject.
    pub subject: String,
    /// Date, seconds since the epoch; now when absent.
    pub date: Option<i64>,
    /// Message-ID without `<>`; generated when absent.
    pub message_id: Option<String>,
    /// In-Reply-To ids.
    pub in_reply_to: Vec<String>,
    /// References ids.
    pub references: Vec<String>,
    /// Extra fields.
    pub headers: Vec<Header>,
    /// The plain-text body.
    pub text: Option<String>,
    /// The HTML body.
    pub html: Option<String>,
    /// Attachments and inline parts.
    pub attachments: Vec<Attachment>,
    /// DKIM, DSN, REQUIRETLS.
    pub options: MailOptions,
}

impl Mail {
    /// The envelope sender: Sender when given, else From.
    pub fn envelope_from(&self) -> &str {
        self.sender
            .as_ref()
            .map(|s| s.address.as_str())
            .unwrap_or(&self.from.address)
    }

    /// The envelope recipients: To, Cc and Bcc, each address once, in that order.
    pub fn envelope_to(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for mailbox in self.to.iter().chain(&self.cc).chain(&self.bcc) {
            if !out.iter().any(|a| a == &mailbox.address) {
                out.push(mailbox.address.clone());
            }
        }
        out
    }
}

/// How the connection is secured (WIT `security`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte.
    ImplicitTls,
    /// STARTTLS, required.
    StartTlsRequired,
    /// No TLS.
    None,
}

/// Credentials (WIT `credentials`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A password, tried as smtplib's `login` does.
    Password {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// An OAuth 2.0 access token.
    OAuth {
        /// The user.
        user: String,
        /// The token.
        token: String,
        /// XOAUTH2 or OAUTHBEARER.
        mechanism: MechanismKind,
    },
}

/// Where and how to send (WIT `transport`).
#[derive(Debug, Clone)]
pub struct Transport {
    /// Host name or IP literal.
    pub host: String,
    /// The port; by security when absent.
    pub port: Option<u16>,
    /// How the connection is secured.
    pub security: Security,
    /// TLS settings.
    pub tls: TlsSettings,
    /// Credentials.
    pub credentials: Option<Credentials>,
    /// Credentials may go in clear to a non-loopback peer.
    pub allow_insecure_auth: bool,
    /// The EHLO name.
    pub local_hostname: Option<String>,
    /// The timeout in milliseconds.
    pub timeout_ms: Option<u32>,
    /// LMTP instead of SMTP.
    pub lmtp: bool,
}
