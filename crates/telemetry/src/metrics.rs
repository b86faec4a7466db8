//! Metrics: one OpenTelemetry meter provider per service, read two ways: on
//! demand, as Prometheus text for a scrape, and, when an OTLP endpoint is
//! configured, pushed periodically to it.
//!
//! Attribute values are method names, codes and service names only (never ids
//! or personal data): the instruments are defined in `service-runtime`, which
//! chooses every attribute; this module only exports what it is given.

use std::fmt::Write as _;
use std::sync::{Arc, Weak};
use std::time::Duration;

use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry::{KeyValue, Value};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{
    AggregatedMetrics, Gauge, Histogram, Metric, MetricData, ResourceMetrics, Sum,
};
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{
    InstrumentKind, ManualReader, Pipeline, SdkMeterProvider, Temporality,
};

use crate::TelemetryError;

/// A service's meter provider and the reader a Prometheus scrape collects from.
/// Cloning shares both. Dropping the last clone stops the OTLP export.
#[derive(Clone, Debug)]
pub struct ServiceMetrics {
    provider: SdkMeterProvider,
    reader: Arc<ManualReader>,
}

impl ServiceMetrics {
    /// A provider for `service_name`, exporting to `otlp_endpoint` (OTLP/gRPC)
    /// every `otlp_interval` when set; always readable with [`Self::prometheus_text`].
    pub fn new(
        service_name: &'static str,
        otlp_endpoint: Option<&str>,
        otlp_interval: Duration,
    ) -> Result<Self, TelemetryError> {
        let reader = Arc::new(
            ManualReader::builder()
                .with_temporality(Temporality::Cumulative)
                .build(),
        );
        let resource = opentelemetry_sdk::Resource::builder_empty()
            .with_service_name(service_name)
            .build();
        let mut builder = SdkMeterProvider::builder()
            .with_resource(resource)
            .with_reader(SharedReader(reader.clone()));
        if let Some(endpoint) = otlp_endpoint {
            let exporter = opentelemetry_otlp::MetricExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .build()
                .map_err(TelemetryError::Exporter)?;
            builder = builder.with_reader(
                opentelemetry_sdk::metrics::PeriodicReader::builder(exporter)
                    .with_interval(otlp_interval)
                    .build(),
            );
        }
        Ok(ServiceMetrics {
            provider: builder.build(),
            reader,
        })
    }

    /// The meter the runtime's instruments are created on.
    pub fn meter(&self) -> Meter {
        self.provider.meter("approdo")
    }

    /// Everything recorded so far, in the Prometheus text exposition format
    /// (version 0.0.4), names translated as OpenTelemetry's Prometheus exporter
    /// does: dots to underscores, the unit as a suffix, `_total` on counters.
    pub fn prometheus_text(&self) -> Result<String, TelemetryError> {
        let mut collected = ResourceMetrics::default();
        self.reader
            .collect(&mut collected)
            .map_err(|error| TelemetryError::Collect(error.to_string()))?;
        Ok(render(&collected))
    }

    /// Exports what remains (OTLP) and stops the readers.
    pub fn shutdown(&self) {
        if let Err(error) = self.provider.shutdown() {
            tracing::debug!(%error, "metrics shut down with an error");
        }
    }
}

/// The manual reader, shared between the provider (which owns its readers)
/// and the scrape.
#[derive(Debug)]
struct SharedReader(Arc<ManualReader>);

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline)
    }
    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

