//! Addresses: quoting for MAIL and RCPT as smtplib's `quoteaddr` does it, and RFC 5322
//! address lists (display names, quoted local parts, comments, groups) for
//! `send-message`, as Python's `email.utils.getaddresses` reads them.

use crate::error::SmtpError;

/// One mailbox of an address list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name (empty when there is none).
    pub name: String,
    /// The address (`local@domain`, quoted local parts kept quoted).
    pub addr: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// An atom or dot-atom piece.
    Atom(String),
    /// A quoted string, with its quotes and escapes as written.
    Quoted(String),
    /// A domain literal `[...]`.
    Literal(String),
    /// One of `< > , : ; @ .`.
    Special(char),
}

impl Token {
    fn is(&self, c: char) -> bool {
        *self == Token::Special(c)
    }

    /// The token as it goes into an address.
    fn raw(&self) -> String {
        match self {
            Token::Atom(s) | Token::Quoted(s) | Token::Literal(s) => s.clone(),
            Token::Special(c) => c.to_string(),
        }
    }

    /// The token as it reads in a display name (quotes and escapes removed).
    fn display(&self) -> String {
        match self {
            Token::Quoted(s) => {
                let inner = s.strip_prefix('"').unwrap_or(s);
                let inner = inner.strip_suffix('"').unwrap_or(inner);
                let mut out = String::with_capacity(inner.len());
                let mut escaped = false;
                for c in inner.chars() {
                    if escaped || c != '\\' {
                        out.push(c);
                        escaped = false;
                    } else {
                        escaped = true;
                    }
                }
                out
            }
            other => other.raw(),
        }
    }
}

/// Splits a header value into tokens, dropping white space and comments.
fn tokenize(s: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                let mut depth = 0usize;
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '(' => depth += 1,
                        ')' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
            }
            '"' => {
                let mut q = String::from('"');
                let mut closed = false;
                chars.next();
                while let Some(c) = chars.next() {
                    q.push(c);
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                q.push(n);
                            }
                        }
                        '"' => {
                            closed = true;
                            break;
                        }
                        _ => {}
                    }
                }
                // An unterminated quoted string swallows the rest: it holds no address.
                if closed {
                    tokens.push(Token::Quoted(q));
                }
            }
            '[' => {
                let mut lit = String::new();
                for c in chars.by_ref() {
                    lit.push(c);
                    if c == ']' {
                        break;
                    }
                }
                tokens.push(Token::Literal(lit));
            }
            '<' | '>' | ',' | ':' | ';' | '@' | '.' => {
                chars.next();
                tokens.push(Token::Special(c));
            }
            _ => {
                let mut atom = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || "()<>,:;@.\"[".contains(c) {
                        break;
                    }
                    atom.push(c);
                    chars.next();
                }
                if atom.is_empty() {
                    // A character that starts no token (a stray `)`): skip it, or the
                    // loop would never advance.
                    chars.next();
                    continue;
                }
                tokens.push(Token::Atom(atom));
            }
        }
    }
    tokens
}

/// Reads one mailbox from its tokens; `None` when it holds no address.
fn mailbox(tokens: &[Token]) -> Option<Mailbox> {
    let open = tokens.iter().position(|t| t.is('<'));
    let (name_tokens, addr_tokens) = match open {
        Some(open) => {
            let inner = tokens.get(open + 1..).unwrap_or_default();
            let close = inner.iter().position(|t| t.is('>')).unwrap_or(inner.len());
            let inner = inner.get(..close).unwrap_or_default();
            // Drop an obsolete source route (`@a,@b:`).
            let route_end = inner.iter().rposition(|t| t.is(':')).map_or(0, |i| i + 1);
            (
                tokens.get(..open).unwrap_or_default(),
                inner.get(route_end..).unwrap_or_default(),
            )
        }
        None => (&[][..], tokens),
    };
    let addr: String = addr_tokens.iter().map(Token::raw).collect();
    if addr.is_empty() {
        return None;
    }
    let name = name_tokens
        .iter()
        .map(Token::display)
        .collect::<Vec<_>>()
        .join(" ");
    Some(Mailbox { name, addr })
}

