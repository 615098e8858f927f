//! Turns the caller's TLS settings into a rustls client configuration: Mozilla's roots
//! (webpki-roots) plus extra roots from PEM, an optional client certificate, and
//! hostname verification that is always on unless the caller names the unsafe switch;
//! and [`SessionCache`], the TLS session tickets a client keeps for its next connect.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{
    ClientSessionMemoryCache, ClientSessionStore, Resumption, Tls12ClientSessionValue,
    Tls13ClientSessionValue,
};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, NamedGroup, RootCertStore, SignatureScheme};

use crate::error::SmtpError;

/// What the caller asked for (WIT `tls-config`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// The name to verify and send as SNI; the connect host when absent.
    pub server_name: Option<String>,
    /// Extra trusted roots, PEM.
    pub extra_roots_pem: Option<String>,
    /// A client certificate chain, PEM.
    pub client_cert_pem: Option<String>,
    /// The client certificate's private key, PEM.
    pub client_key_pem: Option<String>,
    /// Accept any certificate for any name. Unsafe.
    pub unsafe_accept_invalid_certs: bool,
}

/// The rustls configuration and the name to verify.
pub struct TlsSetup {
    /// The client configuration.
    pub config: Arc<ClientConfig>,
    /// The server name (sent as SNI when it is a DNS name).
    pub server_name: ServerName<'static>,
    /// Where the configuration keeps its tickets.
    pub tickets: Arc<TicketStore>,
}

fn invalid(what: impl Into<String>) -> SmtpError {
    SmtpError::InvalidArgument(what.into())
}

/// How many distinct TLS settings a [`SessionCache`] keeps tickets for.
const SETTINGS_KEPT: usize = 4;
/// How many servers' tickets it keeps per settings (rustls's in-memory store: a few
/// tickets per server name, the oldest names dropped first).
const SERVERS_KEPT: usize = 32;

/// The rustls configurations a client resource has built, each with the TLS 1.3
/// session tickets (and TLS 1.2 session IDs) it has been given, so that its next
/// connection to the same server name with the same settings resumes the session (a
/// resumed handshake sends no certificate and checks no signature), and the roots are
/// not parsed again. rustls resumes only under the configuration (the same verifier)
/// that set a session up, so configurations are kept whole, one per [`TlsSettings`]: a
/// session set up under one verification (say, `unsafe-accept-invalid-certs`, or other
/// roots) is never resumed under another.
#[derive(Debug, Default)]
pub struct SessionCache {
    /// Most recently used last.
    configs: Vec<(TlsSettings, Arc<ClientConfig>, Arc<TicketStore>)>,
}

impl SessionCache {
    /// The configuration for `settings` and its ticket store, made by `make` on first use.
    fn config_for(
        &mut self,
        settings: &TlsSettings,
        make: impl FnOnce() -> Result<ClientConfig, SmtpError>,
    ) -> Result<(Arc<ClientConfig>, Arc<TicketStore>), SmtpError> {
        let entry = match self.configs.iter().position(|(k, _, _)| k == settings) {
            Some(i) => self.configs.remove(i),
            None => {
                let mut config = make()?;
                let store = Arc::new(TicketStore::default());
                config.resumption = Resumption::store(store.clone());
                (settings.clone(), Arc::new(config), store)
            }
        };
        if self.configs.len() >= SETTINGS_KEPT {
            self.configs.remove(0);
        }
        let found = (entry.1.clone(), entry.2.clone());
        self.configs.push(entry);
        Ok(found)
    }
}

/// rustls's in-memory session store, watched: it notes whether this server hands out a
/// new ticket after a resumed handshake. OpenSSL's servers (Postfix, Dovecot, Exim with
/// OpenSSL) give one or two tickets after a full handshake and none after a resumed
/// one; others (Go's, rustls's) give one after every handshake. That decides how our
/// Finished goes out after a resumed handshake (see `crate::tls`).
#[derive(Debug)]
pub struct TicketStore {
    inner: ClientSessionMemoryCache,
    /// A resumed handshake has just ended on this store's current connection.
    just_resumed: AtomicBool,
    /// A ticket came after a resumed handshake.
    tickets_after_resumption: AtomicBool,
}

