//! A service's metrics, in one place: every instrument, its name after
//! OpenTelemetry's semantic conventions, and every attribute it may carry.
//!
//! Attribute values are RPC and service names, status codes, projection names
//! and fixed words (`ok`, `conflict`, ...): never an id, never personal data, never
//! a string a caller chose (an RPC path the service does not serve is `_OTHER`).
//!
//! Read two ways (`telemetry::metrics::ServiceMetrics`): Prometheus text at
//! `GET /metrics` on `[metrics] listen` when set, and OTLP pushed to
//! `[telemetry] otlp_endpoint` every `[metrics] otlp_interval_ms` when set.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider as _, UpDownCounter};
use projection_sled::ProjectionHandle;
use serde::Deserialize;
use telemetry::metrics::ServiceMetrics;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// `[metrics]`: where the Prometheus text is served, how often OTLP is pushed.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Address of the Prometheus scrape endpoint (`GET /metrics`, plain HTTP);
    /// not served when unset (the default). Port 0 picks a free port.
    pub listen: Option<SocketAddr>,
    /// How often metrics are pushed to `[telemetry] otlp_endpoint`, when that is set.
    pub otlp_interval_ms: u64,
    /// Where the scrape endpoint was bound (tests read the port chosen for 0).
    #[serde(skip)]
    pub bound: BoundAddress,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: None,
            otlp_interval_ms: 60_000,
            bound: BoundAddress::default(),
        }
    }
}

/// The address the scrape endpoint is bound to, once it is. Not configuration:
/// any two compare equal.
#[derive(Debug, Clone, Default)]
pub struct BoundAddress(Arc<Mutex<Option<SocketAddr>>>);

impl BoundAddress {
    pub fn get(&self) -> Option<SocketAddr> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn set(&self, address: SocketAddr) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(address);
    }
}

impl PartialEq for BoundAddress {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for BoundAddress {}

/// Boundaries of the duration histograms, in milliseconds: sub-millisecond
/// resolution for appends and fast RPCs, up to ten seconds.
const DURATION_BOUNDS_MS: [f64; 16] = [
    0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1_000.0, 2_500.0,
    10_000.0,
];

/// The instruments every service records on. Cheap to clone; recording takes
/// no lock of ours (the SDK's aggregation only).
#[derive(Clone, Debug)]
pub struct Metrics {
    instruments: Arc<Instruments>,
}

#[derive(Debug)]
struct Instruments {
    rpc_duration: Histogram<f64>,
    append_duration: Histogram<f64>,
    append_conflicts: Counter<u64>,
    watch_streams: UpDownCounter<i64>,
    key_store_operations: Counter<u64>,
}

impl Metrics {
    /// The instruments on `meter`.
    pub fn new(meter: &Meter) -> Self {
        let instruments = Instruments {
            rpc_duration: meter
                .f64_histogram("rpc.server.duration")
                .with_unit("ms")
                .with_description("Duration of inbound RPCs, to the response headers")
                .with_boundaries(DURATION_BOUNDS_MS.to_vec())
                .build(),
            append_duration: meter
                .f64_histogram("approdo.case_log.append.duration")
                .with_unit("ms")
                .with_description(
                    "Duration of a command's append to the case log, publish to acknowledgement",
                )
                .with_boundaries(DURATION_BOUNDS_MS.to_vec())
                .build(),
            append_conflicts: meter
                .u64_counter("approdo.case_log.append.conflicts")
                .with_unit("{conflict}")
                .with_description(
                    "Appends that lost a race (expected sequence) and were decided again",
                )
                .build(),
            watch_streams: meter
                .i64_up_down_counter("approdo.watch.streams")
                .with_unit("{stream}")
                .with_description("Watch streams open")
                .build(),
            key_store_operations: meter
                .u64_counter("approdo.key_store.operations")
                .with_unit("{operation}")
                .with_description("Operations on the person, space and needs key stores")
                .build(),
        };
        Metrics {
            instruments: Arc::new(instruments),
        }
    }

    /// Instruments that record nothing (tests and tools that build a kernel or
    /// a key keeper outside a running service).
    pub fn disabled() -> Self {
        Metrics::new(&opentelemetry::metrics::noop::NoopMeterProvider::new().meter("approdo"))
    }

    /// A command's append: how long it took and how it ended, and how many
    /// races it lost before.
    pub fn append(&self, duration: Duration, outcome: AppendOutcome, conflicts: u64) {
        let attributes = [KeyValue::new("outcome", outcome.code())];
        if conflicts > 0 {
            self.instruments.append_conflicts.add(conflicts, &[]);
        }
        if outcome != AppendOutcome::NotAppended {
            self.instruments
                .append_duration
                .record(milliseconds(duration), &attributes);
        }
    }

