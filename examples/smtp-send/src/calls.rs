//! [`Calls`]: the client calls a session makes ([`crate::session`]), on either kind of
//! client: an [`AsyncClient`] (an instance of its own) or, for `--wasi p3
//! --connections N`, a [`smtp_host::P3Client`] (one of N in one instance).

use smtp_host::{
    AsyncClient, Call, Delivery, Mail, MailOptions, Message, Refusal, Reply, SaslMechanism,
    TlsConfig,
};
use wasmtime::Result;

use crate::args::Args;

/// A `client` resource's methods that [`crate::session`] calls, with smtp-host's
/// result shapes, and the mailer's two sends.
pub trait Calls {
    /// `--message-stream`: `sendmail-stream` with the body read from `path` (`-`:
    /// stdin), the refusals and the delivery report.
    async fn stream_message(
        &mut self,
        args: &Args,
        from: &str,
        to: &[String],
        path: &str,
    ) -> Call<(Vec<Refusal>, Option<Delivery>)>;
    /// `connect(host, port)`.
    async fn connect(&mut self, host: &str, port: Option<u16>) -> Call<Reply>;
    /// `connect-tls(host, port, config)`.
    async fn connect_tls(&mut self, host: &str, port: Option<u16>, c: &TlsConfig) -> Call<Reply>;
    /// `starttls(config)`.
    async fn starttls(&mut self, config: &TlsConfig) -> Call<Reply>;
    /// `is-tls()`.
    async fn is_tls(&mut self) -> Result<bool>;
    /// `login(user, password, initial-response-ok)`.
    async fn login(&mut self, user: &str, password: &str, initial: bool) -> Call<Reply>;
    /// `login-with(mechanism, user, secret, initial-response-ok)`.
    async fn login_with(
        &mut self,
        mechanism: SaslMechanism,
        user: &str,
        secret: &str,
        initial: bool,
    ) -> Call<Reply>;
    /// `send-message(msg, from, to, mail-options, rcpt-options)`.
    async fn send_message(
        &mut self,
        msg: &[u8],
        from: Option<&str>,
        to: Option<&[String]>,
        mail_options: &[String],
        rcpt_options: &[String],
    ) -> Call<Vec<Refusal>>;
    /// `sendmail-report(from, to, msg, mail-options, rcpt-options)`.
    async fn sendmail_report(
        &mut self,
        from: &str,
        to: &[String],
        msg: &Message,
        mail_options: &[String],
        rcpt_options: &[String],
    ) -> Call<Delivery>;
    /// The mailer's `send-with` over this connection.
    async fn send_mail(&mut self, mail: &Mail) -> Call<Delivery>;
    /// The mailer's `send-bytes-with` over this connection.
    async fn send_bytes_with(
        &mut self,
        from: &str,
        to: &[String],
        msg: &[u8],
        options: &MailOptions,
    ) -> Call<Delivery>;
    /// `quit()`.
    async fn quit(&mut self) -> Call<Reply>;
    /// `close()`.
    async fn close(&mut self) -> Result<()>;
    /// `set-debuglevel(level)`.
    async fn set_debuglevel(&mut self, level: u8) -> Result<()>;
    /// `allow-insecure-auth(allow)`.
    async fn allow_insecure_auth(&mut self, allow: bool) -> Result<()>;
}

/// Implements the `client` methods of [`Calls`] by forwarding to the type's own.
macro_rules! client_calls {
    () => {
        async fn connect(&mut self, host: &str, port: Option<u16>) -> Call<Reply> {
            Self::connect(self, host, port).await
        }
        async fn connect_tls(
            &mut self,
            host: &str,
            port: Option<u16>,
            c: &TlsConfig,
        ) -> Call<Reply> {
            Self::connect_tls(self, host, port, c).await
        }
        async fn starttls(&mut self, config: &TlsConfig) -> Call<Reply> {
            Self::starttls(self, config).await
        }
        async fn is_tls(&mut self) -> Result<bool> {
            Self::is_tls(self).await
        }
        async fn login(&mut self, user: &str, password: &str, initial: bool) -> Call<Reply> {
            Self::login(self, user, password, initial).await
        }
        async fn login_with(
            &mut self,
            mechanism: SaslMechanism,
            user: &str,
            secret: &str,
            initial: bool,
        ) -> Call<Reply> {
            Self::login_with(self, mechanism, user, secret, initial).await
        }
        async fn send_message(
            &mut self,
            msg: &[u8],
            from: Option<&str>,
            to: Option<&[String]>,
            mail_options: &[String],
            rcpt_options: &[String],
        ) -> Call<Vec<Refusal>> {
            Self::send_message(self, msg, from, to, mail_options, rcpt_options).await
        }
        async fn sendmail_report(
            &mut self,
            from: &str,
            to: &[String],
            msg: &Message,
            mail_options: &[String],
            rcpt_options: &[String],
        ) -> Call<Delivery> {
            Self::sendmail_report(self, from, to, msg, mail_options, rcpt_options).await
        }
        async fn quit(&mut self) -> Call<Reply> {
            Self::quit(self).await
        }
        async fn close(&mut self) -> Result<()> {
            Self::close(self).await
        }
        async fn set_debuglevel(&mut self, level: u8) -> Result<()> {
            Self::set_debuglevel(self, level).await
        }
        async fn allow_insecure_auth(&mut self, allow: bool) -> Result<()> {
            Self::allow_insecure_auth(self, allow).await
        }
    };
}

impl Calls for AsyncClient {
    client_calls!();

    async fn stream_message(
        &mut self,
        args: &Args,
        from: &str,
        to: &[String],
        path: &str,
    ) -> Call<(Vec<Refusal>, Option<Delivery>)> {
        crate::stream_message(self, args, from, to, path).await
    }

    async fn send_mail(&mut self, mail: &Mail) -> Call<Delivery> {
        AsyncClient::send_mail(self, mail).await
    }

    async fn send_bytes_with(
        &mut self,
        from: &str,
        to: &[String],
        msg: &[u8],
        options: &MailOptions,
    ) -> Call<Delivery> {
        AsyncClient::send_bytes_with(self, from, to, msg, options).await
    }
}

#[cfg(feature = "p3")]
impl Calls for smtp_host::P3Client<'_> {
    client_calls!();

    // args::parse refuses --message-stream with --connections, the only way to these
    // clients; if a session got here, it fails as a host error.
    async fn stream_message(
        &mut self,
        _args: &Args,
        _from: &str,
        _to: &[String],
        _path: &str,
    ) -> Call<(Vec<Refusal>, Option<Delivery>)> {
        Err(wasmtime::format_err!(
            "--message-stream goes without --connections"
        ))
    }

    async fn send_mail(&mut self, mail: &Mail) -> Call<Delivery> {
        smtp_host::P3Client::send_mail(self, mail).await
    }

    async fn send_bytes_with(
        &mut self,
        from: &str,
        to: &[String],
        msg: &[u8],
        options: &MailOptions,
    ) -> Call<Delivery> {
        smtp_host::P3Client::send_bytes_with(self, from, to, msg, options).await
    }
}
