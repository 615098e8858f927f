//! Address quoting for MAIL and RCPT, as smtplib's `quoteaddr` does it.

/// Turns what the caller gave into the `<addr>` form used in MAIL and RCPT:
/// `Name <a@b>` gives `<a@b>`, `a@b (comment)` gives `<a@b>`, an empty string gives the
/// null path `<>`, and anything else is wrapped in angle brackets as it is.
pub fn quote_addr(addr: &str) -> String {
    let trimmed = addr.trim();
    if let (Some(open), Some(close)) = (trimmed.rfind('<'), trimmed.rfind('>')) {
        if open < close {
            let inner = trimmed.get(open + 1..close).unwrap_or_default().trim();
            return format!("<{inner}>");
        }
    }
    let without_comments = strip_comments(trimmed);
    format!("<{}>", without_comments.trim())
}

/// Removes RFC 5322 comments `( … )`, nested or not, outside quoted strings.
fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    let mut in_quotes = false;
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            if depth == 0 {
                out.push(c);
            }
            escaped = false;
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '"' if depth == 0 => {
                in_quotes = !in_quotes;
                out.push(c);
            }
            '(' if !in_quotes => depth += 1,
            ')' if !in_quotes && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::quote_addr;

    #[test]
    fn forms() {
        assert_eq!(quote_addr("a@b.c"), "<a@b.c>");
        assert_eq!(quote_addr("  a@b.c "), "<a@b.c>");
        assert_eq!(quote_addr("Alice <a@b.c>"), "<a@b.c>");
        assert_eq!(quote_addr("\"Al <x>\" <a@b.c>"), "<a@b.c>");
        assert_eq!(quote_addr("<a@b.c>"), "<a@b.c>");
        assert_eq!(quote_addr(""), "<>");
        assert_eq!(quote_addr("<>"), "<>");
        assert_eq!(quote_addr("a@b.c (Alice (the) first)"), "<a@b.c>");
        assert_eq!(quote_addr("\"a(b)\"@c.d"), "<\"a(b)\"@c.d>");
    }
}
