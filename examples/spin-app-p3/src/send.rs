//! One SMTP session through the WASI 0.3 component: connect, TLS, login,
//! send_message, quit; each call an `async func` awaited in turn.

use crate::bindings::smtplib::smtp::client::{
    Client, ClientOptions, Refusal, SmtpError, TlsConfig,
};
use crate::config::{Config, TlsMode};
use crate::describe::describe;

/// Sends `message`; the refused recipients when the server took it for the others, or
/// a description of why nothing was sent (or why delivery is unknown).
pub async fn send(config: &Config, message: Vec<u8>) -> Result<Vec<Refusal>, String> {
    let client = Client::new(&ClientOptions {
        local_hostname: None,
        timeout_ms: Some(30_000),
        source_address: None,
    });
    client.set_debuglevel(config.debug).await;
    let tls = TlsConfig {
        server_name: config.tls_server_name.clone(),
        extra_roots_pem: config.ca_pem.clone(),
        client_cert_pem: None,
        client_key_pem: None,
        unsafe_accept_invalid_certs: false,
    };
    let result = session(&client, config, tls, message).await;
    if result.is_ok() {
        // The message is accepted; a failing QUIT changes nothing about that.
        let _ = client.quit().await;
    }
    client.close().await;
    result.map_err(|e| describe(&e))
}

async fn session(
    client: &Client,
    config: &Config,
    tls: TlsConfig,
    message: Vec<u8>,
) -> Result<Vec<Refusal>, SmtpError> {
    let host = config.host.clone();
    match config.tls {
        TlsMode::Implicit => client.connect_tls(host, config.port, tls.clone()).await?,
        TlsMode::None | TlsMode::StartTls => client.connect(host, config.port).await?,
    };
    if config.tls == TlsMode::StartTls {
        client.starttls(tls).await?;
    }
    if let Some((user, password)) = &config.login {
        client.login(user.clone(), password.clone(), true).await?;
    }
    client
        .send_message(message, None, None, Vec::new(), Vec::new())
        .await
}
