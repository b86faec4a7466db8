//! Optional mutual TLS: a service configured with a certificate and a client CA
//! serves only clients presenting a certificate that CA signed; plaintext and
//! clients of another CA are refused. Certificates are made for the test (rcgen).

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use service_runtime::config::TlsConfig;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::support::{Service, System, until_some};

pub(crate) struct Ca {
    pub(crate) issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    pub(crate) fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        Ca {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key"))
                .expect("ca"),
        }
    }

    /// A leaf certificate and its key, PEM.
    pub(crate) fn leaf(&self, names: &[&str]) -> (String, String) {
        let key = KeyPair::generate().expect("key");
        let params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .expect("params");
        let cert = params.signed_by(&key, &self.issuer).expect("leaf");
        (cert.pem(), key.serialize_pem())
    }
}

pub(crate) fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

async fn health(address: std::net::SocketAddr, tls: Option<ClientTlsConfig>) -> Result<(), String> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut endpoint = Channel::from_shared(format!("{scheme}://localhost:{}", address.port()))
        .map_err(|e| e.to_string())?;
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls).map_err(|e| e.to_string())?;
    }
    let channel = endpoint.connect().await.map_err(|e| format!("{e:?}"))?;
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_clients_with_a_certificate_of_the_configured_ca_are_served() {
    let dir = tempfile::tempdir().expect("dir");
    let ca = Ca::new("approdo test CA");
    let (server_cert, server_key) = ca.leaf(&["localhost"]);
    let (client_cert, client_key) = ca.leaf(&["prefettura-ag"]);
    let stranger = Ca::new("another CA");
    let (stranger_cert, stranger_key) = stranger.leaf(&["someone"]);

    let system = System::builder()
        .tls(TlsConfig {
            cert_file: write(dir.path(), "server.pem", &server_cert),
            key_file: write(dir.path(), "server.key", &server_key),
            client_ca_file: Some(write(dir.path(), "ca.pem", &ca.issuer.pem())),
        })
        .services(&[Service::Screening])
        .start()
        .await;
    let address = system.address(Service::Screening);

    let trusted = |cert: &str, key: &str| {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(ca.issuer.pem()))
            .identity(Identity::from_pem(cert, key))
            .domain_name("localhost")
    };
    // Served once the service listens: a client of the configured CA.
    until_some("a client of the configured CA is served", || {
        let tls = trusted(&client_cert, &client_key);
        async move { health(address, Some(tls)).await.ok() }
    })
    .await;

    let no_certificate = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca.issuer.pem()))
        .domain_name("localhost");
    assert!(
        health(address, Some(no_certificate)).await.is_err(),
        "TLS without a client certificate is refused"
    );
    assert!(
        health(address, Some(trusted(&stranger_cert, &stranger_key)))
            .await
            .is_err(),
        "another CA's client is refused"
    );
    assert!(health(address, None).await.is_err(), "plaintext is refused");

    system.stop().await;
}
