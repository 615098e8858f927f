//! The app's settings, from environment variables.
//!
//! | variable | meaning |
//! |---|---|
//! | `SMTP_HOST` | the server: an IP literal under Spin (no DNS there); required |
//! | `SMTP_PORT` | its port (default 25, or 465 with `SMTP_TLS=implicit`) |
//! | `SMTP_TLS` | `none` (default), `starttls` or `implicit` |
//! | `SMTP_TLS_SERVER_NAME` | the name the certificate must carry (and the SNI) |
//! | `SMTP_CA_PEM` | extra trusted roots, PEM text |
//! | `SMTP_USER`, `SMTP_PASSWORD` | log in (smtplib's `login`) when set |
//! | `SMTP_DEBUG` | the component's debug level (0, 1, 2); the transcript goes to stderr |

use std::env;

/// How to reach the server.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain SMTP.
    None,
    /// STARTTLS after EHLO.
    StartTls,
    /// TLS from the first byte (SMTP_SSL).
    Implicit,
}

/// The settings for one send.
pub struct Config {
    /// Host (IP literal or name) to connect to.
    pub host: String,
    /// Port, when not the default for the TLS mode.
    pub port: Option<u16>,
    /// TLS mode.
    pub tls: TlsMode,
    /// Certificate name, when it differs from `host`.
    pub tls_server_name: Option<String>,
    /// Extra trusted roots.
    pub ca_pem: Option<String>,
    /// User and password for AUTH.
    pub login: Option<(String, String)>,
    /// Debug level for the transcript.
    pub debug: u8,
}

impl Config {
    /// Reads the variables; a message naming the bad one when they don't make sense.
    pub fn from_env() -> Result<Config, String> {
        let var = |name: &str| env::var(name).ok().filter(|v| !v.is_empty());
        let host = var("SMTP_HOST").ok_or("SMTP_HOST is not set")?;
        let port = match var("SMTP_PORT") {
            Some(port) => Some(
                port.parse()
                    .map_err(|_| format!("bad SMTP_PORT {port:?}"))?,
            ),
            None => None,
        };
        let tls = match var("SMTP_TLS").as_deref() {
            None | Some("none") => TlsMode::None,
            Some("starttls") => TlsMode::StartTls,
            Some("implicit") => TlsMode::Implicit,
            Some(other) => {
                return Err(format!(
                    "bad SMTP_TLS {other:?}: none, starttls or implicit"
                ))
            }
        };
        let login = match (var("SMTP_USER"), var("SMTP_PASSWORD")) {
            (Some(user), Some(password)) => Some((user, password)),
            (None, None) => None,
            _ => return Err("set both SMTP_USER and SMTP_PASSWORD, or neither".into()),
        };
        let debug = match var("SMTP_DEBUG") {
            Some(level) => level
                .parse()
                .map_err(|_| format!("bad SMTP_DEBUG {level:?}"))?,
            None => 0,
        };
        Ok(Config {
            host,
            port,
            tls,
            tls_server_name: var("SMTP_TLS_SERVER_NAME"),
            ca_pem: var("SMTP_CA_PEM"),
            login,
            debug,
        })
    }
}
