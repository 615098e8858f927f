//! DKIM signing (RFC 6376) with relaxed/relaxed canonicalization, rsa-sha256 and
//! ed25519-sha256 (RFC 8463), on ring (already in for rustls). Written here because
//! the signing crates bring a DNS resolver and their own crypto stacks along; the
//! signer is the canonicalizations, one hash and one signature.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ring::digest::{digest, SHA256};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, RsaKeyPair, RSA_PKCS1_SHA256};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;

use super::{Dkim, DkimAlgorithm};
use crate::error::SmtpError;

/// The fields signed by default, those present (RFC 6376 5.4.1's recommendation).
pub const DEFAULT_SIGNED: &[&str] = &[
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
];

fn bad(what: impl Into<String>) -> SmtpError {
    SmtpError::InvalidArgument(format!("DKIM: {}", what.into()))
}

/// A private key, ready to sign.
enum Key {
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

fn load_key(pem: &str, algorithm: DkimAlgorithm) -> Result<Key, SmtpError> {
    let der = PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| bad(format!("no usable private key in the PEM ({e})")))?;
    match (algorithm, &der) {
        (DkimAlgorithm::RsaSha256, PrivateKeyDer::Pkcs8(k)) => {
            RsaKeyPair::from_pkcs8(k.secret_pkcs8_der())
                .map(Key::Rsa)
                .map_err(|e| bad(format!("not an RSA key for rsa-sha256 ({e})")))
        }
        (DkimAlgorithm::RsaSha256, PrivateKeyDer::Pkcs1(k)) => {
            RsaKeyPair::from_der(k.secret_pkcs1_der())
                .map(Key::Rsa)
                .map_err(|e| bad(format!("unusable RSA key ({e})")))
        }
        (DkimAlgorithm::Ed25519Sha256, PrivateKeyDer::Pkcs8(k)) => {
            Ed25519KeyPair::from_pkcs8_maybe_unchecked(k.secret_pkcs8_der())
                .map(Key::Ed25519)
                .map_err(|e| bad(format!("not an Ed25519 key for ed25519-sha256 ({e})")))
        }
        (DkimAlgorithm::Ed25519Sha256, _) => Err(bad(
            "ed25519-sha256 needs a PKCS#8 Ed25519 key (BEGIN PRIVATE KEY)",
        )),
        (DkimAlgorithm::RsaSha256, _) => Err(bad(
            "rsa-sha256 needs an RSA key (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)",
        )),
    }
}

/// Whether `s` may stand in a tag value as it is (d=, s=): a domain or selector.
fn check_label(what: &str, s: &str) -> Result<(), SmtpError> {
    let ok = !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(bad(format!("{what} {s:?} is not a domain name")))
    }
}

/// One header field of a message: its name and its raw bytes (folding and CRLF kept).
struct Field<'a> {
    name: &'a str,
    raw: &'a [u8],
}

/// The header fields of `msg` (CRLF line ends) and the body after the blank line.
fn split(msg: &[u8]) -> (Vec<Field<'_>>, &[u8]) {
    let mut fields: Vec<Field<'_>> = Vec::new();
    let mut pos = 0;
    let mut start: Option<usize> = None;
    let body_at = loop {
        let Some(rest) = msg.get(pos..) else {
            break msg.len();
        };
        let line_len = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .map(|i| i + 2)
            .unwrap_or(rest.len());
        let line = rest.get(..line_len).unwrap_or_default();
        let continues = matches!(line.first(), Some(b' ' | b'\t'));
        if !continues {
            if let Some(s) = start.take() {
                push_field(&mut fields, msg.get(s..pos).unwrap_or_default());
            }
        }
        if line == b"\r\n" || line.is_empty() {
            break pos + line.len();
        }
        if !continues {
            start = Some(pos);
        }
        pos += line_len;
    };
    if let Some(s) = start {
        push_field(
            &mut fields,
            msg.get(s..pos.min(msg.len())).unwrap_or_default(),
        );
    }
    (fields, msg.get(body_at..).unwrap_or_default())
}

