//! Throwaway certificates for the TLS tests, made with rcgen and written as PEM files
//! that the test servers load.

use std::path::PathBuf;

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
};

/// A certificate and its key, as PEM text and as files.
pub struct Pem {
    pub cert: String,
    pub key: String,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// A test CA and the certificates it issued, in one temporary directory.
pub struct Pki {
    pub dir: tempfile::TempDir,
    /// The CA's certificate (what clients trust).
    pub ca: Pem,
    /// localhost only (DNS name, no IP address), valid now.
    pub localhost: Pem,
    /// For `other.example`, valid now.
    pub wrong_name: Pem,
    /// For localhost, expired in 2021.
    pub expired: Pem,
    /// For localhost, from a CA nobody trusts.
    pub untrusted: Pem,
    /// A client certificate issued by the CA.
    pub client: Pem,
}

fn write(dir: &tempfile::TempDir, name: &str, cert: String, key: String) -> Pem {
    let cert_file = dir.path().join(format!("{name}.crt"));
    let key_file = dir.path().join(format!("{name}.key"));
    std::fs::write(&cert_file, &cert).unwrap();
    std::fs::write(&key_file, &key).unwrap();
    Pem {
        cert,
        key,
        cert_file,
        key_file,
    }
}

fn ca(name: &str) -> (CertifiedIssuer<'static, KeyPair>, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let key_pem = key.serialize_pem();
    (CertifiedIssuer::self_signed(params, key).unwrap(), key_pem)
}

fn leaf(
    issuer: &CertifiedIssuer<'static, KeyPair>,
    names: &[&str],
    expired: bool,
) -> (String, String) {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(
        DnType::CommonName,
        names.first().copied().unwrap_or("client"),
    );
    if expired {
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2021, 1, 1);
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

impl Pki {
    /// A TLS config that trusts this CA and verifies the name `localhost`.
    pub fn trusting(&self) -> smtp_host::TlsConfig {
        smtp_host::TlsConfig {
            server_name: Some("localhost".into()),
            extra_roots_pem: Some(self.ca.cert.clone()),
            ..Default::default()
        }
    }

    /// Makes a fresh set.
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let (issuer, ca_key) = ca("smtp-component test CA");
        let (rogue, _) = ca("untrusted CA");
        let ca_pem = write(&dir, "ca", issuer.pem(), ca_key);
        let (c, k) = leaf(&issuer, &["localhost"], false);
        let localhost = write(&dir, "localhost", c, k);
        let (c, k) = leaf(&issuer, &["other.example"], false);
        let wrong_name = write(&dir, "wrong-name", c, k);
        let (c, k) = leaf(&issuer, &["localhost"], true);
        let expired = write(&dir, "expired", c, k);
        let (c, k) = leaf(&rogue, &["localhost"], false);
        let untrusted = write(&dir, "untrusted", c, k);
        let (c, k) = leaf(&issuer, &["client.example"], false);
        let client = write(&dir, "client", c, k);
        Pki {
            dir,
            ca: ca_pem,
            localhost,
            wrong_name,
            expired,
            untrusted,
            client,
        }
    }
}
