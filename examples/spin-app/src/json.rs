//! The few JSON answers the app gives, written by hand (no serde in a small guest).

use crate::bindings::smtplib::smtp::client::Refusal;

/// `{"sent":true,"refused":[{"recipient":..,"code":..,"text":..}]}`
pub fn sent(refused: &[Refusal]) -> String {
    let items: Vec<String> = refused
        .iter()
        .map(|r| {
            format!(
                "{{\"recipient\":{},\"code\":{},\"text\":{}}}",
                string(&r.recipient),
                r.reply.code,
                string(&r.reply.text)
            )
        })
        .collect();
    format!("{{\"sent\":true,\"refused\":[{}]}}\n", items.join(","))
}

/// `{"sent":false,"error":..}`
pub fn error(message: &str) -> String {
    format!("{{\"sent\":false,\"error\":{}}}\n", string(message))
}

/// A JSON string literal.
fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
