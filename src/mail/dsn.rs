//! The envelope parameters a mail's options ask for: RFC 3461 DSN (NOTIFY, ORCPT, RET,
//! ENVID, xtext-encoded) and RFC 8689 REQUIRETLS, checked against what the server
//! advertises before anything of the message is sent.

use super::{Dsn, DsnReturn, MailOptions, Notify};
use crate::error::SmtpError;
use crate::protocol::ehlo::Features;

/// RFC 3461 4: xtext. Printable ASCII but `+` and `=` as it is, the rest `+XX`.
pub fn xtext(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (b'!'..=b'~').contains(&b) && b != b'+' && b != b'=' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

/// The MAIL parameters and the RCPT parameters of each recipient for `options`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parameters {
    /// Added to MAIL FROM.
    pub mail: Vec<String>,
    /// Added to RCPT TO, one list per recipient.
    pub rcpt: Vec<Vec<String>>,
}

/// The DSN parameters for `dsn`, whether the server offers DSN or not (the caller
/// decides). ENVID must be printable ASCII (RFC 3461 4.4: at most 100 characters).
fn dsn_parameters(dsn: &Dsn, to: &[String]) -> Result<Parameters, SmtpError> {
    let mut params = Parameters {
        mail: Vec::new(),
        rcpt: vec![Vec::new(); to.len()],
    };
    if let Some(ret) = dsn.ret {
        params.mail.push(
            match ret {
                DsnReturn::Full => "RET=FULL",
                DsnReturn::Headers => "RET=HDRS",
            }
            .to_string(),
        );
    }
    if let Some(envid) = &dsn.envid {
        if envid.is_empty()
            || envid.len() > 100
            || !envid.bytes().all(|b| (b' '..=b'~').contains(&b))
        {
            return Err(SmtpError::InvalidArgument(format!(
                "DSN envelope id {envid:?} must be 1 to 100 printable ASCII characters"
            )));
        }
        params.mail.push(format!("ENVID={}", xtext(envid)));
    }
    let notify = match dsn.notify {
        None => None,
        Some(Notify::Never) => Some("NOTIFY=NEVER".to_string()),
        Some(Notify::On {
            success,
            failure,
            delay,
        }) => {
            let events: Vec<&str> = [(success, "SUCCESS"), (failure, "FAILURE"), (delay, "DELAY")]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, name)| *name)
                .collect();
            if events.is_empty() {
                return Err(SmtpError::InvalidArgument(
                    "DSN NOTIFY needs at least one of success, failure, delay (or never)".into(),
                ));
            }
            Some(format!("NOTIFY={}", events.join(",")))
        }
    };
    for (rcpt, params) in to.iter().zip(params.rcpt.iter_mut()) {
        if let Some(n) = &notify {
            params.push(n.clone());
        }
        if dsn.orcpt {
            params.push(format!("ORCPT=rfc822;{}", xtext(rcpt)));
        }
    }
    Ok(params)
}

/// The envelope parameters for `options` over a session with `features`, over TLS or
/// not (`tls`). `NotSupported` for REQUIRETLS without TLS or not advertised, and for
/// DSN not advertised unless `best-effort` (then the DSN parameters are left out).
pub fn parameters(
    options: &MailOptions,
    to: &[String],
    features: &Features,
    tls: bool,
) -> Result<Parameters, SmtpError> {
    let mut params = Parameters {
        mail: Vec::new(),
        rcpt: vec![Vec::new(); to.len()],
    };
    if options.require_tls {
        check_require_tls(tls, features)?;
        params.mail.push("REQUIRETLS".into());
    }
    if let Some(dsn) = &options.dsn {
        let dsn_params = dsn_parameters(dsn, to)?;
        if !features.has("dsn") {
            if !dsn.best_effort {
                return Err(SmtpError::NotSupported(
                    "DSN (RFC 3461) not supported by server".into(),
                ));
            }
        } else {
            params.mail.extend(dsn_params.mail);
            for (mine, theirs) in params.rcpt.iter_mut().zip(dsn_params.rcpt) {
                mine.extend(theirs);
            }
        }
    }
    Ok(params)
}

