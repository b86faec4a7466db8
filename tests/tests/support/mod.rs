//! What the in-process end-to-end tests share: starting a service on port 0
//! against a real nats-server, tokens, times, and polling until a condition holds.

#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use case_log_jetstream::CaseLogConfig;
use nats_test_server::NatsServer;
use service_runtime::caller::{OrganisationType, TokenIssuer};
use service_runtime::{Clock, ManualClock, ServeError, ServiceConfig};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

pub type RunFn<F> = fn(ServiceConfig, TcpListener, CancellationToken, Arc<dyn Clock>) -> F;

/// A service running in this process.
pub struct Running {
    pub address: std::net::SocketAddr,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub async fn start<F>(
        run: RunFn<F>,
        nats: &NatsServer,
        data: &std::path::Path,
        clock: &ManualClock,
    ) -> Running
    where
        F: Future<Output = Result<(), ServeError>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let config = ServiceConfig {
            data_dir: data.to_owned(),
            case_log: CaseLogConfig {
                url: nats.url(),
                ..CaseLogConfig::default()
            },
            deadline_check_interval_ms: 50,
            grace_period_ms: 2_000,
            encryption: service_runtime::config::EncryptionConfig {
                key_encryption_key: Some(key_encryption_key().to_owned()),
                ..Default::default()
            },
            auth: service_runtime::config::AuthConfig {
                issuers: vec![issuer().config()],
            },
            ..ServiceConfig::default()
        };
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(
            run(config, listener, shutdown.clone(), Arc::new(clock.clone())).map_ok_or_panic(),
        );
        Running {
            address,
            shutdown,
            task,
        }
    }

    pub async fn channel(&self) -> Channel {
        let started = Instant::now();
        loop {
            match Channel::from_shared(format!("http://{}", self.address))
                .expect("uri")
                .connect()
                .await
            {
                Ok(channel) => return channel,
                Err(_) if started.elapsed() < Duration::from_secs(10) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(error) => panic!("service never accepted: {error}"),
            }
        }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.expect("stopped cleanly");
    }
}

trait OkOrPanic {
    fn map_ok_or_panic(self) -> impl Future<Output = ()> + Send;
}

impl<F> OkOrPanic for F
where
    F: Future<Output = Result<(), ServeError>> + Send,
{
    async fn map_ok_or_panic(self) {
        if let Err(error) = self.await {
            panic!("service failed: {error}");
        }
    }
}

/// One key-encryption key for every service of this test process: the
/// screening service wraps person keys with it and the referral service unwraps them.
pub fn key_encryption_key() -> &'static str {
    static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    KEY.get_or_init(person_crypto::KeyEncryptionKey::generate_hex)
}

/// The identity provider of this test process: services trust it, tokens are signed by it.
pub fn issuer() -> &'static TokenIssuer {
    static ISSUER: std::sync::OnceLock<TokenIssuer> = std::sync::OnceLock::new();
    ISSUER.get_or_init(|| TokenIssuer::generate("approdo-tests"))
}

pub fn token(org_type: OrganisationType, organisation: &str, province: Option<&str>) -> String {
    issuer().token(
        "tester",
        organisation,
        org_type,
        &["operator"],
        province,
        i64::MAX / 2,
    )
}

pub fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii"),
    );
    request
}

pub fn ts(at: OffsetDateTime) -> Option<prost_types::Timestamp> {
    Some(case_log_jetstream::envelope::timestamp(at))
}

/// Polls `check` until it holds, at most 10 seconds.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < Duration::from_secs(10), "never: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
