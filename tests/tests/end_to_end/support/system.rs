//! The system under test: a real nats-server, the services started in process on
//! port 0 against it with one injected `ManualClock`, one data folder and one
//! key-encryption key; stopped and restarted in place; typed gRPC clients that
//! carry a caller's token; and waits on what the services report.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use case_log_jetstream::{CaseLog, CaseLogConfig};
use contracts::admin::v1 as admin;
use contracts::referral::v1 as referral_api;
use contracts::screening::v1 as screening_api;
use nats_test_server::{NatsServer, ServerOptions};
use service_runtime::config::TlsConfig;
use service_runtime::{Clock, ManualClock, ServeError, ServiceConfig};
use tempfile::TempDir;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use super::auth::{Bearer, Caller, issuer};
use super::wait::{eventually, until_some};

/// A channel whose requests carry a caller's token.
pub type Authorised = InterceptedService<Channel, Bearer>;
pub type ScreeningClient =
    screening_api::screening_service_client::ScreeningServiceClient<Authorised>;
pub type ReferralClient = referral_api::referral_service_client::ReferralServiceClient<Authorised>;
pub type AdminClient =
    admin::projection_admin_service_client::ProjectionAdminServiceClient<Authorised>;
pub type HealthClient = tonic_health::pb::health_client::HealthClient<Channel>;

/// A service the harness runs in process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    Screening,
    Referral,
    /// Safe spaces: the registry, requests for a place, the waiting lists.
    SafeSpace,
    /// Runs only what the runtime gives every service (a catalogue of the whole log).
    Monitoring,
}

impl Service {
    /// The services with domain RPCs.
    pub const ALL: [Service; 3] = [Service::Screening, Service::Referral, Service::SafeSpace];
    /// Every service, those without domain RPCs too.
    pub const EVERY: [Service; 4] = [
        Service::Screening,
        Service::Referral,
        Service::SafeSpace,
        Service::Monitoring,
    ];

    /// The service's name, as its projection reports it.
    pub fn name(self) -> &'static str {
        match self {
            Service::Screening => "screening",
            Service::Referral => "referral",
            Service::SafeSpace => "safe-space",
            Service::Monitoring => "monitoring",
        }
    }

    fn spawn(
        self,
        config: ServiceConfig,
        listener: TcpListener,
        shutdown: CancellationToken,
        clock: Arc<dyn Clock>,
    ) -> tokio::task::JoinHandle<()> {
        async fn ran(service: Service, run: impl Future<Output = Result<(), ServeError>>) {
            if let Err(error) = run.await {
                panic!("{} failed: {error}", service.name());
            }
        }
        match self {
            Service::Screening => {
                tokio::spawn(ran(self, screening::run(config, listener, shutdown, clock)))
            }
            Service::Referral => {
                tokio::spawn(ran(self, referral::run(config, listener, shutdown, clock)))
            }
            Service::SafeSpace => tokio::spawn(ran(
                self,
                safe_space::run(config, listener, shutdown, clock),
            )),
            Service::Monitoring => tokio::spawn(ran(
                self,
                monitoring::run(config, listener, shutdown, clock),
            )),
        }
    }
}

/// One service instance running in this process.
pub struct Running {
    service: Service,
    address: SocketAddr,
    /// Where its Prometheus endpoint is bound (on 127.0.0.1, a port of its choosing).
    metrics: service_runtime::metrics::BoundAddress,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    /// A replica's own data folder, removed with it.
    _own_data: Option<TempDir>,
}

impl Running {
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The Prometheus text its metrics endpoint serves (`GET /metrics`), once bound.
    pub async fn scrape_metrics(&self) -> String {
        let address = until_some(&format!("{} serves metrics", self.service.name()), || {
            let bound = self.metrics.get();
            async move { bound }
        })
        .await;
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect to the metrics endpoint");
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .expect("send the scrape");
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .await
            .expect("read the scrape");
        let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
        assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
        assert!(
            head.contains("Content-Type: text/plain; version=0.0.4"),
            "{head}"
        );
        body.to_owned()
    }

