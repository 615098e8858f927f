//! The component's error type: one case per case of the WIT `smtp-error` variant.

use crate::protocol::reply::Reply;

/// A recipient the server refused, with its reply (WIT `refusal`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The recipient exactly as the caller gave it.
    pub recipient: String,
    /// The server's reply to RCPT.
    pub reply: Reply,
}

/// Everything that can go wrong; maps one-to-one onto WIT `smtp-error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmtpError {
    /// smtplib's `SMTPServerDisconnected`.
    #[error("server disconnected: {0}")]
    ServerDisconnected(String),
    /// smtplib's `SMTPResponseException`.
    #[error("unexpected reply: {0}")]
    Response(Reply),
    /// smtplib's `SMTPSenderRefused`.
    #[error("sender {sender} refused: {reply}")]
    SenderRefused {
        /// The sender as the caller gave it.
        sender: String,
        /// The server's reply to MAIL.
        reply: Reply,
    },
    /// smtplib's `SMTPRecipientsRefused`: every recipient was refused.
    #[error("all {} recipients refused", .0.len())]
    RecipientsRefused(Vec<Refusal>),
    /// smtplib's `SMTPDataError`.
    #[error("message data refused: {0}")]
    DataError(Reply),
    /// smtplib's `SMTPConnectError`: the greeting was not 220.
    #[error("greeting refused: {0}")]
    ConnectError(Reply),
    /// smtplib's `SMTPHeloError`.
    #[error("HELO refused: {0}")]
    HeloError(Reply),
    /// smtplib's `SMTPNotSupportedError`.
    #[error("not supported: {0}")]
    NotSupported(String),
    /// smtplib's `SMTPAuthenticationError`.
    #[error("authentication failed: {0}")]
    AuthenticationError(Reply),
    /// A connect, read or write exceeded the timeout.
    #[error("timed out: {0}")]
    Timeout(String),
    /// A TLS failure.
    #[error("TLS: {0}")]
    Tls(String),
    /// A network failure (lookup, refused, reset).
    #[error("I/O: {0}")]
    Io(String),
    /// smtplib's `ValueError`: an unusable argument; nothing was sent.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The server's reply broke the SMTP grammar.
    #[error("malformed reply: {0}")]
    MalformedReply(String),
    /// The connection was lost after the whole message was sent, before the reply.
    #[error("delivery unknown: {0}")]
    DeliveryUnknown(String),
}

impl SmtpError {
    /// The name of the WIT `smtp-error` case this error maps to (also the JSON `kind`
    /// that hosts print).
    pub fn kind(&self) -> &'static str {
        match self {
            SmtpError::ServerDisconnected(_) => "server-disconnected",
            SmtpError::Response(_) => "response",
            SmtpError::SenderRefused { .. } => "sender-refused",
            SmtpError::RecipientsRefused(_) => "recipients-refused",
            SmtpError::DataError(_) => "data-error",
            SmtpError::ConnectError(_) => "connect-error",
            SmtpError::HeloError(_) => "helo-error",
            SmtpError::NotSupported(_) => "not-supported",
            SmtpError::AuthenticationError(_) => "authentication-error",
            SmtpError::Timeout(_) => "timeout",
            SmtpError::Tls(_) => "tls",
            SmtpError::Io(_) => "io",
            SmtpError::InvalidArgument(_) => "invalid-argument",
            SmtpError::MalformedReply(_) => "malformed-reply",
            SmtpError::DeliveryUnknown(_) => "delivery-unknown",
        }
    }
}