/// RFC 8689: REQUIRETLS only over TLS, and only to a server that advertises it.
pub fn check_require_tls(tls: bool, features: &Features) -> Result<(), SmtpError> {
    if !tls {
        return Err(SmtpError::NotSupported(
            "REQUIRETLS (RFC 8689) needs a TLS connection; this one is in clear".into(),
        ));
    }
    if !features.has("requiretls") {
        return Err(SmtpError::NotSupported(
            "REQUIRETLS (RFC 8689) not supported by server".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(ehlo: &str) -> Features {
        Features::parse(ehlo)
    }

    #[test]
    fn xtext_as_rfc_3461() {
        assert_eq!(xtext("a@b.example"), "a@b.example");
        assert_eq!(xtext("a+b=c d"), "a+2Bb+3Dc+20d");
        assert_eq!(xtext("ü"), "+C3+BC");
    }

    #[test]
    fn dsn_parameters_in_rfc_3461_form() {
        let options = MailOptions {
            dsn: Some(Dsn {
                notify: Some(Notify::On {
                    success: true,
                    failure: true,
                    delay: false,
                }),
                ret: Some(DsnReturn::Headers),
                envid: Some("QQ 31+4".into()),
                orcpt: true,
                best_effort: false,
            }),
            ..MailOptions::default()
        };
        let to = vec!["b+x@example.org".to_string()];
        let p = parameters(&options, &to, &features("x\nDSN"), false).unwrap();
        assert_eq!(p.mail, ["RET=HDRS", "ENVID=QQ+2031+2B4"]);
        assert_eq!(
            p.rcpt,
            [vec![
                "NOTIFY=SUCCESS,FAILURE".to_string(),
                "ORCPT=rfc822;b+2Bx@example.org".to_string()
            ]]
        );
        // Not advertised: not-supported, or nothing with best effort.
        assert!(matches!(
            parameters(&options, &to, &features("x"), false),
            Err(SmtpError::NotSupported(_))
        ));
        let mut lenient = options.clone();
        if let Some(d) = lenient.dsn.as_mut() {
            d.best_effort = true;
        }
        let p = parameters(&lenient, &to, &features("x"), false).unwrap();
        assert!(p.mail.is_empty() && p.rcpt == [Vec::<String>::new()]);
    }

    #[test]
    fn require_tls_needs_tls_and_the_extension() {
        let options = MailOptions {
            require_tls: true,
            ..MailOptions::default()
        };
        let to = vec!["b@example.org".to_string()];
        let f = features("x\nREQUIRETLS");
        assert!(matches!(
            parameters(&options, &to, &f, false),
            Err(SmtpError::NotSupported(_))
        ));
        assert!(matches!(
            parameters(&options, &to, &features("x"), true),
            Err(SmtpError::NotSupported(_))
        ));
        assert_eq!(
            parameters(&options, &to, &f, true).unwrap().mail,
            ["REQUIRETLS"]
        );
    }

    #[test]
    fn bad_dsn_values_are_invalid_arguments() {
        for dsn in [
            Dsn {
                notify: Some(Notify::On {
                    success: false,
                    failure: false,
                    delay: false,
                }),
                ..Dsn::default()
            },
            Dsn {
                envid: Some("a\r\nRCPT".into()),
                ..Dsn::default()
            },
            Dsn {
                envid: Some("x".repeat(101)),
                ..Dsn::default()
            },
        ] {
            let options = MailOptions {
                dsn: Some(dsn),
                ..MailOptions::default()
            };
            assert!(matches!(
                parameters(&options, &["a@b".into()], &features("x\nDSN"), false),
                Err(SmtpError::InvalidArgument(_))
            ));
        }
    }
}