    /// A plaintext channel to the service, once it accepts connections.
    pub async fn channel(&self) -> Channel {
        let uri = format!("http://{}", self.address);
        until_some(
            &format!("{} accepts connections", self.service.name()),
            || {
                let endpoint = Channel::from_shared(uri.clone()).expect("uri");
                async move { endpoint.connect().await.ok() }
            },
        )
        .await
    }

    /// The projection's status, read as the administrator.
    pub async fn projection_status(&self) -> admin::ProjectionStatus {
        admin::projection_admin_service_client::ProjectionAdminServiceClient::with_interceptor(
            self.channel().await,
            Caller::administrator().bearer(),
        )
        .get_projection_status(admin::GetProjectionStatusRequest {
            with_content_digest: true,
        })
        .await
        .expect("projection status")
        .into_inner()
        .status
        .expect("status")
    }

    /// Waits until the deadline watcher has completed a pass that started at
    /// `at` or later (by the service's clock): every deadline due by `at` has
    /// then been marked, and a watcher that marked one twice would have done so.
    pub async fn deadlines_checked(&self, at: OffsetDateTime) {
        let what = format!(
            "{} checked the deadlines due by {at} (deadlines_checked_at)",
            self.service.name()
        );
        eventually(&what, || async move {
            self.projection_status()
                .await
                .deadlines_checked_at
                .as_ref()
                .and_then(case_log_jetstream::envelope::from_timestamp)
                .is_some_and(|checked| checked >= at)
        })
        .await;
    }

    /// Stops the service (it drains, stores its projection's position and
    /// releases its store) and waits until it has.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.expect("stopped cleanly");
    }
}

/// How to start a [`System`]; [`System::start`] and [`System::start_at`] are the usual ways.
pub struct SystemBuilder {
    now: OffsetDateTime,
    services: Vec<Service>,
    nats: ServerOptions,
    tls: Option<TlsConfig>,
    log_max_bytes: i64,
    options: BTreeMap<Service, String>,
}

impl SystemBuilder {
    /// A service's own options (its `[options]` section, as TOML).
    pub fn options(mut self, service: Service, toml: &str) -> Self {
        self.options.insert(service, toml.to_owned());
        self
    }

    /// The clock starts at `now` (by default the real time at start).
    pub fn clock_at(mut self, now: OffsetDateTime) -> Self {
        self.now = now;
        self
    }

    /// The services to start with the system.
    pub fn services(mut self, services: &[Service]) -> Self {
        self.services = services.to_vec();
        self
    }

    /// Options of the nats-server (permissions, users).
    pub fn nats(mut self, options: ServerOptions) -> Self {
        self.nats = options;
        self
    }

    /// The case log's byte limit, set by the first service that creates it
    /// (a tiny one fills up).
    pub fn log_max_bytes(mut self, max_bytes: i64) -> Self {
        self.log_max_bytes = max_bytes;
        self
    }

    /// Services serve TLS (and, with a client CA, only clients it signed):
    /// [`Running::channel`] and the typed clients, which speak plaintext, do not work then.
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    pub async fn start(self) -> System {
        let nats = NatsServer::start_with(self.nats).unwrap_or_else(|error| panic!("{error}"));
        let secrets = tempfile::Builder::new()
            .prefix("approdo-secrets-")
            .tempdir()
            .expect("secrets folder");
        let key_encryption_key = person_crypto::KeyEncryptionKey::generate_hex()
            .expect("a key-encryption key")
            .to_string();
        let key_encryption_key_file = secrets.path().join("key-encryption-key");
        std::fs::write(&key_encryption_key_file, &key_encryption_key).expect("kek file");
        let mut system = System {
            nats,
            clock: ManualClock::new(self.now),
            data: tempfile::Builder::new()
                .prefix("approdo-data-")
                .tempdir()
                .expect("data folder"),
            _secrets: secrets,
            key_encryption_key,
            key_encryption_key_file,
            tls: self.tls,
            log_max_bytes: self.log_max_bytes,
            options: self.options,
            running: BTreeMap::new(),
        };
        for service in self.services {
            system.start_service(service).await;
        }
        system
    }
}

