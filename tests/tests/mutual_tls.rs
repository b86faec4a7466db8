//! Optional mutual TLS: a service configured with a certificate and a client CA
//! serves only clients presenting a certificate that CA signed; plaintext and
//! clients of another CA are refused. Certificates are made for the test (rcgen).

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use case_log_jetstream::CaseLogConfig;
use nats_test_server::NatsServer;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use service_runtime::config::TlsConfig;
use service_runtime::{ManualClock, ServiceConfig};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
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
    fn leaf(&self, names: &[&str]) -> (String, String) {
        let key = KeyPair::generate().expect("key");
        let params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .expect("params");
        let cert = params.signed_by(&key, &self.issuer).expect("leaf");
        (cert.pem(), key.serialize_pem())
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
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

    let nats = NatsServer::start();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let config = ServiceConfig {
        data_dir: dir.path().join("data"),
        case_log: CaseLogConfig {
            url: nats.url(),
            ..CaseLogConfig::default()
        },
        auth: service_runtime::config::AuthConfig {
            issuers: vec![support::issuer().config()],
        },
        encryption: service_runtime::config::EncryptionConfig {
            key_encryption_key: Some(person_crypto::KeyEncryptionKey::generate_hex()),
            ..Default::default()
        },
        tls: Some(TlsConfig {
            cert_file: write(dir.path(), "server.pem", &server_cert),
            key_file: write(dir.path(), "server.key", &server_key),
            client_ca_file: Some(write(dir.path(), "ca.pem", &ca.issuer.pem())),
        }),
        ..ServiceConfig::default()
    };
    let shutdown = tokio_util::sync::CancellationToken::new();
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let task = tokio::spawn(screening::run_with_clock(
        config,
        listener,
        shutdown.clone(),
        clock,
    ));

    let trusted = |cert: &str, key: &str| {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(ca.issuer.pem()))
            .identity(Identity::from_pem(cert, key))
            .domain_name("localhost")
    };
    let mut served = Err(String::new());
    for _ in 0..100 {
        served = health(address, Some(trusted(&client_cert, &client_key))).await;
        if served.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(served, Ok(()), "a client of the configured CA is served");

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

    shutdown.cancel();
    task.await.expect("joined").expect("stopped cleanly");
}
