//! One SMTP session through the component: connect, TLS, login, send_message, quit.

use crate::bindings::smtplib::smtp::client::{
    Client, ClientOptions, Refusal, SmtpError, TlsConfig,
};
use crate::config::{Config, TlsMode};
use crate::describe::describe;

/// Sends `message`; the refused recipients when the server took it for the others, or
/// a description of why nothing was sent (or why delivery is unknown).
pub fn send(config: &Config, message: &[u8]) -> Result<Vec<Refusal>, String> {
    let client = Client::new(&ClientOptions {
        local_hostname: None,
        timeout_ms: Some(30_000),
        source_address: None,
    });
    client.set_debuglevel(config.debug);
    let tls = TlsConfig {
        server_name: config.tls_server_name.clone(),
        extra_roots_pem: config.ca_pem.clone(),
        client_cert_pem: None,
        client_key_pem: None,
        unsafe_accept_invalid_certs: false,
    };
    let result = session(&client, config, &tls, message);
    if result.is_ok() {
        // The message is accepted; a failing QUIT changes nothing about that.
        let _ = client.quit();
    }
    client.close();
    result.map_err(|e| describe(&e))
}

fn session(
    client: &Client,
    config: &Config,
    tls: &TlsConfig,
    message: &[u8],
) -> Result<Vec<Refusal>, SmtpError> {
    match config.tls {
        TlsMode::Implicit => client.connect_tls(&config.host, config.port, tls)?,
        TlsMode::None | TlsMode::StartTls => client.connect(&config.host, config.port)?,
    };
    if config.tls == TlsMode::StartTls {
        client.starttls(tls)?;
    }
    if let Some((user, password)) = &config.login {
        client.login(user, password, true)?;
    }
    client.send_message(message, None, None, &[], &[])
}
