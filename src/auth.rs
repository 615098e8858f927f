//! SASL client mechanisms as step machines (no I/O): each gives an optional initial
//! response and answers the server's challenges. The session drives them (and the
//! caller's own mechanisms) through the same AUTH exchange.

use std::net::IpAddr;

use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;

use crate::error::SmtpError;

/// Go's net/smtp rule: credentials go only over TLS, or to a loopback peer, unless the
/// caller allowed otherwise.
pub fn check_channel(tls: bool, peer: IpAddr, allow_insecure: bool) -> Result<(), SmtpError> {
    if tls || allow_insecure || peer.is_loopback() {
        return Ok(());
    }
    Err(SmtpError::NotSupported(format!(
        "refusing to send credentials over an unencrypted connection to {peer}: call starttls or connect-tls first, or allow-insecure-auth"
    )))
}

/// The built-in mechanisms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MechanismKind {
    /// RFC 2195 CRAM-MD5.
    CramMd5,
    /// RFC 4616 PLAIN.
    Plain,
    /// The LOGIN mechanism (draft-murchison-sasl-login).
    Login,
    /// Google's XOAUTH2 (an OAuth 2.0 access token).
    XOAuth2,
    /// RFC 7628 OAUTHBEARER (an OAuth 2.0 access token).
    OAuthBearer,
}

impl MechanismKind {
    /// The name used in AUTH and in the EHLO reply.
    pub fn name(self) -> &'static str {
        match self {
            MechanismKind::CramMd5 => "CRAM-MD5",
            MechanismKind::Plain => "PLAIN",
            MechanismKind::Login => "LOGIN",
            MechanismKind::XOAuth2 => "XOAUTH2",
            MechanismKind::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// smtplib's `login` order: the password mechanisms it tries, best first.
    pub const LOGIN_ORDER: [MechanismKind; 3] = [
        MechanismKind::CramMd5,
        MechanismKind::Plain,
        MechanismKind::Login,
    ];

    /// Whether the secret is an OAuth token (the server may answer with a JSON error).
    pub fn is_oauth(self) -> bool {
        matches!(self, MechanismKind::XOAuth2 | MechanismKind::OAuthBearer)
    }
}

/// One run of a built-in mechanism for one user.
#[derive(Debug)]
pub struct Mechanism {
    kind: MechanismKind,
    user: String,
    secret: String,
    /// Challenges answered so far, plus one when an initial response was sent
    /// (smtplib's `_auth_challenge_count`; LOGIN falls back on it for a prompt that
    /// asks neither for the user nor the password).
    steps: u32,
}

impl Mechanism {
    /// A mechanism for `user` with `secret` (a password, or a token for OAuth).
    pub fn new(kind: MechanismKind, user: &str, secret: &str) -> Mechanism {
        Mechanism {
            kind,
            user: user.to_string(),
            secret: secret.to_string(),
            steps: 0,
        }
    }

    /// Which mechanism this is.
    pub fn kind(&self) -> MechanismKind {
        self.kind
    }

    /// The initial response to send with AUTH, when the mechanism has one.
    pub fn initial_response(&mut self) -> Option<Vec<u8>> {
        let response = match self.kind {
            MechanismKind::CramMd5 => return None,
            MechanismKind::Plain => self.plain(),
            MechanismKind::Login => self.user.clone().into_bytes(),
            MechanismKind::XOAuth2 => {
                format!("user={}\x01auth=Bearer {}\x01\x01", self.user, self.secret).into_bytes()
            }
            MechanismKind::OAuthBearer => format!(
                "n,a={},\x01auth=Bearer {}\x01\x01",
                gs2_escape(&self.user),
                self.secret
            )
            .into_bytes(),
        };
        self.steps = 1;
        Some(response)
    }

    /// The answer to a decoded server challenge (for LOGIN, the one the prompt asks
    /// for: see `login`).
    pub fn respond(&mut self, challenge: &[u8]) -> Vec<u8> {
        self.steps += 1;
        match self.kind {
            MechanismKind::Plain => self.plain(),
            MechanismKind::Login => self.login(challenge),
            MechanismKind::CramMd5 => self.cram_md5(challenge),
            // A challenge after the token is the server's JSON error: XOAUTH2 ends the
            // exchange with an empty response, OAUTHBEARER with %x01 (RFC 7628 3.2.3).
            MechanismKind::XOAuth2 => Vec::new(),
            MechanismKind::OAuthBearer => vec![0x01],
        }
    }

    /// LOGIN's answer: the user name to a prompt that starts with `user` (`Username:`,
    /// `User Name`), the password to one that starts with `pass` (`Password:`), case
    /// and surrounding white space ignored; to any other prompt, by the order (the user
    /// name first, then the password), as smtplib does.
    fn login(&self, challenge: &[u8]) -> Vec<u8> {
        let prompt = challenge.trim_ascii();
        let starts = |word: &[u8]| {
            prompt
                .get(..word.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(word))
        };
        let user = if starts(b"user") {
            true
        } else if starts(b"pass") {
            false
        } else {
            self.steps < 2
        };
        if user {
            self.user.clone().into_bytes()
        } else {
            self.secret.clone().into_bytes()
        }
    }