/// Parses an RFC 5322 address list (the value of To, Cc, Bcc, From, Sender…). Groups
/// give their members (`undisclosed-recipients:;` gives none); comments are dropped;
/// entries without an address are skipped.
pub fn parse_list(value: &str) -> Vec<Mailbox> {
    let mut out = Vec::new();
    let mut current: Vec<Token> = Vec::new();
    let mut in_angle = false;
    let mut in_group = false;
    for token in tokenize(value) {
        match token {
            Token::Special('<') => {
                in_angle = true;
                current.push(token);
            }
            Token::Special('>') => {
                in_angle = false;
                current.push(token);
            }
            Token::Special(',') if !in_angle => {
                out.extend(mailbox(&current));
                current.clear();
            }
            Token::Special(':') if !in_angle && !in_group => {
                // A group: what came before is its name.
                current.clear();
                in_group = true;
            }
            Token::Special(';') if !in_angle && in_group => {
                out.extend(mailbox(&current));
                current.clear();
                in_group = false;
            }
            other => current.push(other),
        }
    }
    out.extend(mailbox(&current));
    out
}

/// Turns what the caller gave into the `<addr>` form used in MAIL and RCPT, reading it
/// as smtplib's `quoteaddr` (through `email.utils.parseaddr`) does: an empty string
/// gives the null path `<>`; `Name <a@b>` gives `<a@b>` (the first `<` outside a quoted
/// string or comment opens the address); `a@b (comment)` gives `<a@b>`; a quoted local
/// part such as `"a b"@x.org` keeps its quotes and spaces.
///
/// Refuses (`InvalidArgument`) whatever would change the command around the path, so
/// that the caller's text cannot add ESMTP parameters: an address holding `<`, `>` or
/// white space outside a quoted string, an unclosed `<` or quoted string, or anything
/// but white space and comments after the closing `>`.
pub fn quote_addr(addr: &str) -> Result<String, SmtpError> {
    let refuse = |why: &str| {
        Err(SmtpError::InvalidArgument(format!(
            "address {addr:?} {why}"
        )))
    };
    let trimmed = addr.trim();
    let inner = match first_outside(trimmed, '<') {
        Some(open) => {
            let after = trimmed.get(open + 1..).unwrap_or_default();
            let Some(close) = first_outside(after, '>') else {
                return refuse("has a '<' that is not closed by '>'");
            };
            let rest = after.get(close + 1..).unwrap_or_default();
            if !strip_comments(rest).trim().is_empty() {
                return refuse("has text after the closing '>'");
            }
            after.get(..close).unwrap_or_default()
        }
        None => trimmed,
    };
    let path = strip_comments(inner);
    let path = path.trim();
    let mut in_quotes = false;
    let mut escaped = false;
    for c in path.chars() {
        if in_quotes {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_quotes = false,
                _ => {}
            }
            continue;
        }
        match c {
            '<' | '>' => return refuse(&format!("has a '{c}' in the address")),
            c if c.is_whitespace() => {
                return refuse("has white space outside a quoted string");
            }
            // A backslash outside quotes escapes nothing that may not stand alone (as
            // strip_comments reads it, it keeps the next `"` from opening a quote).
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => in_quotes = true,
            _ => {}
        }
    }
    if in_quotes {
        return refuse("has a quoted string that is not closed");
    }
    Ok(format!("<{path}>"))
}