fn push_field<'a>(fields: &mut Vec<Field<'a>>, raw: &'a [u8]) {
    let Some(colon) = raw.iter().position(|&b| b == b':') else {
        return;
    };
    let Ok(name) = std::str::from_utf8(raw.get(..colon).unwrap_or_default()) else {
        return;
    };
    fields.push(Field {
        name: name.trim_end_matches([' ', '\t']),
        raw,
    });
}

/// RFC 6376 3.4.2: relaxed header canonicalization of one raw field.
fn relaxed_header(raw: &[u8]) -> Vec<u8> {
    let colon = raw.iter().position(|&b| b == b':').unwrap_or(raw.len());
    let name = raw.get(..colon).unwrap_or_default();
    let value = raw.get(colon + 1..).unwrap_or_default();
    let mut out: Vec<u8> = name
        .iter()
        .filter(|b| !matches!(b, b' ' | b'\t'))
        .map(u8::to_ascii_lowercase)
        .collect();
    out.push(b':');
    let mut space = false;
    let mut started = false;
    for &b in value {
        match b {
            b'\r' | b'\n' => {}
            b' ' | b'\t' => space = true,
            _ => {
                if space && started {
                    out.push(b' ');
                }
                space = false;
                started = true;
                out.push(b);
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// RFC 6376 3.4.4: relaxed body canonicalization (CRLF line ends expected).
pub fn relaxed_body(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut empty_run = 0usize;
    let mut lines = body.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let last = lines.peek().is_none();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if last && line.is_empty() {
            break;
        }
        let mut canon = Vec::with_capacity(line.len());
        let mut space = false;
        for &b in line {
            if b == b' ' || b == b'\t' {
                space = true;
            } else {
                if space {
                    canon.push(b' ');
                }
                space = false;
                canon.push(b);
            }
        }
        if canon.is_empty() {
            empty_run += 1;
            continue;
        }
        for _ in 0..empty_run {
            out.extend_from_slice(b"\r\n");
        }
        empty_run = 0;
        out.extend_from_slice(&canon);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Folds a tag list for the DKIM-Signature field: tags joined by `; `, a line break
/// (CRLF, tab) before a tag that would pass 76 columns.
fn fold_tags(tags: &[String], first_column: usize) -> String {
    let mut out = String::new();
    let mut column = first_column;
    for (i, tag) in tags.iter().enumerate() {
        let sep = if i == 0 { "" } else { ";" };
        out.push_str(sep);
        if i > 0 {
            if column + tag.len() + 2 > 76 {
                out.push_str("\r\n\t");
                column = 1;
            } else {
                out.push(' ');
                column += 2;
            }
        }
        out.push_str(tag);
        column += tag.len();
    }
    out
}

/// The `DKIM-Signature` field (with its CRLF) that signs `msg` (CRLF line ends) with
/// `dkim` at time `now` (seconds since the epoch, the `t=` tag).
pub fn signature_field(msg: &[u8], dkim: &Dkim, now: Option<u64>) -> Result<Vec<u8>, SmtpError> {
    check_label("domain", &dkim.domain)?;
    check_label("selector", &dkim.selector)?;
    let key = load_key(&dkim.private_key_pem, dkim.algorithm)?;
    let (fields, body) = split(msg);
    let body_hash = BASE64.encode(digest(&SHA256, &relaxed_body(body)));

    // The names to sign: asked or default, those present, From always.
    let wanted: Vec<String> = match &dkim.signed_headers {
        Some(names) => {
            for name in names {
                if name.is_empty()
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_graphic() && b != b':' && b != b';')
                {
                    return Err(bad(format!("{name:?} is not a header field name")));
                }
            }
            names.clone()
        }
        None => DEFAULT_SIGNED.iter().map(|s| s.to_string()).collect(),
    };
    let mut names: Vec<String> = Vec::new();
    let mut push_name = |n: &str| {
        if !names.iter().any(|m| m.eq_ignore_ascii_case(n)) {
            names.push(n.to_string());
        }
    };
    if fields.iter().any(|f| f.name.eq_ignore_ascii_case("from")) {
        push_name("From");
    } else {
        return Err(bad("the message has no From field to sign"));
    }
    for name in &wanted {
        if fields.iter().any(|f| f.name.eq_ignore_ascii_case(name)) {
            push_name(name);
        }
    }

    // Each name signs its last unused occurrence, bottom up (RFC 6376 5.4.2); every
    // occurrence is signed, so none can be added without breaking the signature.
    let mut header_data = Vec::new();
    let mut h_list: Vec<String> = Vec::new();
    for name in &names {
        let occurrences: Vec<&Field<'_>> = fields
            .iter()
            .filter(|f| f.name.eq_ignore_ascii_case(name))
            .collect();
        for field in occurrences.iter().rev() {
            header_data.extend_from_slice(&relaxed_header(field.raw));
            h_list.push(name.to_ascii_lowercase());
        }
    }

    let algorithm = match dkim.algorithm {
        DkimAlgorithm::RsaSha256 => "rsa-sha256",
        DkimAlgorithm::Ed25519Sha256 => "ed25519-sha256",
    };
    let mut tags = vec![
        "v=1".to_string(),
        format!("a={algorithm}"),
        "c=relaxed/relaxed".to_string(),
        format!("d={}", dkim.domain),
        format!("s={}", dkim.selector),
    ];
    if let Some(t) = now {
        tags.push(format!("t={t}"));
    }
    tags.push(format!("h={}", h_list.join(":")));
    tags.push(format!("bh={body_hash}"));
    tags.push("b=".to_string());
    let unsigned = format!(
        "DKIM-Signature: {}",
        fold_tags(&tags, "DKIM-Signature: ".len())
    );
    // The signature field itself, b= empty, without its CRLF (RFC 6376 3.7).
    let mut canon_self = relaxed_header(unsigned.as_bytes());
    canon_self.truncate(canon_self.len().saturating_sub(2));
    header_data.extend_from_slice(&canon_self);

    let signature = match key {
        Key::Rsa(pair) => {
            let mut sig = vec![0; pair.public().modulus_len()];
            pair.sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                &header_data,
                &mut sig,
            )
            .map_err(|_| bad("RSA signing failed"))?;
            sig
        }
        Key::Ed25519(pair) => {
            let hash = digest(&SHA256, &header_data);
            pair.sign(hash.as_ref()).as_ref().to_vec()
        }
    };
    let b = BASE64.encode(signature);
    let mut field = unsigned.into_bytes();
    // The value after b= folded in 72-character pieces (verifiers drop its whitespace).
    for (i, chunk) in b.as_bytes().chunks(72).enumerate() {
        if i > 0 {
            field.extend_from_slice(b"\r\n\t ");
        }
        field.extend_from_slice(chunk);
    }
    field.extend_from_slice(b"\r\n");
    Ok(field)
}

/// `msg` with every line end as CRLF (the form DKIM signs and DATA sends).
pub fn crlf(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + msg.len() / 32);
    let mut i = 0;
    while let Some(&b) = msg.get(i) {
        match b {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if msg.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            _ => out.push(b),
        }
        i += 1;
    }
    out
}

/// `msg` signed: the DKIM-Signature field put first.
pub fn sign(msg: &[u8], dkim: &Dkim, now: Option<u64>) -> Result<Vec<u8>, SmtpError> {
    let msg = crlf(msg);
    let mut out = signature_field(&msg, dkim, now)?;
    out.extend_from_slice(&msg);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relaxed_header_as_rfc_6376_example() {
        // RFC 6376 3.4.5.
        assert_eq!(relaxed_header(b"A: X\r\n"), b"a:X\r\n");
        assert_eq!(relaxed_header(b"B : Y\t\r\n\tZ  \r\n"), b"b:Y Z\r\n");
    }

    #[test]
    fn relaxed_body_as_rfc_6376_example() {
        assert_eq!(relaxed_body(b" C \r\nD \t E\r\n\r\n\r\n"), b" C\r\nD E\r\n");
        assert_eq!(relaxed_body(b""), b"");
        assert_eq!(relaxed_body(b"\r\n\r\n"), b"");
        assert_eq!(relaxed_body(b"no end"), b"no end\r\n");
    }

    #[test]
    fn split_finds_folded_fields_and_the_body() {
        let msg = b"From: a@x\r\nSubject: one\r\n two\r\n\r\nbody\r\n";
        let (fields, body) = split(msg);
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[1].name, "Subject");
        assert_eq!(fields[1].raw, b"Subject: one\r\n two\r\n");
        assert_eq!(body, b"body\r\n");
    }

    #[test]
    fn bad_keys_are_invalid_arguments() {
        let dkim = Dkim {
            domain: "example.com".into(),
            selector: "s".into(),
            private_key_pem: "not a key".into(),
            algorithm: DkimAlgorithm::RsaSha256,
            signed_headers: None,
        };
        let msg = b"From: a@example.com\r\n\r\nhi\r\n";
        assert!(matches!(
            sign(msg, &dkim, None),
            Err(SmtpError::InvalidArgument(_))
        ));
        let dkim = Dkim {
            domain: "bad domain".into(),
            ..dkim
        };
        assert!(matches!(
            sign(msg, &dkim, None),
            Err(SmtpError::InvalidArgument(_))
        ));
    }

    fn ed25519_pem() -> String {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let b64 = BASE64.encode(pkcs8.as_ref());
        format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n")
    }

    #[test]
    fn signs_with_an_ed25519_key_and_checks_its_own_signature() {
        let pem = ed25519_pem();
        let dkim = Dkim {
            domain: "example.com".into(),
            selector: "s1".into(),
            private_key_pem: pem.clone(),
            algorithm: DkimAlgorithm::Ed25519Sha256,
            signed_headers: None,
        };
        let msg = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nbody \r\n\r\n";
        let signed = sign(msg, &dkim, Some(1_700_000_000)).unwrap();
        let text = String::from_utf8(signed.clone()).unwrap();
        assert!(
            text.starts_with("DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;"),
            "{text}"
        );
        assert!(text.contains("h=from:to:subject;"), "{text}");
        assert!(
            text.contains(&format!(
                "bh={};",
                BASE64.encode(digest(&SHA256, b"body\r\n"))
            )),
            "{text}"
        );
        // Verify as a verifier does: the signed fields, then this field with b= empty.
        let field_end = text.find("\r\nFrom:").unwrap() + 2;
        let field = &text[..field_end];
        // The b= tag: the first "b=" after white space (bh= and the values hold none).
        let b_at = [" b=", "\tb="]
            .iter()
            .filter_map(|t| field.find(t).map(|i| i + t.len()))
            .min()
            .unwrap();
        let b: String = field[b_at..]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let mut data = Vec::new();
        for raw in [
            &b"From: a@example.com\r\n"[..],
            b"To: b@example.org\r\n",
            b"Subject: hi\r\n",
        ] {
            data.extend(relaxed_header(raw));
        }
        let mut own = relaxed_header(format!("{}\r\n", &field[..b_at]).as_bytes());
        own.truncate(own.len() - 2);
        data.extend(own);
        let pkcs8 = PrivateKeyDer::from_pem_slice(pem.as_bytes()).unwrap();
        let PrivateKeyDer::Pkcs8(k) = pkcs8 else {
            panic!()
        };
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(k.secret_pkcs8_der()).unwrap();
        use ring::signature::KeyPair;
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ED25519,
            pair.public_key().as_ref().to_vec(),
        );
        public
            .verify(digest(&SHA256, &data).as_ref(), &BASE64.decode(b).unwrap())
            .expect("the signature verifies");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
        #[test]
        fn signing_any_message_never_panics(msg in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let dkim = Dkim {
                domain: "example.com".into(),
                selector: "s1".into(),
                private_key_pem: ed25519_pem(),
                algorithm: DkimAlgorithm::Ed25519Sha256,
                signed_headers: Some(vec!["Subject".into(), "To".into()]),
            };
            let mut with_from = b"From: a@example.com\r\n".to_vec();
            with_from.extend(&msg);
            proptest::prop_assert!(sign(&with_from, &dkim, None).is_ok());
            // Without a From field it is an invalid argument, never a panic.
            if let Err(e) = sign(&msg, &dkim, None) {
                proptest::prop_assert!(matches!(e, SmtpError::InvalidArgument(_)));
            }
        }

        #[test]
        fn split_and_canonicalize_never_panic(msg in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let (fields, body) = split(&msg);
            for f in &fields { let _ = relaxed_header(f.raw); }
            let _ = relaxed_body(body);
            let _ = crlf(&msg);
        }
    }
}