    fn plain(&self) -> Vec<u8> {
        format!("\0{}\0{}", self.user, self.secret).into_bytes()
    }

    fn cram_md5(&self, challenge: &[u8]) -> Vec<u8> {
        let digest = match <Hmac<Md5> as KeyInit>::new_from_slice(self.secret.as_bytes()) {
            Ok(mut mac) => {
                mac.update(challenge);
                mac.finalize().into_bytes()
            }
            // HMAC takes keys of any length; this arm cannot be reached.
            Err(_) => return Vec::new(),
        };
        let mut out = self.user.clone().into_bytes();
        out.push(b' ');
        for b in digest.iter() {
            out.extend_from_slice(format!("{b:02x}").as_bytes());
        }
        out
    }
}

/// RFC 5801 saslname escaping for the authzid in a GS2 header.
fn gs2_escape(s: &str) -> String {
    s.replace('=', "=3D").replace(',', "=2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_stay_off_cleartext_to_remote_peers() {
        let remote: IpAddr = "192.0.2.7".parse().unwrap();
        assert!(
            matches!(check_channel(false, remote, false), Err(SmtpError::NotSupported(m)) if m.contains("192.0.2.7"))
        );
        assert!(check_channel(true, remote, false).is_ok());
        assert!(check_channel(false, remote, true).is_ok());
        assert!(check_channel(false, "127.0.0.1".parse().unwrap(), false).is_ok());
        assert!(check_channel(false, "::1".parse().unwrap(), false).is_ok());
    }

    #[test]
    fn plain_initial_and_after_an_empty_challenge() {
        let mut m = Mechanism::new(MechanismKind::Plain, "alice", "pw");
        assert_eq!(m.initial_response().unwrap(), b"\0alice\0pw");
        assert_eq!(m.respond(b""), b"\0alice\0pw");
    }

    #[test]
    fn login_with_and_without_an_initial_response() {
        let mut m = Mechanism::new(MechanismKind::Login, "alice", "pw");
        assert_eq!(m.initial_response().unwrap(), b"alice");
        assert_eq!(m.respond(b"Password:"), b"pw");
        let mut m = Mechanism::new(MechanismKind::Login, "alice", "pw");
        assert_eq!(m.respond(b"Username:"), b"alice");
        assert_eq!(m.respond(b"Password:"), b"pw");
    }

    #[test]
    fn cram_md5_matches_rfc_2195() {
        // RFC 2195's example: user tim, password tanstaaftanstaaf.
        let mut m = Mechanism::new(MechanismKind::CramMd5, "tim", "tanstaaftanstaaf");
        assert!(m.initial_response().is_none());
        assert_eq!(
            m.respond(b"<1896.697170952@postoffice.reston.mci.net>"),
            b"tim b913a602c7eda7a495b4e6e7334d3890"
        );
    }

    #[test]
    fn oauth_initial_responses() {
        let mut m = Mechanism::new(MechanismKind::XOAuth2, "a@b.c", "tok");
        assert_eq!(
            m.initial_response().unwrap(),
            b"user=a@b.c\x01auth=Bearer tok\x01\x01"
        );
        assert_eq!(m.respond(b"{\"status\":\"401\"}"), b"");
        let mut m = Mechanism::new(MechanismKind::OAuthBearer, "a,=b", "tok");
        assert_eq!(
            m.initial_response().unwrap(),
            b"n,a=a=2C=3Db,\x01auth=Bearer tok\x01\x01"
        );
        assert_eq!(m.respond(b"{}"), b"\x01");
    }

    /// LOGIN answers the prompt it is asked, not the step it is at.
    #[test]
    fn login_answers_the_prompt_it_is_given() {
        let mut m = Mechanism::new(MechanismKind::Login, "alice", "pw");
        assert_eq!(m.respond(b"Password:"), b"pw");
        assert_eq!(m.respond(b"Username:"), b"alice");
        let mut m = Mechanism::new(MechanismKind::Login, "alice", "pw");
        assert_eq!(m.initial_response().unwrap(), b"alice");
        assert_eq!(m.respond(b"Username:"), b"alice");
        assert_eq!(m.respond(b"  password: "), b"pw");
        let mut m = Mechanism::new(MechanismKind::Login, "alice", "pw");
        assert_eq!(m.respond(b"User Name"), b"alice");
        assert_eq!(m.respond(b"USERNAME:"), b"alice");
        assert_eq!(m.respond(b"PASS"), b"pw");
        // Other prompts: the user name first, then the password.
        let mut m = Mechanism::new(MechanismKind::Login, "alice", "pw");
        assert_eq!(m.respond(b"Who?"), b"alice");
        assert_eq!(m.respond(b"\xff\x00"), b"pw");
        assert_eq!(m.respond(b""), b"pw");
    }
}