/// The byte index of the first `target` in `s` outside quoted strings and comments.
fn first_outside(s: &str, target: char) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quotes || depth > 0 => escaped = true,
            '"' if depth == 0 => in_quotes = !in_quotes,
            '(' if !in_quotes => depth += 1,
            ')' if !in_quotes && depth > 0 => depth -= 1,
            c if c == target && !in_quotes && depth == 0 => return Some(i),
            _ => {}
        }
    }
    None
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
    use super::{parse_list, quote_addr, Mailbox};
    use crate::error::SmtpError;

    fn addrs(v: &str) -> Vec<String> {
        parse_list(v).into_iter().map(|m| m.addr).collect()
    }

    #[test]
    fn address_lists() {
        assert_eq!(addrs("a@b.c"), ["a@b.c"]);
        assert_eq!(addrs(" Alice <a@b.c>, bob@d.e "), ["a@b.c", "bob@d.e"]);
        assert_eq!(
            parse_list("\"Doe, John\" <j@x.org>"),
            [Mailbox {
                name: "Doe, John".into(),
                addr: "j@x.org".into()
            }]
        );
        assert_eq!(
            addrs("\"a b\"@x.org, c@y.org (Carol, the third)"),
            ["\"a b\"@x.org", "c@y.org"]
        );
        assert_eq!(
            addrs("team: a@x.org, B <b@x.org>;, c@x.org"),
            ["a@x.org", "b@x.org", "c@x.org"]
        );
        assert_eq!(addrs("undisclosed-recipients:;"), Vec::<String>::new());
        assert_eq!(addrs("a@x.org,\r\n\t b@x.org"), ["a@x.org", "b@x.org"]);
        assert_eq!(addrs("<@route.a,@route.b:j@x.org>"), ["j@x.org"]);
        assert_eq!(addrs("j@[192.0.2.1]"), ["j@[192.0.2.1]"]);
        assert_eq!(
            addrs("J\u{f6}rg <j\u{f6}rg@b\u{fc}cher.example>"),
            ["j\u{f6}rg@b\u{fc}cher.example"]
        );
        assert_eq!(addrs(",,"), Vec::<String>::new());
        assert_eq!(addrs("a@x.org (unclosed comment"), ["a@x.org"]);
        assert_eq!(addrs("\"unclosed <a@x.org>"), Vec::<String>::new());
        // Found by the fuzzer: stray characters that start no token once looped forever.
        assert_eq!(addrs(")"), Vec::<String>::new());
        assert_eq!(addrs("a@x.org) , b@y.org)"), ["a@x.org", "b@y.org"]);
    }

    #[test]
    fn forms() {
        let q = |a: &str| quote_addr(a).unwrap();
        assert_eq!(q("a@b.c"), "<a@b.c>");
        assert_eq!(q("  a@b.c "), "<a@b.c>");
        assert_eq!(q("Alice <a@b.c>"), "<a@b.c>");
        assert_eq!(q("\"Al <x>\" <a@b.c>"), "<a@b.c>");
        assert_eq!(q("<a@b.c>"), "<a@b.c>");
        assert_eq!(q(""), "<>");
        assert_eq!(q("<>"), "<>");
        assert_eq!(q("a@b.c (Alice (the) first)"), "<a@b.c>");
        assert_eq!(q("\"a(b)\"@c.d"), "<\"a(b)\"@c.d>");
        assert_eq!(q("\"a b\"@x.org"), "<\"a b\"@x.org>");
        assert_eq!(q("Name (a <comment>) <a@b.c> (x) "), "<a@b.c>");
        assert_eq!(q("< a@b.c >"), "<a@b.c>");
        assert_eq!(q("<\"a> b\"@c.d>"), "<\"a> b\"@c.d>");
        assert_eq!(q("<@r.a,@r.b:j@x.org>"), "<@r.a,@r.b:j@x.org>");
    }

    /// Whatever would put text outside the `<…>` path of MAIL or RCPT is refused.
    #[test]
    fn injection_refused() {
        for bad in [
            "victim@example.com> NOTIFY=SUCCESS ORCPT=rfc822;x",
            "<victim@example.com> NOTIFY=SUCCESS",
            "Name <a@b.c> ORCPT=rfc822;x",
            "<a@b.c> \"quoted\"",
            "a@b.c SIZE=1",
            "a\tb@c.d",
            "a\\ b@c.d",
            "<a@b.c",
            "Name <a@b.c (comment>",
            "<a<b@c.d>",
            "<a@b.c>>",
            "a@b>c.d",
            "\"a b@c.d",
            "<\"a b@c.d>",
            "a\\\"b c\"@d.e",
        ] {
            assert!(
                matches!(quote_addr(bad), Err(SmtpError::InvalidArgument(_))),
                "{bad:?} gave {:?}",
                quote_addr(bad)
            );
        }
    }
}
