//! Running a service: connect to the case log, keep the projection, serve gRPC
//! with health, reflection and projection admin, and stop cleanly.
//!
//! Shutdown order: stop accepting RPCs and drain in-flight ones (within the
//! grace period), then the projection stores its last batch and flushes.

use std::time::Duration;

use case_log_jetstream::CaseLog;
use projection_sled::{
    Projection, ProjectionHandle, ProjectionState, ProjectionStore, RunnerConfig,
};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic_health::ServingStatus;

use crate::admin::ProjectionAdmin;
use crate::caller::CallerExtractor;
use crate::config::ServiceConfig;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot open the projection store")]
    Store(#[from] projection_sled::StoreError),
    #[error("cannot create the data directory")]
    DataDir(#[source] std::io::Error),
    #[error("gRPC server failed")]
    Transport(#[from] tonic::transport::Error),
    #[error("stopped before the case log was reachable")]
    NeverConnected,
    #[error("token issuers are misconfigured")]
    Auth(#[from] crate::caller::KeyError),
    #[error("encryption is misconfigured: {0}")]
    Encryption(String),
    #[error("the contracts' descriptors are invalid for reflection: {0}")]
    Reflection(String),
    #[error("the service's options are invalid")]
    Options(#[from] crate::config::ConfigError),
    #[error("metrics are misconfigured")]
    Metrics(#[from] telemetry::TelemetryError),
    #[error("cannot serve metrics on the configured address")]
    MetricsEndpoint(#[source] std::io::Error),
    #[error("TLS is misconfigured: cannot read {0}")]
    Tls(std::path::PathBuf, #[source] std::io::Error),
}

/// What a service gets to build its gRPC services with.
pub struct ServiceContext {
    pub log: CaseLog,
    pub projection: ProjectionHandle,
    pub config: ServiceConfig,
    /// Cancelled when the service stops: background tasks (deadline watchers) end with it.
    pub shutdown: CancellationToken,
    /// Verifies callers' tokens against the configured issuers.
    pub callers: CallerExtractor,
    /// The command pipeline, on this service's log connection and clock.
    pub kernel: crate::Kernel,
    /// Where the deadline watcher reports its passes (shown by the admin API).
    pub deadline_passes: crate::DeadlinePasses,
    /// Where a service that completes erasures reports how many are pending
    /// (shown by the admin API).
    pub erasures_pending: crate::ErasuresPending,
    /// The service's instruments (watch streams, key stores; RPCs and appends
    /// are recorded by the runtime).
    pub metrics: crate::Metrics,
}

impl ServiceContext {
    /// The service's reads: wait for a log sequence before answering a query.
    pub fn reads(&self) -> crate::reads::Reads {
        crate::reads::Reads::new(
            self.projection.clone(),
            self.log.clone(),
            self.config.read_patience(),
        )
    }

    /// Runs the deadline watcher for `service` until the service stops.
    pub fn watch_deadlines<W: crate::DeadlineWatch>(&self, service: std::sync::Arc<W>) {
        tokio::spawn(crate::deadlines::watch(
            self.kernel.clone(),
            service,
            self.config.deadline_check_interval(),
            self.deadline_passes.clone(),
            self.shutdown.clone(),
        ));
    }
}

/// One service: its name, its projection, and its gRPC services.
pub struct ServiceSpec<P> {
    /// Short name: `screening`, `referral`, `safe-space`, `monitoring`.
    pub name: &'static str,
    pub projection: P,
    /// Fully qualified names of its own gRPC services, reported by health and
    /// reflection (the projection admin API is added by the runtime).
    pub grpc_services: Vec<&'static str>,
    /// Who may call which of its RPCs (the projection admin API's rules are added).
    pub authorisation: &'static [crate::authorisation::Rule],
}

impl<P: Projection> ServiceSpec<(P, projection_sled::Catalogue)> {
    /// A service with its projection beside the catalogue of what that
    /// projection consumes, serving `grpc_service` under `authorisation`.
    pub fn with_catalogue(
        name: &'static str,
        projection: P,
        grpc_service: &'static str,
        authorisation: &'static [crate::authorisation::Rule],
    ) -> Self {
        let catalogue = projection_sled::Catalogue::within(name, projection.consumes());
        ServiceSpec {
            name,
            projection: (projection, catalogue),
            grpc_services: vec![grpc_service],
            authorisation,
        }
    }
}

/// Runs a service that has no domain RPCs yet: what every service gets from
/// the runtime (the case log followed into a catalogue projection, health,
/// reflection, the projection admin API) and nothing else.
pub async fn run_without_rpcs(
    name: &'static str,
    config: ServiceConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
    clock: std::sync::Arc<dyn crate::Clock>,
) -> Result<(), ServeError> {
    let spec = ServiceSpec {
        name,
        projection: projection_sled::Catalogue::new(name),
        grpc_services: Vec::new(),
        // Only the projection admin API, whose rules the runtime adds.
        authorisation: &[],
    };
    run(spec, config, listener, shutdown, clock, |_| {
        Routes::default()
    })
    .await
}

/// Runs a service on `listener` until `shutdown` is cancelled.
pub async fn run<P, F>(
    mut spec: ServiceSpec<P>,
    config: ServiceConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
    clock: std::sync::Arc<dyn crate::Clock>,
    routes: F,
) -> Result<(), ServeError>
where
    P: Projection,
    F: FnOnce(&ServiceContext) -> Routes,
{
    spec.grpc_services
        .push("approdo.admin.v1.ProjectionAdminService");
    let callers = CallerExtractor::from_config(&config.auth)?;
    if config.auth.issuers.is_empty() {
        tracing::warn!(
            service = spec.name,
            "no token issuer configured: every RPC will be refused"
        );
    }
    let service_metrics = telemetry::metrics::ServiceMetrics::new(
        spec.name,
        config.telemetry.otlp_endpoint.as_deref(),
        Duration::from_millis(config.metrics.otlp_interval_ms),
    )?;
    let meter = service_metrics.meter();
    let metrics = crate::Metrics::new(&meter);
    let metrics_endpoint =
        crate::metrics::start_endpoint(spec.name, &config.metrics, &service_metrics, &shutdown)
            .await
            .map_err(ServeError::MetricsEndpoint)?;
    let Some(log) = connect_with_retry(&config, &shutdown).await else {
        return Err(ServeError::NeverConnected);
    };
    let store_dir = config.data_dir.join(spec.name).join("projection");
    std::fs::create_dir_all(&store_dir).map_err(ServeError::DataDir)?;
    let mut store = ProjectionStore::open_with_cache(&store_dir, config.projection_cache_bytes)?;
    let store_released = store.on_release();
    let projection_shutdown = CancellationToken::new();
    let (projection, projection_task) = projection_sled::spawn(
        log.clone(),
        store,
        spec.projection,
        RunnerConfig {
            batch: config.projection_batch,
            ..RunnerConfig::default()
        },
        projection_shutdown.clone(),
    )?;

    // Observed while the service runs.
    let _projection_gauges = crate::metrics::observe_projection(&meter, &projection);
    let _history_cache_gauges = crate::metrics::observe_history_cache(&meter, &log);
    let context_log = log.clone();
    let deadline_passes = crate::DeadlinePasses::default();
    let erasures_pending = crate::ErasuresPending::default();
    let log_usage = crate::log_usage::LogUsageWatch::new(log.clone());
    let usage_task = tokio::spawn(
        log_usage
            .clone()
            .watch(config.case_log.usage_check_interval(), shutdown.clone()),
    );
    let context = ServiceContext {
        kernel: crate::Kernel::new(log.clone(), clock).with_metrics(metrics.clone()),
        log,
        projection: projection.clone(),
        config: config.clone(),
        shutdown: shutdown.clone(),
        callers: callers.clone(),
        deadline_passes: deadline_passes.clone(),
        erasures_pending: erasures_pending.clone(),
        metrics: metrics.clone(),
    };
    let routes = routes(&context).add_service(
        ProjectionAdmin::new(
            projection.clone(),
            callers.clone(),
            deadline_passes,
            log_usage,
            erasures_pending,
        )
        .into_server(),
    );
    let callers_for_layer = callers;

    let (health, health_service) = tonic_health::server::health_reporter();
    let health_task = tokio::spawn(report_health(
        health,
        projection.clone(),
        spec.grpc_services.clone(),
        shutdown.clone(),
    ));
    // Advertise only what this service serves, though every contract is registered.
    // Both reflection versions: v1, and v1alpha for the clients (grpcurl, IDEs) that only speak it.
    let reflection_builder = || {
        spec.grpc_services
            .iter()
            .chain(
                [
                    "grpc.health.v1.Health",
                    "grpc.reflection.v1.ServerReflection",
                    "grpc.reflection.v1alpha.ServerReflection",
                ]
                .iter(),
            )
            .fold(
                tonic_reflection::server::Builder::configure(),
                |builder, service| builder.with_service_name(*service),
            )
            .register_encoded_file_descriptor_set(contracts::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection = reflection_builder()
        .build_v1()
        .map_err(|error| ServeError::Reflection(error.to_string()))?;
    let reflection_v1alpha = reflection_builder()
        .build_v1alpha()
        .map_err(|error| ServeError::Reflection(error.to_string()))?;

    let address = listener.local_addr().map_err(ServeError::DataDir)?;
    tracing::info!(service = spec.name, %address, "serving gRPC");
    let (refusals, refused) = tokio::sync::mpsc::channel(1024);
    let producer = case_log_jetstream::Producer::from_token(spec.name);
    let recorder = match producer {
        Some(producer) => tokio::spawn(crate::refusals::record(
            context_log,
            producer,
            refused,
            config.refusal_window(),
        )),
        None => tokio::spawn(async {}),
    };
    let table = crate::authorisation::AuthorisationTable::new(
        spec.authorisation
            .iter()
            .chain(crate::admin::AUTHORISATION)
            .copied()
            .collect(),
    );
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = &config.tls {
        builder = builder.tls_config(server_tls(tls)?)?;
        tracing::info!(
            service = spec.name,
            mutual = tls.client_ca_file.is_some(),
            "serving over TLS"
        );
    }
    let rpc_metrics = crate::metrics::RpcMetricsLayer::new(metrics, &table);
    let server = builder
        .load_shed(true)
        .layer(rpc_metrics)
        .layer(
            crate::authorisation::AuthorisationLayer::new(table, callers_for_layer)
                .recording(refusals),
        )
        .layer(tower::load_shed::LoadShedLayer::new())
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            config.concurrency_limit,
        ))
        .add_routes(
            routes
                .add_service(health_service)
                .add_service(reflection)
                .add_service(reflection_v1alpha),
        )
        .serve_with_incoming_shutdown(without_nagle(listener), shutdown.clone().cancelled_owned());

    let grace = config.grace_period();
    let served = tokio::select! {
        served = server => served,
        _ = past_grace(&shutdown, grace) => {
            tracing::warn!(service = spec.name, ?grace, "in-flight RPCs cut off after the grace period");
            Ok(())
        }
    };
    projection_shutdown.cancel();
    if projection_task.await.is_err() {
        tracing::error!(service = spec.name, "projection task panicked");
    }
    health_task.abort();
    usage_task.abort();
    if let Some(endpoint) = metrics_endpoint {
        endpoint.abort();
    }
    service_metrics.shutdown();
    // Return only once the store is released, so the same folder opens again
    // at once: the service's own tasks (its deadline watcher, watch streams,
    // a query on a blocking thread) end with the shutdown and drop their handles.
    drop((context, projection, _projection_gauges));
    let _ = tokio::join!(health_task, usage_task);
    if !store_released.wait(grace).await {
        tracing::warn!(
            service = spec.name,
            ?grace,
            "the projection store is still held after the grace period"
        );
    }
    // The server and its senders are gone: the recorder writes what it holds and ends.
    if tokio::time::timeout(Duration::from_secs(5), recorder)
        .await
        .is_err()
    {
        tracing::warn!(
            service = spec.name,
            "access refusals of the last window not recorded"
        );
    }
    tracing::info!(service = spec.name, "stopped");
    Ok(served?)
}

fn server_tls(
    tls: &crate::config::TlsConfig,
) -> Result<tonic::transport::ServerTlsConfig, ServeError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| ServeError::Tls(path.to_owned(), e))
    };
    let identity =
        tonic::transport::Identity::from_pem(read(&tls.cert_file)?, read(&tls.key_file)?);
    let mut config = tonic::transport::ServerTlsConfig::new().identity(identity);
    if let Some(ca) = &tls.client_ca_file {
        config = config.client_ca_root(tonic::transport::Certificate::from_pem(read(ca)?));
    }
    Ok(config)
}

async fn past_grace(shutdown: &CancellationToken, grace: Duration) {
    shutdown.cancelled().await;
    tokio::time::sleep(grace).await;
}

async fn connect_with_retry(
    config: &ServiceConfig,
    shutdown: &CancellationToken,
) -> Option<CaseLog> {
    let mut delay = Duration::from_millis(100);
    loop {
        match CaseLog::connect(&config.case_log).await {
            Ok(log) => return Some(log),
            Err(error) => tracing::warn!(%error, ?delay, "case log not reachable yet"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// SERVING while the projection is live, NOT_SERVING while it catches up or has failed.
async fn report_health(
    health: tonic_health::server::HealthReporter,
    projection: ProjectionHandle,
    services: Vec<&'static str>,
    shutdown: CancellationToken,
) {
    let mut status = projection.watch();
    loop {
        let serving = match status.borrow_and_update().state {
            ProjectionState::Live => ServingStatus::Serving,
            _ => ServingStatus::NotServing,
        };
        health.set_service_status("", serving).await;
        for service in &services {
            health.set_service_status(*service, serving).await;
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            changed = status.changed() => if changed.is_err() { break },
        }
    }
    health
        .set_service_status("", ServingStatus::NotServing)
        .await;
}

/// The listener's connections with `TCP_NODELAY` set. tonic sets it only on
/// listeners it binds itself (`serve_with_incoming` ignores its `tcp_nodelay`):
/// without it, an answer written in more than one segment waited for the
/// client's delayed acknowledgement, about 40 ms (found by `approdo-bench e2e`:
/// `GetCase` and `ListCases` at p50 42 ms with one client).
fn without_nagle(
    listener: TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<TcpStream>> {
    use tokio_stream::StreamExt;
    tokio_stream::wrappers::TcpListenerStream::new(listener).map(|accepted| {
        let stream = accepted?;
        // A socket that refuses the option still serves, only slower.
        let _ = stream.set_nodelay(true);
        Ok(stream)
    })
}