/// The facilities the tests open and place cases in (id, province, kind),
/// registered by an administrator whenever the screening service starts.
pub const FACILITIES: &[(&str, &str, &str)] = &[
    ("hotspot-lampedusa", "AG", "hotspot"),
    ("hotspot-pozzallo", "RG", "hotspot"),
    ("cas-agrigento", "AG", "cas"),
    ("cas-agrigento-2", "AG", "cas"),
    ("cas-elsewhere", "AG", "cas"),
    ("cas-roma-1", "RM", "cas"),
];

/// A nats-server and the services running against it, sharing one clock, one
/// data folder and one key-encryption key (in a file, as deployed).
pub struct System {
    nats: NatsServer,
    clock: ManualClock,
    data: TempDir,
    _secrets: TempDir,
    key_encryption_key: String,
    key_encryption_key_file: PathBuf,
    tls: Option<TlsConfig>,
    log_max_bytes: i64,
    options: BTreeMap<Service, String>,
    running: BTreeMap<Service, Running>,
}

impl System {
    /// Registers [`FACILITIES`], as an administrator.
    async fn register_facilities(&self) {
        let mut screening = self.screening(&Caller::administrator()).await;
        for (facility_id, province, kind) in FACILITIES {
            screening
                .register_facility(contracts::screening::v1::RegisterFacilityRequest {
                    request_id: format!("facility-{facility_id}"),
                    facility_id: (*facility_id).to_owned(),
                    province: (*province).to_owned(),
                    facility_kind: (*kind).to_owned(),
                })
                .await
                .expect("facility registered");
        }
    }

    pub fn builder() -> SystemBuilder {
        SystemBuilder {
            now: OffsetDateTime::now_utc(),
            services: Vec::new(),
            nats: ServerOptions::default(),
            tls: None,
            log_max_bytes: case_log_jetstream::DEFAULT_MAX_BYTES,
            options: BTreeMap::new(),
        }
    }

    /// `services` running, the clock at the real time.
    pub async fn start(services: &[Service]) -> System {
        System::builder().services(services).start().await
    }

    /// `services` running, the clock at `now`.
    pub async fn start_at(now: OffsetDateTime, services: &[Service]) -> System {
        System::builder()
            .clock_at(now)
            .services(services)
            .start()
            .await
    }

    /// The services' time.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Moves the services' time on.
    pub fn advance(&self, by: time::Duration) {
        self.clock.advance(by);
    }

    pub fn nats(&self) -> &NatsServer {
        &self.nats
    }

    /// To kill and restart the server.
    pub fn nats_mut(&mut self) -> &mut NatsServer {
        &mut self.nats
    }

    /// The services' data folder (each keeps its projection below it).
    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// The key-encryption key the services share, hex.
    pub fn key_encryption_key(&self) -> &str {
        &self.key_encryption_key
    }

    /// A fresh connection to the case log.
    pub async fn log(&self) -> CaseLog {
        CaseLog::connect(&CaseLogConfig {
            url: self.nats.url(),
            max_bytes: self.log_max_bytes,
            ..CaseLogConfig::default()
        })
        .await
        .expect("connect to the case log")
    }

    fn config(&self, service: Service, data_dir: &Path) -> ServiceConfig {
        ServiceConfig {
            options: self
                .options
                .get(&service)
                .map(|toml| toml.parse().expect("the service's options are TOML"))
                .unwrap_or_default(),
            data_dir: data_dir.to_owned(),
            case_log: CaseLogConfig {
                url: self.nats.url(),
                max_bytes: self.log_max_bytes,
                ..CaseLogConfig::default()
            },
            deadline_check_interval_ms: 50,
            refusal_window_ms: 100,
            grace_period_ms: 2_000,
            encryption: service_runtime::config::EncryptionConfig {
                key_encryption_key_file: Some(self.key_encryption_key_file.clone()),
                ..Default::default()
            },
            auth: issuer().auth_config(),
            tls: self.tls.clone(),
            metrics: service_runtime::MetricsConfig {
                listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
                ..Default::default()
            },
            ..ServiceConfig::default()
        }
    }

