//! TLS configuration: webpki roots, extra CAs, and the explicit insecure mode.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::error::Error;

/// Parses a CA file: PEM (one or more certificates) or a single DER certificate.
pub(crate) fn parse_certificates(data: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    if data.trim_ascii_start().starts_with(b"-----BEGIN") {
        let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(data).collect();
        let certs = certs.map_err(|e| Error::Config(format!("bad PEM certificate: {e}")))?;
        if certs.is_empty() {
            return Err(Error::Config("no CERTIFICATE block in the PEM file".into()));
        }
        Ok(certs)
    } else if data.first() == Some(&0x30) {
        Ok(vec![CertificateDer::from(data.to_vec())])
    } else {
        Err(Error::Config(
            "the certificate file is neither PEM nor DER".into(),
        ))
    }
}

pub(crate) fn client_config(
    extra_roots: &[CertificateDer<'static>],
    builtin_roots: bool,
    insecure: bool,
) -> Result<rustls::ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(e.to_string()))?;
    let mut config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        if builtin_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        for cert in extra_roots {
            roots
                .add(cert.clone())
                .map_err(|e| Error::Config(format!("unusable CA certificate: {e}")))?;
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// `danger_accept_invalid_certs(true)`: any certificate is accepted (handshake signatures
/// are still checked, so the peer holds the key of the certificate it sent).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

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
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_files_must_be_pem_or_der() {
        assert!(matches!(
            parse_certificates(b"hello"),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            parse_certificates(b"-----BEGIN NOTHING-----\n-----END NOTHING-----\n"),
            Err(Error::Config(_))
        ));
        assert_eq!(parse_certificates(&[0x30, 0x03, 1, 2, 3]).unwrap().len(), 1);
        assert!(client_config(&[], true, false).is_ok());
        assert!(client_config(&[], false, true).is_ok());
    }
}
