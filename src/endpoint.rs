//! Where to connect: smtplib's `host` / `host:port` rules plus IP literals, checked
//! before any socket is opened.

use std::net::IpAddr;

use crate::error::SmtpError;

/// The host to reach: an IP literal, or a name to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// An IPv4 or IPv6 literal.
    Ip(IpAddr),
    /// A DNS name.
    Name(String),
}

impl std::fmt::Display for Host {
    /// The IP literal, or the name, as given.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Ip(ip) => ip.fmt(f),
            Host::Name(n) => f.write_str(n),
        }
    }
}

/// A parsed connect target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// What to connect to.
    pub host: Host,
    /// The TCP port.
    pub port: u16,
}

/// Parses `host` as smtplib's `connect` does: when `port` is not given and the host has
/// exactly one colon, the part after it is the port. `[v6]` and `[v6]:port` are also
/// accepted; a bare IPv6 literal (several colons) is taken whole. An empty host means
/// `localhost`; `default_port` applies when no port is given anywhere.
pub fn parse(host: &str, port: Option<u16>, default_port: u16) -> Result<Endpoint, SmtpError> {
    let invalid = |why: &str| SmtpError::InvalidArgument(format!("host {host:?}: {why}"));
    if host.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid("contains a control or space character"));
    }
    let port = port.filter(|&p| p != 0);
    let (name, suffix_port) = if let Some(rest) = host.strip_prefix('[') {
        let (inner, after) = rest
            .split_once(']')
            .ok_or_else(|| invalid("no closing ]"))?;
        match after {
            "" => (inner, None),
            _ => {
                let p = after
                    .strip_prefix(':')
                    .ok_or_else(|| invalid("junk after ]"))?;
                (inner, Some(p))
            }
        }
    } else if port.is_none() && host.matches(':').count() == 1 {
        let (h, p) = host.split_once(':').ok_or_else(|| invalid("bad port"))?;
        (h, Some(p))
    } else {
        (host, None)
    };
    let port = match (port, suffix_port) {
        (Some(p), _) => p,
        (None, Some(p)) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| invalid("nonnumeric or zero port"))?,
        (None, None) => default_port,
    };
    let name = if name.is_empty() { "localhost" } else { name };
    let host = match name.parse::<IpAddr>() {
        Ok(ip) => Host::Ip(ip),
        Err(_) if host.starts_with('[') => return Err(invalid("not an IPv6 literal")),
        Err(_) if name.contains(':') => return Err(invalid("not an IP literal")),
        Err(_) => Host::Name(name.to_string()),
    };
    Ok(Endpoint { host, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(host: &str, port: Option<u16>) -> Result<(Host, u16), SmtpError> {
        parse(host, port, 25).map(|e| (e.host, e.port))
    }

    #[test]
    fn smtplib_forms() {
        assert_eq!(
            ep("mx.example.com", None).unwrap(),
            (Host::Name("mx.example.com".into()), 25)
        );
        assert_eq!(
            ep("mx:2525", None).unwrap(),
            (Host::Name("mx".into()), 2525)
        );
        assert_eq!(ep("mx", Some(587)).unwrap(), (Host::Name("mx".into()), 587));
        assert_eq!(ep("", None).unwrap(), (Host::Name("localhost".into()), 25));
        assert_eq!(ep("127.0.0.1:1025", None).unwrap().1, 1025);
    }

    #[test]
    fn ipv6_literals() {
        let v6: IpAddr = "::1".parse().unwrap();
        assert_eq!(ep("::1", None).unwrap(), (Host::Ip(v6), 25));
        assert_eq!(ep("::1", Some(26)).unwrap(), (Host::Ip(v6), 26));
        assert_eq!(ep("[::1]:2525", None).unwrap(), (Host::Ip(v6), 2525));
        assert_eq!(ep("[::1]", None).unwrap(), (Host::Ip(v6), 25));
    }

    #[test]
    fn bad_hosts() {
        for bad in [
            "mx:abc",
            "mx:0",
            "mx:99999",
            "a\r\nb",
            "a b",
            "[::1",
            "[nope]:25",
            "[::1]x",
        ] {
            assert!(
                matches!(ep(bad, None), Err(SmtpError::InvalidArgument(_))),
                "{bad}"
            );
        }
    }
}