/// The Prometheus text of `metrics`.
pub fn render(metrics: &ResourceMetrics) -> String {
    let mut out = String::new();
    let resource: Vec<(String, String)> = metrics
        .resource()
        .iter()
        .map(|(key, value)| (label_name(key.as_str()), value.as_str().into_owned()))
        .collect();
    if !resource.is_empty() {
        out.push_str("# HELP target_info Target metadata\n# TYPE target_info gauge\n");
        out.push_str("target_info");
        write_labels(
            &mut out,
            resource.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        out.push_str(" 1\n");
    }
    for scope in metrics.scope_metrics() {
        for metric in scope.metrics() {
            render_metric(&mut out, metric);
        }
    }
    out
}

fn render_metric(out: &mut String, metric: &Metric) {
    match metric.data() {
        AggregatedMetrics::F64(data) => render_data(out, metric, data),
        AggregatedMetrics::U64(data) => render_data(out, metric, data),
        AggregatedMetrics::I64(data) => render_data(out, metric, data),
    }
}

/// A number as Prometheus writes it.
trait Sample: Copy {
    fn text(self) -> String;
}
impl Sample for f64 {
    fn text(self) -> String {
        if self.is_nan() {
            "NaN".to_owned()
        } else if self.is_infinite() {
            if self > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
        } else {
            self.to_string()
        }
    }
}
impl Sample for u64 {
    fn text(self) -> String {
        self.to_string()
    }
}
impl Sample for i64 {
    fn text(self) -> String {
        self.to_string()
    }
}

fn render_data<T: Sample>(out: &mut String, metric: &Metric, data: &MetricData<T>) {
    match data {
        MetricData::Gauge(gauge) => render_gauge(out, metric, gauge),
        MetricData::Sum(sum) => render_sum(out, metric, sum),
        MetricData::Histogram(histogram) => render_histogram(out, metric, histogram),
        // Not configured by the runtime (no view selects them).
        MetricData::ExponentialHistogram(_) => {}
    }
}

fn header(out: &mut String, name: &str, metric: &Metric, kind: &str) {
    let help = metric
        .description()
        .replace('\\', "\\\\")
        .replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn render_gauge<T: Sample>(out: &mut String, metric: &Metric, gauge: &Gauge<T>) {
    let name = metric_name(metric.name(), metric.unit(), false);
    header(out, &name, metric, "gauge");
    for point in gauge.data_points() {
        sample(out, &name, point.attributes(), &[], point.value().text());
    }
}

fn render_sum<T: Sample>(out: &mut String, metric: &Metric, sum: &Sum<T>) {
    let monotonic = sum.is_monotonic();
    let name = metric_name(metric.name(), metric.unit(), monotonic);
    header(
        out,
        &name,
        metric,
        if monotonic { "counter" } else { "gauge" },
    );
    for point in sum.data_points() {
        sample(out, &name, point.attributes(), &[], point.value().text());
    }
}

fn render_histogram<T: Sample>(out: &mut String, metric: &Metric, histogram: &Histogram<T>) {
    let name = metric_name(metric.name(), metric.unit(), false);
    header(out, &name, metric, "histogram");
    for point in histogram.data_points() {
        let mut cumulative = 0u64;
        let bounds: Vec<f64> = point.bounds().collect();
        for (index, count) in point.bucket_counts().enumerate() {
            cumulative += count;
            let le = bounds.get(index).map_or("+Inf".to_owned(), |b| b.text());
            sample(
                out,
                &format!("{name}_bucket"),
                point.attributes(),
                &[("le", le.as_str())],
                cumulative.to_string(),
            );
        }
        sample(
            out,
            &format!("{name}_sum"),
            point.attributes(),
            &[],
            point.sum().text(),
        );
        sample(
            out,
            &format!("{name}_count"),
            point.attributes(),
            &[],
            point.count().to_string(),
        );
    }
}

fn sample<'a>(
    out: &mut String,
    name: &str,
    attributes: impl Iterator<Item = &'a KeyValue>,
    extra: &[(&str, &str)],
    value: String,
) {
    let mut labels: Vec<(String, String)> = attributes
        .map(|kv| (label_name(kv.key.as_str()), value_text(&kv.value)))
        .collect();
    labels.sort();
    labels.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    out.push_str(name);
    write_labels(out, labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    out.push(' ');
    out.push_str(&value);
    out.push('\n');
}

fn write_labels<'a>(out: &mut String, labels: impl Iterator<Item = (&'a str, &'a str)>) {
    let mut first = true;
    for (key, value) in labels {
        out.push(if first { '{' } else { ',' });
        first = false;
        let escaped = value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        let _ = write!(out, "{key}=\"{escaped}\"");
    }
    if !first {
        out.push('}');
    }
}

fn value_text(value: &Value) -> String {
    value.as_str().into_owned()
}

/// A Prometheus label name: every character outside `[a-zA-Z0-9_]` becomes `_`.
fn label_name(key: &str) -> String {
    let mut name: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name
}

/// A Prometheus metric name from an OpenTelemetry name and unit, as the
/// OpenTelemetry Prometheus exporter translates them: invalid characters to
/// `_`, the unit's word appended (`ms` -> `milliseconds`; annotations such as
/// `{stream}` dropped; `1` -> `ratio` for gauges), `_total` for counters.
pub fn metric_name(name: &str, unit: &str, counter: bool) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let suffix = unit_suffix(unit, counter);
    if let Some(suffix) = suffix
        && !out.ends_with(&format!("_{suffix}"))
    {
        out.push('_');
        out.push_str(&suffix);
    }
    if counter && !out.ends_with("_total") {
        out.push_str("_total");
    }
    out
}