impl Default for TicketStore {
    fn default() -> Self {
        TicketStore {
            inner: ClientSessionMemoryCache::new(SERVERS_KEPT),
            just_resumed: AtomicBool::new(false),
            tickets_after_resumption: AtomicBool::new(false),
        }
    }
}

impl TicketStore {
    /// Called when a handshake ends, full or resumed. A client's connections run one
    /// after another, so a ticket that arrives after this belongs to this handshake.
    pub fn handshake_ended(&self, resumed: bool) {
        self.just_resumed.store(resumed, Ordering::Relaxed);
    }

    /// Whether this server has been seen to send a ticket after a resumed handshake.
    pub fn tickets_after_resumption(&self) -> bool {
        self.tickets_after_resumption.load(Ordering::Relaxed)
    }
}

impl ClientSessionStore for TicketStore {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: NamedGroup) {
        self.inner.set_kx_hint(server_name, group)
    }

    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<NamedGroup> {
        self.inner.kx_hint(server_name)
    }

    fn set_tls12_session(&self, server_name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.inner.set_tls12_session(server_name, value)
    }

    fn tls12_session(&self, server_name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.inner.tls12_session(server_name)
    }

    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.inner.remove_tls12_session(server_name)
    }

    fn insert_tls13_ticket(
        &self,
        server_name: ServerName<'static>,
        value: Tls13ClientSessionValue,
    ) {
        if self.just_resumed.load(Ordering::Relaxed) {
            self.tickets_after_resumption.store(true, Ordering::Relaxed);
        }
        self.inner.insert_tls13_ticket(server_name, value)
    }

    fn take_tls13_ticket(
        &self,
        server_name: &ServerName<'static>,
    ) -> Option<Tls13ClientSessionValue> {
        self.inner.take_tls13_ticket(server_name)
    }
}

/// Builds the configuration for a connection to `connect_host` (used as the server name
/// when the settings name none), from `sessions` when it has one for these settings,
/// resuming from and keeping tickets there.
///
/// Measured against Postfix 3.7 (2026-12-01, `smtp-send --reconnect --count 100`):
/// resumption takes an implicit-TLS connection from 52 to 27 ms and a STARTTLS one from
/// 7.8 to 6.9 ms. Postfix gives one ticket per full handshake and none per resumed one,
/// so every other connection resumes.
pub fn build(
    settings: &TlsSettings,
    connect_host: &str,
    sessions: &mut SessionCache,
) -> Result<TlsSetup, SmtpError> {
    let name = settings
        .server_name
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or(connect_host);
    let name = name.trim_start_matches('[').trim_end_matches(']');
    let server_name = ServerName::try_from(name.to_string())
        .map_err(|_| invalid(format!("{name:?} is not a valid TLS server name")))?;
    let (config, tickets) = sessions.config_for(settings, || client_config(settings))?;
    Ok(TlsSetup {
        config,
        server_name,
        tickets,
    })
}

/// ring's cipher suites, ChaCha20-Poly1305 first. WebAssembly has no AES instructions,
/// so ring's AES-GCM runs its constant-time bitsliced fallback, and SHA-384 (AES-256's
/// hash) works on 64-bit words that wasm32 emulates; ChaCha20 and SHA-256 are plain
/// 32-bit arithmetic. Servers that follow the client's order (OpenSSL's default, so
/// Postfix and Dovecot) then pick ChaCha20. Measured (perf, 300 implicit-TLS
/// connections to Postfix, 2026-12-01): AES and SHA-512 code were 9% of the client's
/// CPU time.
fn cipher_suites() -> Vec<rustls::SupportedCipherSuite> {
    use rustls::crypto::ring::cipher_suite as cs;
    vec![
        cs::TLS13_CHACHA20_POLY1305_SHA256,
        cs::TLS13_AES_128_GCM_SHA256,
        cs::TLS13_AES_256_GCM_SHA384,
        cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ]
}

