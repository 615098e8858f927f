//! The EHLO reply as a list of service extensions, parsed as smtplib parses it.

/// The extensions a server advertised: names in lower case with their parameters, in
/// the server's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Features {
    entries: Vec<(String, String)>,
}

impl Features {
    /// Parses the text of a 250 reply to EHLO (lines joined with "\n"). The first line
    /// is the server's greeting and is skipped. Old-style `AUTH=` lines and repeated
    /// `AUTH` lines add their mechanisms to `auth`; any other repeated keyword keeps its
    /// last parameters.
    pub fn parse(text: &str) -> Features {
        let mut features = Features::default();
        for line in text.split('\n').skip(1) {
            if let Some(rest) = strip_prefix_ignore_case(line, "auth=") {
                features.append_auth(rest);
                continue;
            }
            let name_len = line
                .bytes()
                .enumerate()
                .take_while(|&(i, b)| b.is_ascii_alphanumeric() || (i > 0 && b == b'-'))
                .count();
            if name_len == 0 {
                continue;
            }
            let (name, params) = line.split_at(name_len);
            let name = name.to_ascii_lowercase();
            let params = params.trim();
            if name == "auth" {
                features.append_auth(params);
            } else {
                features.set(name, params.to_string());
            }
        }
        features
    }

    fn append_auth(&mut self, mechanisms: &str) {
        match self.entries.iter_mut().find(|(n, _)| n == "auth") {
            Some((_, params)) => {
                params.push(' ');
                params.push_str(mechanisms);
            }
            None => self.entries.push(("auth".into(), format!(" {mechanisms}"))),
        }
    }

    fn set(&mut self, name: String, params: String) {
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some((_, p)) => *p = params,
            None => self.entries.push((name, params)),
        }
    }

    /// The parameters of extension `name` (case is ignored), if advertised.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, p)| p.as_str())
    }

    /// Whether extension `name` was advertised (case is ignored).
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Every extension in the server's order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, p)| (n.as_str(), p.as_str()))
    }

    /// The advertised maximum message size, when SIZE carries a non-zero number.
    pub fn size_limit(&self) -> Option<u64> {
        self.get("size")?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
            .filter(|&n| n > 0)
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typical_postfix_reply() {
        let f = Features::parse(
            "mx.example.com\nPIPELINING\nSIZE 10240000\nVRFY\nETRN\nSTARTTLS\nAUTH PLAIN LOGIN\nAUTH=PLAIN LOGIN\nENHANCEDSTATUSCODES\n8BITMIME\nDSN\nSMTPUTF8\nCHUNKING",
        );
        assert!(f.has("pipelining"));
        assert!(f.has("StartTLS"));
        assert!(!f.has("mx.example.com"));
        assert_eq!(f.get("size"), Some("10240000"));
        assert_eq!(f.size_limit(), Some(10_240_000));
        assert_eq!(f.get("auth"), Some(" PLAIN LOGIN PLAIN LOGIN"));
        assert_eq!(f.iter().count(), 11);
        assert_eq!(f.iter().next(), Some(("pipelining", "")));
    }

    #[test]
    fn odd_lines_are_skipped_and_last_wins() {
        let f = Features::parse("hi\n-bad\n\nSIZE 1\nsize 2\nX-EXT-1 a b ");
        assert_eq!(f.get("SIZE"), Some("2"));
        assert_eq!(f.get("x-ext-1"), Some("a b"));
        assert_eq!(f.iter().count(), 2);
    }

    #[test]
    fn size_zero_means_no_limit() {
        assert_eq!(Features::parse("hi\nSIZE 0").size_limit(), None);
        assert_eq!(Features::parse("hi\nSIZE").size_limit(), None);
    }

    #[test]
    fn non_ascii_does_not_panic() {
        let f = Features::parse("hi\nÄUTH=x\nauth=é\nü");
        assert_eq!(f.get("auth"), Some(" é"));
    }
}