fn unit_suffix(unit: &str, counter: bool) -> Option<String> {
    // Annotations in braces carry no unit.
    let unit: String = {
        let mut kept = String::new();
        let mut depth = 0;
        for c in unit.chars() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ if depth == 0 => kept.push(c),
                _ => {}
            }
        }
        kept
    };
    let word = |u: &str| -> Option<&'static str> {
        Some(match u {
            "d" => "days",
            "h" => "hours",
            "min" => "minutes",
            "s" => "seconds",
            "ms" => "milliseconds",
            "us" => "microseconds",
            "ns" => "nanoseconds",
            "By" => "bytes",
            "KiBy" => "kibibytes",
            "MiBy" => "mebibytes",
            "%" => "percent",
            _ => return None,
        })
    };
    match unit.as_str() {
        "" => None,
        "1" if counter => None,
        "1" => Some("ratio".to_owned()),
        other => match other.split_once('/') {
            Some((per, of)) => {
                let per = word(per)
                    .map(str::to_owned)
                    .unwrap_or_else(|| per.to_owned());
                let of = match of {
                    "s" => "second",
                    "m" => "minute",
                    "h" => "hour",
                    "d" => "day",
                    other => other,
                };
                Some(format!("{per}_per_{of}"))
            }
            None => Some(word(other).map_or_else(|| label_name(other), str::to_owned)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A collector that forwards the names of the metrics it receives.
    struct Collector(tokio::sync::mpsc::UnboundedSender<Vec<String>>);

    #[tonic::async_trait]
    impl opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::MetricsService
        for Collector
    {
        async fn export(
            &self,
            request: tonic::Request<
                opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest,
            >,
        ) -> Result<
            tonic::Response<
                opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse,
            >,
            tonic::Status,
        > {
            let names = request
                .into_inner()
                .resource_metrics
                .iter()
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics)
                .map(|m| m.name.clone())
                .collect();
            let _ = self.0.send(names);
            Ok(tonic::Response::new(Default::default()))
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn metrics_are_pushed_to_the_otlp_endpoint_when_one_is_set() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let (sent, mut received) = tokio::sync::mpsc::unbounded_channel();
        let collector = tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(
                    opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::MetricsServiceServer::new(
                        Collector(sent),
                    ),
                )
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        let metrics = ServiceMetrics::new(
            "metrics-test",
            Some(&format!("http://{address}")),
            Duration::from_millis(100),
        )
        .expect("provider");
        metrics
            .meter()
            .u64_counter("approdo.test.pushed")
            .build()
            .add(1, &[]);
        let pushed = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(names) = received.recv().await {
                if names.iter().any(|n| n == "approdo.test.pushed") {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(pushed, Ok(true), "the collector received the counter");
        metrics.shutdown();
        collector.abort();
    }

    #[test]
    fn names_are_translated_as_the_prometheus_exporter_does() {
        assert_eq!(
            metric_name("rpc.server.duration", "ms", false),
            "rpc_server_duration_milliseconds"
        );
        assert_eq!(
            metric_name("approdo.case_log.append.conflicts", "{conflict}", true),
            "approdo_case_log_append_conflicts_total"
        );
        assert_eq!(
            metric_name("approdo.watch.streams", "{stream}", false),
            "approdo_watch_streams"
        );
        assert_eq!(metric_name("x.ratio", "1", false), "x_ratio");
        assert_eq!(
            metric_name("x.rate", "By/s", false),
            "x_rate_bytes_per_second"
        );
    }

    #[test]
    fn a_scrape_shows_counters_histograms_and_gauges_with_their_attributes() {
        let metrics =
            ServiceMetrics::new("metrics-test", None, Duration::from_secs(60)).expect("provider");
        let meter = metrics.meter();
        let requests = meter
            .u64_counter("approdo.test.requests")
            .with_unit("{request}")
            .build();
        requests.add(2, &[KeyValue::new("rpc.method", "OpenCase")]);
        requests.add(1, &[KeyValue::new("rpc.method", "say \"hi\"\n")]);
        let duration = meter
            .f64_histogram("rpc.server.duration")
            .with_unit("ms")
            .with_boundaries(vec![1.0, 10.0])
            .build();
        duration.record(0.5, &[KeyValue::new("rpc.grpc.status_code", 0i64)]);
        duration.record(5.0, &[KeyValue::new("rpc.grpc.status_code", 0i64)]);
        duration.record(50.0, &[KeyValue::new("rpc.grpc.status_code", 0i64)]);
        let open = meter.i64_up_down_counter("approdo.watch.streams").build();
        open.add(3, &[]);
        open.add(-1, &[]);

        let text = metrics.prometheus_text().expect("scrape");
        assert!(
            text.contains("target_info{service_name=\"metrics-test\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE approdo_test_requests_total counter"),
            "{text}"
        );
        assert!(
            text.contains("approdo_test_requests_total{rpc_method=\"OpenCase\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("approdo_test_requests_total{rpc_method=\"say \\\"hi\\\"\\n\"} 1"),
            "{text}"
        );
        assert!(text.contains("# TYPE rpc_server_duration_milliseconds histogram"));
        for line in [
            "rpc_server_duration_milliseconds_bucket{rpc_grpc_status_code=\"0\",le=\"1\"} 1",
            "rpc_server_duration_milliseconds_bucket{rpc_grpc_status_code=\"0\",le=\"10\"} 2",
            "rpc_server_duration_milliseconds_bucket{rpc_grpc_status_code=\"0\",le=\"+Inf\"} 3",
            "rpc_server_duration_milliseconds_sum{rpc_grpc_status_code=\"0\"} 55.5",
            "rpc_server_duration_milliseconds_count{rpc_grpc_status_code=\"0\"} 3",
            "# TYPE approdo_watch_streams gauge",
            "approdo_watch_streams 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }
}
