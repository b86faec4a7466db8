//! A trace started at a command continues in the projection that applies its
//! events: the apply span's parent is the command's span (in-process exporter,
//! recording through a subscriber of this test only).

use std::time::Duration;

use case_log_jetstream::*;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::trace::InMemorySpanExporter;
use projection_sled::{Catalogue, ProjectionStore, RunnerConfig};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

use crate::support::traced::with_subscriber;
use crate::support::{System, until_some};

#[test]
fn the_apply_span_is_a_child_of_the_command_span() {
    let exporter = InMemorySpanExporter::default();
    let provider = telemetry::tracer_provider("trace-test", exporter.clone(), false);
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("trace-test")));
    with_subscriber(subscriber, apply_follows_command(exporter));
}

async fn apply_follows_command(exporter: InMemorySpanExporter) {
    let system = System::start(&[]).await;
    let log = system.log().await;
    let dir = tempfile::tempdir().expect("dir");
    let shutdown = tokio_util::sync::CancellationToken::new();
    let (projection, _task) = projection_sled::spawn(
        log.clone(),
        ProjectionStore::open(dir.path()).expect("open"),
        Catalogue::new("trace"),
        RunnerConfig::default(),
        shutdown.clone(),
    )
    .expect("spawn");

    let command = tracing::info_span!("command.open_case");
    let command_context = command.context().span().span_context().clone();
    let address = AggregateAddress::new(
        RootKind::Case,
        TokenId::parse("t1").expect("id"),
        Producer::Screening,
    );
    let executed = log
        .execute(&address, "trace-req", |_| {
            Ok::<_, std::convert::Infallible>(PendingCommit {
                request_id: String::new(),
                actor: Actor::default(),
                occurred_at: time::OffsetDateTime::now_utc(),
                correlation_id: "trace-req".to_owned(),
                causation_id: String::new(),
                events: vec![NewEvent {
                    event_type: "trace.v1.Happened".to_owned(),
                    schema_version: 1,
                    payload: vec![],
                }],
                reply: vec![],
            })
        })
        .instrument(command.clone())
        .await
        .expect("execute");
    drop(command);
    projection
        .wait_for(executed.sequence, Duration::from_secs(10))
        .await
        .expect("applied");

    let apply = until_some("apply span exported", || {
        let spans = exporter.get_finished_spans().expect("spans");
        async move { spans.into_iter().find(|s| s.name == "projection.apply") }
    })
    .await;
    assert_eq!(apply.span_context.trace_id(), command_context.trace_id());
    assert_eq!(apply.parent_span_id, command_context.span_id());
    // The commit records the same trace context durably.
    let traceparent = executed
        .commit
        .trace_context
        .expect("trace context")
        .traceparent;
    assert!(traceparent.contains(&command_context.trace_id().to_string()));
    shutdown.cancel();
}
