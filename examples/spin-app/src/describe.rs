//! One line for an error: its kind as the WIT names it, then what the server said.
//! (Shared with examples/spin-app-p3, whose bindings have the same types.)

use crate::bindings::smtplib::smtp::client::{Refusal, SmtpError};

/// A one-line description of an error, naming its kind as the WIT does.
pub fn describe(error: &SmtpError) -> String {
    let refusals = |list: &[Refusal]| {
        list.iter()
            .map(|r| format!("{} ({} {})", r.recipient, r.reply.code, r.reply.text))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match error {
        SmtpError::ServerDisconnected(m) => format!("server-disconnected: {m}"),
        SmtpError::Response(r) => format!("response: {} {}", r.code, r.text),
        SmtpError::SenderRefused(s) => {
            format!(
                "sender-refused: {} ({} {})",
                s.sender, s.reply.code, s.reply.text
            )
        }
        SmtpError::RecipientsRefused(list) => format!("recipients-refused: {}", refusals(list)),
        SmtpError::DataError(r) => format!("data-error: {} {}", r.code, r.text),
        SmtpError::ConnectError(r) => format!("connect-error: {} {}", r.code, r.text),
        SmtpError::HeloError(r) => format!("helo-error: {} {}", r.code, r.text),
        SmtpError::NotSupported(m) => format!("not-supported: {m}"),
        SmtpError::AuthenticationError(r) => {
            format!("authentication-error: {} {}", r.code, r.text)
        }
        SmtpError::Timeout(m) => format!("timeout: {m}"),
        SmtpError::Tls(m) => format!("tls: {m}"),
        SmtpError::Io(m) => format!("io: {m}"),
        SmtpError::InvalidArgument(m) => format!("invalid-argument: {m}"),
        SmtpError::MalformedReply(m) => format!("malformed-reply: {m}"),
        SmtpError::DeliveryUnknown(m) => format!("delivery-unknown: {m}"),
    }
}
