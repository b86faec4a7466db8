//! Tracing and OpenTelemetry for every binary, and the W3C trace context that
//! carries a trace from a gRPC command through the case log to each projection.
//!
//! Span fields hold ids and codes only (architecture invariant 11): this crate
//! never records message payloads.

pub mod metrics;

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde::Deserialize;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How a binary reports what it does.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// `tracing` filter directives, as in `RUST_LOG` (which overrides it when set).
    pub filter: String,
    /// `json` for machines, `text` for people.
    pub format: LogFormat,
    /// OTLP/gRPC endpoint (for example `http://127.0.0.1:4317`); traces are exported only when set.
    pub otlp_endpoint: Option<String>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            filter: "info".to_owned(),
            format: LogFormat::Json,
            otlp_endpoint: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid log filter")]
    Filter(#[source] tracing_subscriber::filter::ParseError),
    #[error("cannot build the OTLP exporter")]
    Exporter(#[source] opentelemetry_otlp::ExporterBuildError),
    #[error("cannot collect metrics: {0}")]
    Collect(String),
    #[error("a global tracing subscriber is already set")]
    AlreadySet(#[source] tracing_subscriber::util::TryInitError),
}

/// Flushes and shuts down trace export when dropped, at the end of `main`.
#[must_use = "dropping the guard stops trace export"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("telemetry: trace export did not shut down cleanly: {error}");
        }
    }
}

/// Installs the global subscriber: an environment filter, JSON or text logs on
/// stderr, and OTLP trace export when an endpoint is configured.
pub fn init(
    service_name: &'static str,
    config: &TelemetryConfig,
) -> Result<TelemetryGuard, TelemetryError> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => EnvFilter::try_new(directives),
        _ => EnvFilter::try_new(&config.filter),
    }
    .map_err(TelemetryError::Filter)?;

    let logs = match config.format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed(),
    };

    let provider = match &config.otlp_endpoint {
        Some(endpoint) => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .build()
                .map_err(TelemetryError::Exporter)?;
            Some(tracer_provider(service_name, exporter, true))
        }
        None => None,
    };
    let otel_layer = provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer(service_name)));

    tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(otel_layer)
        .try_init()
        .map_err(TelemetryError::AlreadySet)?;
    Ok(TelemetryGuard { provider })
}

/// A tracer provider for `exporter` (batching for production, simple for tests).
pub fn tracer_provider<E>(service_name: &'static str, exporter: E, batch: bool) -> SdkTracerProvider
where
    E: opentelemetry_sdk::trace::SpanExporter + 'static,
{
    let resource = opentelemetry_sdk::Resource::builder_empty()
        .with_service_name(service_name)
        .build();
    let builder = SdkTracerProvider::builder().with_resource(resource);
    if batch {
        builder.with_batch_exporter(exporter).build()
    } else {
        builder.with_simple_exporter(exporter).build()
    }
}

/// W3C trace context, as carried in NATS headers and in the commit envelope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceContext {
    pub traceparent: String,
    pub tracestate: String,
}

impl TraceContext {
    pub fn is_empty(&self) -> bool {
        self.traceparent.is_empty()
    }
}

/// The context of the current span, to inject into an outgoing message.
/// Empty when no trace is being recorded.
pub fn current_trace_context() -> TraceContext {
    let context = tracing::Span::current().context();
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    TraceContext {
        traceparent: carrier.remove("traceparent").unwrap_or_default(),
        tracestate: carrier.remove("tracestate").unwrap_or_default(),
    }
}

/// Makes `span` a child of the remote context carried by a message, so that a
/// trace started at a command continues where the command's events are applied.
/// A missing or malformed context leaves the span a root: telemetry never stops work.
pub fn continue_trace(span: &tracing::Span, trace: &TraceContext) {
    if trace.is_empty() {
        return;
    }
    let mut carrier = HashMap::new();
    carrier.insert("traceparent".to_owned(), trace.traceparent.clone());
    if !trace.tracestate.is_empty() {
        carrier.insert("tracestate".to_owned(), trace.tracestate.clone());
    }
    let parent = TraceContextPropagator::new().extract(&carrier);
    // An error here means the span is disabled or already started: nothing to link.
    let _ = span.set_parent(parent);
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TraceContextExt;
    use opentelemetry_sdk::trace::InMemorySpanExporter;

    #[test]
    fn a_context_injected_in_one_span_becomes_the_parent_of_another() {
        let exporter = InMemorySpanExporter::default();
        let provider = tracer_provider("telemetry-test", exporter.clone(), false);
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));

        tracing::subscriber::with_default(subscriber, || {
            let command = tracing::info_span!("command");
            let carried = command.in_scope(current_trace_context);
            assert!(carried.traceparent.starts_with("00-"), "{carried:?}");

            let apply = tracing::info_span!("apply");
            continue_trace(&apply, &carried);
            let command_span_id = command.context().span().span_context().span_id();
            drop(apply);
            drop(command);

            let spans = exporter.get_finished_spans().expect("spans");
            let apply = spans
                .iter()
                .find(|s| s.name == "apply")
                .expect("apply span");
            assert_eq!(apply.parent_span_id, command_span_id);
        });
    }

    #[test]
    fn a_malformed_context_leaves_a_root_span() {
        let exporter = InMemorySpanExporter::default();
        let provider = tracer_provider("telemetry-test", exporter.clone(), false);
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let apply = tracing::info_span!("apply");
            continue_trace(
                &apply,
                &TraceContext {
                    traceparent: "garbage".to_owned(),
                    tracestate: String::new(),
                },
            );
            drop(apply);
            let spans = exporter.get_finished_spans().expect("spans");
            assert_eq!(
                spans[0].parent_span_id,
                opentelemetry::trace::SpanId::INVALID
            );
        });
    }
}