    /// One watch stream open until the returned guard drops.
    pub fn watch_stream(&self, rpc: WatchRpc) -> OpenStream {
        let attributes = [
            KeyValue::new("rpc.service", rpc.service),
            KeyValue::new("rpc.method", rpc.method),
        ];
        self.instruments.watch_streams.add(1, &attributes);
        OpenStream {
            gauge: self.instruments.watch_streams.clone(),
            attributes,
        }
    }

    /// One key-store operation and its outcome.
    pub fn key_store(&self, kind: KeyKind, operation: KeyOperation, outcome: KeyOutcome) {
        self.instruments.key_store_operations.add(
            1,
            &[
                KeyValue::new("key.kind", kind.code()),
                KeyValue::new("operation", operation.code()),
                KeyValue::new("outcome", outcome.code()),
            ],
        );
    }

    fn rpc(&self, path: &RpcPath, code: i64, duration: Duration) {
        self.instruments.rpc_duration.record(
            milliseconds(duration),
            &[
                KeyValue::new("rpc.system", "grpc"),
                KeyValue::new("rpc.service", path.service),
                KeyValue::new("rpc.method", path.method),
                KeyValue::new("rpc.grpc.status_code", code),
            ],
        );
    }
}

fn milliseconds(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

/// How a command's append ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOutcome {
    /// Appended.
    Appended,
    /// Another attempt with the same request id had appended it: answered with that one.
    Duplicate,
    /// Every attempt lost its race.
    Conflict,
    /// The log refused or was unreachable.
    Failed,
    /// Nothing was appended: the request was answered from the log, or the domain refused.
    NotAppended,
}

impl AppendOutcome {
    pub fn code(self) -> &'static str {
        match self {
            AppendOutcome::Appended => "appended",
            AppendOutcome::Duplicate => "duplicate",
            AppendOutcome::Conflict => "conflict",
            AppendOutcome::Failed => "failed",
            AppendOutcome::NotAppended => "not_appended",
        }
    }
}

/// A watch RPC, by its service and method names.
#[derive(Debug, Clone, Copy)]
pub struct WatchRpc {
    pub service: &'static str,
    pub method: &'static str,
}

/// A watch stream counted as open; dropping it counts it closed.
#[derive(Debug)]
pub struct OpenStream {
    gauge: UpDownCounter<i64>,
    attributes: [KeyValue; 2],
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.gauge.add(-1, &self.attributes);
    }
}

/// Which key store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A person's data key (screening), or the referral datasets key read from it.
    Person,
    Dataset,
    /// A safe space's location key.
    Space,
    /// A case's needs key (safe-space).
    Needs,
}