    async fn launch(
        &self,
        service: Service,
        data_dir: &Path,
        own_data: Option<TempDir>,
    ) -> Running {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let shutdown = CancellationToken::new();
        let config = self.config(service, data_dir);
        let metrics = config.metrics.bound.clone();
        let task = service.spawn(
            config,
            listener,
            shutdown.clone(),
            Arc::new(self.clock.clone()),
        );
        Running {
            service,
            address,
            metrics,
            shutdown,
            task,
            _own_data: own_data,
        }
    }

    /// Starts `service` on port 0 with the system's data folder.
    pub async fn start_service(&mut self, service: Service) {
        assert!(
            !self.running.contains_key(&service),
            "{} runs already",
            service.name()
        );
        let running = self.launch(service, self.data.path(), None).await;
        self.running.insert(service, running);
        // Registering again after a restart answers from the log: nothing appended.
        if service == Service::Screening && self.tls.is_none() {
            self.register_facilities().await;
        }
    }

    /// Stops `service`; its data folder stays.
    pub async fn stop_service(&mut self, service: Service) {
        if let Some(running) = self.running.remove(&service) {
            running.stop().await;
        }
    }

    /// Stops `service` (it releases its projection store), then starts it
    /// again on the same data folder (on a new port).
    pub async fn restart(&mut self, service: Service) {
        self.stop_service(service).await;
        self.start_service(service).await;
    }

    /// Another instance of `service` with a data folder of its own, against the
    /// same log and clock (two instances racing on the same deadlines).
    pub async fn start_replica(&self, service: Service) -> Running {
        let data = tempfile::Builder::new()
            .prefix("approdo-replica-")
            .tempdir()
            .expect("replica data folder");
        let path = data.path().to_owned();
        self.launch(service, &path, Some(data)).await
    }

    pub fn running(&self, service: Service) -> &Running {
        self.running
            .get(&service)
            .unwrap_or_else(|| panic!("{} does not run", service.name()))
    }

    pub fn address(&self, service: Service) -> SocketAddr {
        self.running(service).address()
    }

    pub async fn channel(&self, service: Service) -> Channel {
        self.running(service).channel().await
    }

    /// The screening service, as `caller`.
    pub async fn screening(&self, caller: &Caller) -> ScreeningClient {
        screening_api::screening_service_client::ScreeningServiceClient::with_interceptor(
            self.channel(Service::Screening).await,
            caller.bearer(),
        )
    }

    /// The referral service, as `caller`.
    pub async fn referral(&self, caller: &Caller) -> ReferralClient {
        referral_api::referral_service_client::ReferralServiceClient::with_interceptor(
            self.channel(Service::Referral).await,
            caller.bearer(),
        )
    }

    /// The projection admin API of `service`, as `caller`.
    pub async fn admin(&self, service: Service, caller: &Caller) -> AdminClient {
        admin::projection_admin_service_client::ProjectionAdminServiceClient::with_interceptor(
            self.channel(service).await,
            caller.bearer(),
        )
    }

    /// The gRPC health API of `service` (no token needed).
    pub async fn health(&self, service: Service) -> HealthClient {
        HealthClient::new(self.channel(service).await)
    }

    /// The projection's status of `service`, read as the administrator.
    pub async fn projection_status(&self, service: Service) -> admin::ProjectionStatus {
        self.running(service).projection_status().await
    }

    /// Waits until `service`'s deadline watcher has completed a pass that
    /// started at `at` or later: see [`Running::deadlines_checked`].
    pub async fn deadlines_checked(&self, service: Service, at: OffsetDateTime) {
        self.running(service).deadlines_checked(at).await;
    }

    /// Stops every service, then the server.
    pub async fn stop(mut self) {
        while let Some((_, running)) = self.running.pop_first() {
            running.stop().await;
        }
    }
}
