//! HTTPS with a throwaway certificate authority. client-go only loads a kubeconfig user's
//! credentials when the server URL is `https` (`IsConfigTransportTLS`), so over plain HTTP
//! kubectl and Helm would never send the bearer token. Each server start generates a CA and a
//! serving certificate for the loopback names (with a data directory, the CA and serving key
//! are generated once and kept, and only the certificate is issued anew); the CA goes into the
//! kubeconfig as `certificate-authority-data`, so clients verify the server normally.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Why certificates could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Generating a key or certificate failed.
    #[error("generating certificates: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls rejected the configuration.
    #[error("configuring TLS: {0}")]
    Configure(#[from] rustls::Error),
    /// A stored certificate could not be read.
    #[error("reading the stored CA certificate: {0}")]
    Stored(String),
}

/// A CA certificate (for clients) and the server configuration signed by it.
pub(crate) struct Certificates {
    /// The CA certificate, PEM encoded.
    pub(crate) authority_pem: String,
    /// The rustls configuration serving the CA-signed certificate.
    pub(crate) server_config: Arc<rustls::ServerConfig>,
}

/// The long-lived key material behind the certificates: the CA (certificate and key) and the
/// serving key. Kept in a data directory so kubeconfigs stay valid across restarts.
pub(crate) struct KeyMaterial {
    /// The CA certificate, PEM encoded.
    pub(crate) authority_certificate_pem: String,
    /// The CA's private key, PEM encoded.
    pub(crate) authority_key_pem: String,
    /// The serving certificate's private key, PEM encoded.
    pub(crate) serving_key_pem: String,
}

fn authority_params() -> Result<CertificateParams, TlsError> {
    let mut authority = CertificateParams::new(Vec::<String>::new())?;
    authority.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    authority
        .distinguished_name
        .push(DnType::CommonName, "eddy-devcluster-ca");
    authority.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(authority)
}

/// Generates a fresh CA and serving key.
pub(crate) fn new_key_material() -> Result<KeyMaterial, TlsError> {
    let authority_key = KeyPair::generate()?;
    let authority_certificate = authority_params()?.self_signed(&authority_key)?;
    Ok(KeyMaterial {
        authority_certificate_pem: authority_certificate.pem(),
        authority_key_pem: authority_key.serialize_pem(),
        serving_key_pem: KeyPair::generate()?.serialize_pem(),
    })
}

/// Generates a CA and a serving certificate valid for localhost, the loopback addresses and `ip`.
pub(crate) fn generate(ip: IpAddr) -> Result<Certificates, TlsError> {
    generate_from(ip, &new_key_material()?)
}

/// Issues a serving certificate valid for localhost, the loopback addresses and `ip`, signed by
/// the CA in `material` and using its serving key. The certificate itself is issued anew on
/// every start (the listen address may change); clients trust the CA, which stays.
pub(crate) fn generate_from(ip: IpAddr, material: &KeyMaterial) -> Result<Certificates, TlsError> {
    use rustls::pki_types::pem::PemObject;
    // Same distinguished name and key as the stored CA certificate, so what it signs chains
    // to that certificate.
    let issuer = Issuer::new(
        authority_params()?,
        KeyPair::from_pem(&material.authority_key_pem)?,
    );
    let authority_der =
        CertificateDer::from_pem_slice(material.authority_certificate_pem.as_bytes())
            .map_err(|error| TlsError::Stored(error.to_string()))?;

    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if !ip.is_unspecified() && !names.contains(&ip.to_string()) {
        names.push(ip.to_string());
    }
    let mut serving = CertificateParams::new(names)?;
    serving
        .distinguished_name
        .push(DnType::CommonName, "eddy-devcluster");
    serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    serving.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let serving_key = KeyPair::from_pem(&material.serving_key_pem)?;
    let serving_certificate = serving.signed_by(&serving_key, &issuer)?;

    let chain = vec![
        CertificateDer::from(serving_certificate.der().to_vec()),
        authority_der,
    ];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(serving_key.serialize_der()));
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Certificates {
        authority_pem: material.authority_certificate_pem.clone(),
        server_config: Arc::new(config),
    })
}

/// A listener handing out TLS streams; handshakes run on their own tasks so a slow or broken
/// client cannot hold up others.
pub(crate) struct TlsListener {
    address: SocketAddr,
    streams: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    acceptor_task: JoinHandle<()>,
}

impl TlsListener {
    /// Wraps a bound TCP listener.
    pub(crate) fn new(
        listener: TcpListener,
        config: Arc<rustls::ServerConfig>,
    ) -> std::io::Result<Self> {
        let address = listener.local_addr()?;
        let (sender, streams) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        let acceptor_task = tokio::spawn(async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::debug!(%error, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let sender = sender.clone();
                tokio::spawn(async move {
                    let handshake = tokio::time::timeout(
                        std::time::Duration::from_secs(10),
                        acceptor.accept(stream),
                    )
                    .await;
                    match handshake {
                        Ok(Ok(tls)) => {
                            let _ = sender.send((tls, peer)).await;
                        }
                        Ok(Err(error)) => tracing::debug!(%error, %peer, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener {
            address,
            streams,
            acceptor_task,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor_task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.streams.recv().await {
            Some(accepted) => accepted,
            // The acceptor only stops when the listener is dropped; wait to be shut down.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_a_pem_authority_and_a_server_config() {
        let certificates = generate(IpAddr::from([127, 0, 0, 1]));
        let Ok(certificates) = certificates else {
            panic!("certificate generation failed");
        };
        assert!(
            certificates
                .authority_pem
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
        assert_eq!(
            certificates.server_config.alpn_protocols,
            vec![b"http/1.1".to_vec()]
        );
    }
}
