//! The projection runner against a real nats-server: resume, rebuild,
//! read-your-writes, and stopping loudly on what it cannot apply.

use std::time::Duration;

use case_log_jetstream::*;
use nats_test_server::NatsServer;
use projection_sled::catalogue::{self, Catalogue};
use projection_sled::{
    ApplyError, Projection, ProjectionState, ProjectionStore, Rows, RunnerConfig,
};
use tokio_util::sync::CancellationToken;

const PATIENCE: Duration = Duration::from_secs(10);

async fn connect(server: &NatsServer) -> CaseLog {
    CaseLog::connect(&CaseLogConfig {
        url: server.url(),
        ..CaseLogConfig::default()
    })
    .await
    .expect("connect")
}

async fn append(log: &CaseLog, case: &str, event_type: &str, events: usize) -> u64 {
    let address = AggregateAddress::new(
        RootKind::Case,
        TokenId::parse(case).expect("id"),
        Producer::Screening,
    );
    let request = uuid_like();
    log.execute(&address, &request, |_| {
        Ok::<_, std::convert::Infallible>(PendingCommit {
            request_id: String::new(),
            actor: Actor::default(),
            occurred_at: time::OffsetDateTime::now_utc(),
            correlation_id: request.clone(),
            causation_id: String::new(),
            events: (0..events)
                .map(|_| NewEvent {
                    event_type: event_type.to_owned(),
                    schema_version: 1,
                    payload: vec![],
                })
                .collect(),
            reply: vec![],
        })
    })
    .await
    .expect("execute")
    .sequence
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "req-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn count(store: &ProjectionStore, table: &str, key: &str) -> u64 {
    store
        .get(table, key.as_bytes())
        .expect("get")
        .map_or(0, |bytes| catalogue::decode_count(&bytes))
}

#[tokio::test]
async fn applies_resumes_after_restart_and_rebuilds_to_the_same_digest() {
    let server = NatsServer::start();
    let log = connect(&server).await;
    let dir = tempfile::tempdir().expect("dir");
    for i in 0..30 {
        append(&log, &format!("c{}", i % 3), "test.v1.A", 2).await;
    }

    let shutdown = CancellationToken::new();
    let (handle, task) = projection_sled::spawn(
        log.clone(),
        ProjectionStore::open(dir.path()).expect("open"),
        Catalogue::new("test"),
        RunnerConfig {
            batch: 7,
            ..RunnerConfig::default()
        },
        shutdown.clone(),
    )
    .expect("spawn");
    handle.wait_for(30, PATIENCE).await.expect("caught up");
    assert_eq!(
        count(handle.store(), catalogue::EVENT_TYPES, "test.v1.A"),
        60
    );
    assert_eq!(handle.status().state, ProjectionState::Live);
    shutdown.cancel();
    task.await.expect("stopped");
    drop(handle);

    // More commits while it is down; it resumes from its stored position.
    for _ in 0..5 {
        append(&log, "c9", "test.v1.B", 1).await;
    }
    let shutdown = CancellationToken::new();
    let (handle, _task) = projection_sled::spawn(
        log.clone(),
        ProjectionStore::open(dir.path()).expect("reopen"),
        Catalogue::new("test"),
        RunnerConfig::default(),
        shutdown.clone(),
    )
    .expect("spawn");
    handle.wait_for(35, PATIENCE).await.expect("resumed");
    assert_eq!(
        count(handle.store(), catalogue::EVENT_TYPES, "test.v1.A"),
        60,
        "nothing applied twice"
    );
    assert_eq!(
        count(handle.store(), catalogue::EVENT_TYPES, "test.v1.B"),
        5
    );
    assert_eq!(count(handle.store(), catalogue::ROOTS, "case.c9"), 5);
    let before = handle.store().content_digest().expect("digest");

    handle.rebuild().await.expect("rebuild");
    handle.wait_for(35, PATIENCE).await.expect("rebuilt");
    assert_eq!(handle.store().content_digest().expect("digest"), before);
    assert_eq!(
        count(handle.store(), catalogue::EVENT_TYPES, "test.v1.A"),
        60
    );
    shutdown.cancel();
}

#[tokio::test]
async fn a_query_with_the_sequence_of_an_append_sees_that_append() {
    let server = NatsServer::start();
    let log = connect(&server).await;
    let dir = tempfile::tempdir().expect("dir");
    let shutdown = CancellationToken::new();
    let (handle, _task) = projection_sled::spawn(
        log.clone(),
        ProjectionStore::open(dir.path()).expect("open"),
        Catalogue::new("ryw"),
        RunnerConfig::default(),
        shutdown.clone(),
    )
    .expect("spawn");
    for i in 0..20 {
        let case = format!("ryw{i}");
        let sequence = append(&log, &case, "test.v1.Seen", 1).await;
        handle.wait_for(sequence, PATIENCE).await.expect("applied");
        assert_eq!(
            count(handle.store(), catalogue::ROOTS, &format!("case.{case}")),
            1
        );
    }
    let too_far = handle.wait_for(1_000, Duration::from_millis(100)).await;
    assert!(matches!(
        too_far,
        Err(projection_sled::WaitError::Timeout { .. })
    ));
    shutdown.cancel();
}

/// Refuses one event type, as a projection meeting an event it cannot handle would.
struct Picky;

impl Projection for Picky {
    fn name(&self) -> &'static str {
        "picky"
    }
    fn apply(&self, rows: &mut Rows<'_>, commit: &RecordedCommit) -> Result<(), ApplyError> {
        for event in &commit.commit.events {
            if event.event_type == "test.v1.Poison" {
                return Err(ApplyError::Decode {
                    event_type: event.event_type.clone(),
                    reason: "unknown schema".to_owned(),
                });
            }
        }
        rows.put("seen", &commit.sequence.to_be_bytes(), b"")?;
        Ok(())
    }
}

#[tokio::test]
async fn a_commit_that_cannot_be_applied_stops_the_projection_naming_it() {
    let server = NatsServer::start();
    let log = connect(&server).await;
    append(&log, "p1", "test.v1.Fine", 1).await;
    let poison = append(&log, "p1", "test.v1.Poison", 1).await;
    append(&log, "p1", "test.v1.Fine", 1).await;

    let dir = tempfile::tempdir().expect("dir");
    let shutdown = CancellationToken::new();
    let (handle, _task) = projection_sled::spawn(
        log.clone(),
        ProjectionStore::open(dir.path()).expect("open"),
        Picky,
        RunnerConfig::default(),
        shutdown.clone(),
    )
    .expect("spawn");
    let waited = handle.wait_for(3, PATIENCE).await;
    assert_eq!(waited, Err(projection_sled::WaitError::Failed));
    let status = handle.status();
    match status.state {
        ProjectionState::Failed {
            sequence,
            event_types,
            ..
        } => {
            assert_eq!(sequence, poison);
            assert_eq!(event_types, "test.v1.Poison");
        }
        other => panic!("expected failed, got {other:?}"),
    }
    assert_eq!(
        status.position,
        poison - 1,
        "stopped before the poison, nothing skipped"
    );
    assert!(
        handle
            .store()
            .get("seen", &(poison + 1).to_be_bytes())
            .expect("get")
            .is_none()
    );
    shutdown.cancel();
}