impl KeyKind {
    fn code(self) -> &'static str {
        match self {
            KeyKind::Person => "person",
            KeyKind::Dataset => "dataset",
            KeyKind::Space => "space",
            KeyKind::Needs => "needs",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOperation {
    CreateOrGet,
    Get,
    Destroy,
}

impl KeyOperation {
    fn code(self) -> &'static str {
        match self {
            KeyOperation::CreateOrGet => "create_or_get",
            KeyOperation::Get => "get",
            KeyOperation::Destroy => "destroy",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOutcome {
    /// Done: the key created, read or destroyed.
    Ok,
    /// No key (destroyed or never created), or nothing left to destroy.
    Absent,
    /// The store failed or the key did not unwrap.
    Error,
}

impl KeyOutcome {
    fn code(self) -> &'static str {
        match self {
            KeyOutcome::Ok => "ok",
            KeyOutcome::Absent => "absent",
            KeyOutcome::Error => "error",
        }
    }
}

/// Registers the projection's gauges: position, lag and parked commits, read
/// from the runner's status at each collection (no work between scrapes).
/// They hold the status alone, never the store: the meter outlives a stop.
pub fn observe_projection(meter: &Meter, projection: &ProjectionHandle) -> ProjectionGauges {
    let position = {
        let status = projection.watch();
        meter
            .u64_observable_gauge("approdo.projection.position")
            .with_unit("{sequence}")
            .with_description("Last case-log sequence the projection applied")
            .with_callback(move |observer| {
                let status = status.borrow().clone();
                observer.observe(
                    status.position,
                    &[KeyValue::new("approdo.projection", status.name)],
                );
            })
            .build()
    };
    let lag = {
        let status = projection.watch();
        meter
            .u64_observable_gauge("approdo.projection.lag")
            .with_unit("{commit}")
            .with_description("Commits in the log after the projection's position")
            .with_callback(move |observer| {
                let status = status.borrow().clone();
                observer.observe(
                    status.lag,
                    &[KeyValue::new("approdo.projection", status.name)],
                );
            })
            .build()
    };
    let parked = {
        let status = projection.watch();
        meter
            .u64_observable_gauge("approdo.projection.parked")
            .with_unit("{commit}")
            .with_description("Commits parked by the projection (skipped and listed)")
            .with_callback(move |observer| {
                let status = status.borrow().clone();
                observer.observe(
                    status.parked,
                    &[KeyValue::new("approdo.projection", status.name)],
                );
            })
            .build()
    };
    ProjectionGauges {
        _gauges: [position, lag, parked],
    }
}

/// Registers the case log's history cache figures (read at each collection):
/// lookups by result (`hit`: the history was in memory), evictions, and the
/// bytes held.
pub fn observe_history_cache(
    meter: &Meter,
    log: &case_log_jetstream::CaseLog,
) -> HistoryCacheGauges {
    let lookups = {
        let log = log.clone();
        meter
            .u64_observable_counter("approdo.case_log.history_cache.lookups")
            .with_unit("{lookup}")
            .with_description(
                "Aggregate histories looked up in memory before a command or a read, by result",
            )
            .with_callback(move |observer| {
                let stats = log.history_cache_stats();
                observer.observe(stats.hits, &[KeyValue::new("approdo.cache.result", "hit")]);
                observer.observe(
                    stats.misses,
                    &[KeyValue::new("approdo.cache.result", "miss")],
                );
            })
            .build()
    };
    let evictions = {
        let log = log.clone();
        meter
            .u64_observable_counter("approdo.case_log.history_cache.evictions")
            .with_unit("{history}")
            .with_description("Aggregate histories dropped from memory to stay within the budget")
            .with_callback(move |observer| {
                observer.observe(log.history_cache_stats().evictions, &[]);
            })
            .build()
    };
    let size = {
        let log = log.clone();
        meter
            .u64_observable_gauge("approdo.case_log.history_cache.size")
            .with_unit("By")
            .with_description("Bytes of aggregate histories held in memory")
            .with_callback(move |observer| {
                observer.observe(log.history_cache_stats().bytes, &[]);
            })
            .build()
    };
    HistoryCacheGauges {
        _counters: [lookups, evictions],
        _size: size,
    }
}

/// The history cache's instruments, observed while this lives.
#[derive(Debug)]
pub struct HistoryCacheGauges {
    _counters: [opentelemetry::metrics::ObservableCounter<u64>; 2],
    _size: opentelemetry::metrics::ObservableGauge<u64>,
}

/// The projection's gauges, observed while this lives.
#[derive(Debug)]
pub struct ProjectionGauges {
    _gauges: [opentelemetry::metrics::ObservableGauge<u64>; 3],
}

/// An RPC path split into its service and method, both `'static`: one the
/// service serves, or `_OTHER` (a path chosen by a caller never becomes an attribute).
#[derive(Debug, Clone, Copy)]
struct RpcPath {
    service: &'static str,
    method: &'static str,
}

const OTHER: RpcPath = RpcPath {
    service: "_OTHER",
    method: "_OTHER",
};

/// The open RPCs (health, reflection), beside the authorisation table's.
const OPEN_RPCS: [&str; 4] = [
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

fn split(path: &'static str) -> RpcPath {
    match path.trim_start_matches('/').split_once('/') {
        Some((service, method)) => RpcPath { service, method },
        None => OTHER,
    }
}

/// The tower layer that records every RPC's duration and status code, outside
/// the authorisation layer (refusals are counted too).
#[derive(Debug, Clone)]
pub struct RpcMetricsLayer {
    metrics: Metrics,
    known: Arc<Vec<&'static str>>,
}

impl RpcMetricsLayer {
    /// Records on `metrics` the RPCs of `table` and the open ones.
    pub fn new(metrics: Metrics, table: &crate::AuthorisationTable) -> Self {
        let known = table
            .rules()
            .iter()
            .map(|rule| rule.rpc)
            .chain(OPEN_RPCS)
            .collect();
        RpcMetricsLayer {
            metrics,
            known: Arc::new(known),
        }
    }

    fn path(&self, path: &str) -> RpcPath {
        self.known
            .iter()
            .find(|known| **known == path)
            .map_or(OTHER, |known| split(known))
    }
}

impl<S> tower::Layer<S> for RpcMetricsLayer {
    type Service = MeasuredRpc<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MeasuredRpc {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct MeasuredRpc<S> {
    inner: S,
    layer: RpcMetricsLayer,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

/// `RESOURCE_EXHAUSTED`: the only error the stack inside returns is load
/// shedding's, which tonic answers with this code.
const RESOURCE_EXHAUSTED: i64 = 8;

impl<S, B, R> tower::Service<http::Request<B>> for MeasuredRpc<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = self.layer.path(request.uri().path());
        let metrics = self.layer.metrics.clone();
        let started = Instant::now();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            let code = match &response {
                // No status in the headers: the answer is OK (its trailers say so);
                // a trailers-only answer (every error tonic returns) carries it here.
                Ok(response) => response
                    .headers()
                    .get("grpc-status")
                    .and_then(|code| code.to_str().ok())
                    .and_then(|code| code.parse().ok())
                    .unwrap_or(0),
                Err(_) => RESOURCE_EXHAUSTED,
            };
            metrics.rpc(&path, code, started.elapsed());
            response
        })
    }
}

/// Serves the Prometheus text of `metrics` at `GET /metrics` on `listener`
/// until `shutdown`. Plain HTTP/1.1, one request per connection.
pub async fn serve_prometheus(
    listener: TcpListener,
    metrics: ServiceMetrics,
    shutdown: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                let metrics = metrics.clone();
                tokio::spawn(async move {
                    if let Err(error) = answer_scrape(stream, &metrics).await {
                        tracing::debug!(%error, "metrics scrape not answered");
                    }
                });
            }
            Err(error) => {
                tracing::warn!(%error, "metrics endpoint cannot accept");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn answer_scrape(
    mut stream: tokio::net::TcpStream,
    metrics: &ServiceMetrics,
) -> std::io::Result<()> {
    let mut request = Vec::with_capacity(1024);
    let mut buffer = [0u8; 1024];
    let read = async {
        while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 8 * 1024 {
            let n = stream.read(&mut buffer).await?;
            if n == 0 {
                break;
            }
            request.extend_from_slice(&buffer[..n]);
        }
        Ok::<_, std::io::Error>(())
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "request"))??;
    let line = request.split(|b| *b == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|b| *b == b' ');
    let (method, target) = (parts.next(), parts.next());
    let (status, content_type, body) = match (method, target) {
        (Some(b"GET"), Some(b"/metrics")) => match metrics.prometheus_text() {
            Ok(text) => ("200 OK", "text/plain; version=0.0.4; charset=utf-8", text),
            Err(error) => {
                tracing::warn!(%error, "metrics not collected");
                (
                    "500 Internal Server Error",
                    "text/plain; charset=utf-8",
                    "metrics not collected\n".to_owned(),
                )
            }
        },
        (Some(b"GET"), _) => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "metrics are at /metrics\n".to_owned(),
        ),
        _ => (
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            "GET only\n".to_owned(),
        ),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

/// Binds the scrape endpoint of `config`, when set, and serves it in the
/// background; records the bound address in `config.bound`.
pub async fn start_endpoint(
    service: &'static str,
    config: &MetricsConfig,
    metrics: &ServiceMetrics,
    shutdown: &CancellationToken,
) -> std::io::Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(address) = config.listen else {
        return Ok(None);
    };
    let listener = TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    config.bound.set(bound);
    tracing::info!(service, address = %bound, "serving Prometheus metrics at /metrics");
    Ok(Some(tokio::spawn(serve_prometheus(
        listener,
        metrics.clone(),
        shutdown.clone(),
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scrape_endpoint_is_off_unless_an_address_is_configured() {
        let default: crate::ServiceConfig = toml::Value::Table(toml::Table::new())
            .try_into()
            .expect("config");
        assert_eq!(default.metrics.listen, None);
        assert_eq!(default.metrics.otlp_interval_ms, 60_000);
        let table: toml::Table =
            "[metrics]\nlisten = \"127.0.0.1:9464\"\notlp_interval_ms = 5000\n"
                .parse()
                .expect("toml");
        let configured: crate::ServiceConfig =
            toml::Value::Table(table).try_into().expect("config");
        assert_eq!(
            configured.metrics.listen,
            Some(SocketAddr::from(([127, 0, 0, 1], 9464)))
        );
        assert_eq!(configured.metrics.otlp_interval_ms, 5_000);
        let unknown: toml::Table = "[metrics]\nport = 9464\n".parse().expect("toml");
        assert!(
            toml::Value::Table(unknown)
                .try_into::<crate::ServiceConfig>()
                .is_err()
        );
    }

    #[tokio::test]
    async fn the_endpoint_answers_get_metrics_with_prometheus_text_and_nothing_else() {
        let provider =
            ServiceMetrics::new("metrics-test", None, Duration::from_secs(60)).expect("provider");
        let metrics = Metrics::new(&provider.meter());
        metrics.key_store(KeyKind::Needs, KeyOperation::Destroy, KeyOutcome::Absent);
        let config = MetricsConfig {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            ..MetricsConfig::default()
        };
        let shutdown = CancellationToken::new();
        let task = start_endpoint("metrics-test", &config, &provider, &shutdown)
            .await
            .expect("bind")
            .expect("served");
        let address = config.bound.get().expect("bound");
        let get = |request: &'static str| async move {
            let mut stream = tokio::net::TcpStream::connect(address)
                .await
                .expect("connect");
            stream.write_all(request.as_bytes()).await.expect("send");
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await.expect("read");
            answer
        };
        let scraped = get("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(scraped.starts_with("HTTP/1.1 200 OK\r\n"), "{scraped}");
        assert!(
            scraped.contains(
                "approdo_key_store_operations_total{key_kind=\"needs\",operation=\"destroy\",outcome=\"absent\"} 1"
            ),
            "{scraped}"
        );
        let elsewhere = get("GET /admin HTTP/1.1\r\n\r\n").await;
        assert!(elsewhere.starts_with("HTTP/1.1 404"), "{elsewhere}");
        let posted = get("POST /metrics HTTP/1.1\r\n\r\n").await;
        assert!(posted.starts_with("HTTP/1.1 405"), "{posted}");
        shutdown.cancel();
        task.await.expect("the endpoint stops with the service");
    }

    fn scrape(metrics: &ServiceMetrics) -> String {
        metrics.prometheus_text().expect("scrape")
    }

    #[test]
    fn an_rpc_path_the_service_does_not_serve_is_recorded_as_other() {
        let provider =
            ServiceMetrics::new("metrics-test", None, Duration::from_secs(60)).expect("provider");
        let table = crate::AuthorisationTable::new(vec![crate::Rule {
            rpc: "/approdo.test.v1.TestService/Open",
            allowed: &[],
        }]);
        let layer = RpcMetricsLayer::new(Metrics::new(&provider.meter()), &table);
        let served = layer.path("/approdo.test.v1.TestService/Open");
        assert_eq!(
            (served.service, served.method),
            ("approdo.test.v1.TestService", "Open")
        );
        let health = layer.path("/grpc.health.v1.Health/Check");
        assert_eq!(
            (health.service, health.method),
            ("grpc.health.v1.Health", "Check")
        );
        let chosen = layer.path("/Maria Rossi/born 1990");
        assert_eq!((chosen.service, chosen.method), ("_OTHER", "_OTHER"));
        layer.metrics.rpc(&chosen, 12, Duration::from_millis(1));
        let text = scrape(&provider);
        assert!(text.contains("rpc_method=\"_OTHER\""), "{text}");
        assert!(!text.contains("Maria"), "{text}");
    }

    #[test]
    fn a_watch_stream_counts_while_its_guard_lives() {
        let provider =
            ServiceMetrics::new("metrics-test", None, Duration::from_secs(60)).expect("provider");
        let metrics = Metrics::new(&provider.meter());
        let rpc = WatchRpc {
            service: "approdo.test.v1.TestService",
            method: "Watch",
        };
        let line = "approdo_watch_streams{rpc_method=\"Watch\",rpc_service=\"approdo.test.v1.TestService\"}";
        let first = metrics.watch_stream(rpc);
        let second = metrics.watch_stream(rpc);
        assert!(scrape(&provider).contains(&format!("{line} 2")));
        drop(first);
        assert!(scrape(&provider).contains(&format!("{line} 1")));
        drop(second);
        assert!(scrape(&provider).contains(&format!("{line} 0")));
    }

    #[test]
    fn appends_record_their_duration_by_outcome_and_their_conflicts() {
        let provider =
            ServiceMetrics::new("metrics-test", None, Duration::from_secs(60)).expect("provider");
        let metrics = Metrics::new(&provider.meter());
        metrics.append(Duration::from_micros(800), AppendOutcome::Appended, 0);
        metrics.append(Duration::from_micros(900), AppendOutcome::Appended, 2);
        metrics.append(Duration::ZERO, AppendOutcome::NotAppended, 0);
        let text = scrape(&provider);
        assert!(
            text.contains(
                "approdo_case_log_append_duration_milliseconds_count{outcome=\"appended\"} 2"
            ),
            "{text}"
        );
        assert!(!text.contains("not_appended"), "{text}");
        assert!(
            text.contains("approdo_case_log_append_conflicts_total 2"),
            "{text}"
        );
    }
}