/// A new rustls configuration for `settings`.
fn client_config(settings: &TlsSettings) -> Result<ClientConfig, SmtpError> {
    let provider = Arc::new(rustls::crypto::CryptoProvider {
        cipher_suites: cipher_suites(),
        ..rustls::crypto::ring::default_provider()
    });
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| SmtpError::Tls(e.to_string()))?;
    let builder = if settings.unsafe_accept_invalid_certs {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate { provider }))
    } else {
        builder.with_root_certificates(roots(settings.extra_roots_pem.as_deref())?)
    };
    let config = match (&settings.client_cert_pem, &settings.client_key_pem) {
        (None, None) => builder.with_no_client_auth(),
        (Some(cert), Some(key)) => {
            let chain = certificates(cert, "client certificate")?;
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
                .map_err(|e| invalid(format!("client key: no usable PEM private key ({e})")))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| invalid(format!("client certificate and key: {e}")))?
        }
        _ => {
            return Err(invalid(
                "a client certificate needs its key, and a key its certificate",
            ))
        }
    };
    Ok(config)
}

fn roots(extra_pem: Option<&str>) -> Result<RootCertStore, SmtpError> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(pem) = extra_pem {
        for cert in certificates(pem, "extra root")? {
            roots
                .add(cert)
                .map_err(|e| invalid(format!("extra root: {e}")))?;
        }
    }
    Ok(roots)
}

fn certificates(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, SmtpError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("{what}: bad PEM ({e})")))?;
    if certs.is_empty() {
        return Err(invalid(format!("{what}: no CERTIFICATE in the PEM text")));
    }
    Ok(certs)
}

/// The verifier behind `unsafe-accept-invalid-certs`: any certificate, any name. The
/// handshake signatures are still checked, so the peer must hold the certificate's key.
#[derive(Debug)]
struct AcceptAnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_name_defaults_to_the_connect_host() {
        let s = build(
            &TlsSettings::default(),
            "smtp.example.com",
            &mut SessionCache::default(),
        )
        .unwrap();
        assert_eq!(s.server_name.to_str(), "smtp.example.com");
        let s = build(
            &TlsSettings::default(),
            "127.0.0.1",
            &mut SessionCache::default(),
        )
        .unwrap();
        assert_eq!(s.server_name.to_str(), "127.0.0.1");
        let s = build(
            &TlsSettings {
                server_name: Some("mx.example.org".into()),
                ..Default::default()
            },
            "192.0.2.1",
            &mut SessionCache::default(),
        )
        .unwrap();
        assert_eq!(s.server_name.to_str(), "mx.example.org");
    }

    /// One configuration (and ticket store) per distinct settings, reused for equal
    /// ones, at most `SETTINGS_KEPT` kept.
    #[test]
    fn configurations_are_kept_apart_per_settings() {
        let mut cache = SessionCache::default();
        let strict = TlsSettings::default();
        let careless = TlsSettings {
            unsafe_accept_invalid_certs: true,
            ..Default::default()
        };
        let get = |cache: &mut SessionCache, s: &TlsSettings| {
            build(s, "mx.example", cache).unwrap().config
        };
        let a = get(&mut cache, &strict);
        let b = get(&mut cache, &careless);
        assert!(!Arc::ptr_eq(&a, &b));
        assert!(Arc::ptr_eq(&a, &get(&mut cache, &strict)));
        for i in 0..SETTINGS_KEPT {
            let other = TlsSettings {
                server_name: Some(format!("n{i}.example")),
                ..Default::default()
            };
            get(&mut cache, &other);
        }
        assert_eq!(cache.configs.len(), SETTINGS_KEPT);
        assert!(!Arc::ptr_eq(&a, &get(&mut cache, &strict)));
    }

    #[test]
    fn bad_inputs_are_invalid_arguments() {
        let bad = |s: TlsSettings| {
            matches!(
                build(&s, "x.example", &mut SessionCache::default()),
                Err(SmtpError::InvalidArgument(_))
            )
        };
        assert!(bad(TlsSettings {
            server_name: Some("not a name!".into()),
            ..Default::default()
        }));
        assert!(bad(TlsSettings {
            extra_roots_pem: Some("no pem here".into()),
            ..Default::default()
        }));
        assert!(bad(TlsSettings {
            client_cert_pem: Some("x".into()),
            ..Default::default()
        }));
    }
}
