//! The projection runner against a real nats-server: resume, rebuild,
//! read-your-writes, stopping loudly on its own producer's commit it cannot
//! apply, parking what it must not trust or cannot apply of another producer,
//! and following only the subjects it consumes.

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
    append_as(log, Producer::Screening, case, event_type, events).await
}

async fn append_as(
    log: &CaseLog,
    producer: Producer,
    case: &str,
    event_type: &str,
    events: usize,
) -> u64 {
    let address =
        AggregateAddress::new(RootKind::Case, TokenId::parse(case).expect("id"), producer);
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
    fn producer(&self) -> Option<Producer> {
        Some(Producer::Screening)
    }
    fn consumes(&self) -> projection_sled::Consumes {
        projection_sled::Consumes::All
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

/// Publishes bytes on a subject as any credential allowed there could.
async fn publish_raw(log: &CaseLog, subject: &str, payload: Vec<u8>) -> u64 {
    log.jetstream()
        .publish(subject.to_owned(), payload.into())
        .await
        .expect("publish")
        .await
        .expect("stored")
        .sequence
}

fn forged_commit(claimed_producer: &str, case: &str) -> Vec<u8> {
    use prost::Message;
    contracts::log::v1::Commit {
        commit_id: "forged".to_owned(),
        aggregate: Some(contracts::log::v1::AggregateAddress {
            root_kind: "case".to_owned(),
            root_id: case.to_owned(),
            producer: claimed_producer.to_owned(),
            entity_id: String::new(),
        }),
        events: vec![contracts::log::v1::Event {
            event_id: "forged-event".to_owned(),
            event_type: "test.v1.Fine".to_owned(),
            schema_version: 1,
            payload: Vec::new(),
        }],
        ..Default::default()
    }
    .encode_to_vec()
}

#[tokio::test]
async fn what_it_must_not_trust_or_cannot_apply_of_others_is_parked_and_it_stays_live() {
    let server = NatsServer::start();
    let log = connect(&server).await;
    append(&log, "p1", "test.v1.Fine", 1).await;
    let garbage = publish_raw(&log, "approdo.case.p1.monitoring", vec![0xff, 0x01, 0x02]).await;
    let forged = publish_raw(
        &log,
        "approdo.case.p1.monitoring",
        forged_commit("screening", "p1"),
    )
    .await;
    let poison = append_as(&log, Producer::Monitoring, "p1", "test.v1.Poison", 1).await;
    let last = append(&log, "p1", "test.v1.Fine", 1).await;

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
    handle
        .wait_for(last, PATIENCE)
        .await
        .expect("moved past them");
    let status = handle.status();
    assert_eq!(status.state, ProjectionState::Live);
    assert_eq!(status.parked, 3);
    let parked = handle.store().parked(0, 10).expect("parked");
    assert_eq!(
        parked
            .iter()
            .map(|p| (p.sequence, p.subject.as_str(), p.reason.as_str()))
            .collect::<Vec<_>>(),
        [
            (
                garbage,
                "approdo.case.p1.monitoring",
                "undecodable_envelope"
            ),
            (
                forged,
                "approdo.case.p1.monitoring",
                "claims_another_aggregate"
            ),
            (poison, "approdo.case.p1.monitoring", "not_applicable"),
        ]
    );
    assert_eq!(parked[1].detail, "case.p1.screening");
    assert!(
        handle
            .store()
            .get("seen", &forged.to_be_bytes())
            .expect("get")
            .is_none(),
        "the forged commit changed nothing"
    );
    let digest = handle.store().content_digest().expect("digest");
    handle.rebuild().await.expect("rebuild");
    handle.wait_for(last, PATIENCE).await.expect("rebuilt");
    assert_eq!(handle.store().content_digest().expect("digest"), digest);
    assert_eq!(handle.status().parked, 3);
    shutdown.cancel();
}

#[tokio::test]
async fn it_follows_only_the_subjects_it_consumes_and_is_live_when_they_are_applied() {
    let server = NatsServer::start();
    let log = connect(&server).await;
    append(&log, "f1", "test.v1.A", 1).await;
    append_as(&log, Producer::Referral, "f1", "test.v1.B", 1).await;
    append(&log, "f2", "test.v1.A", 1).await;
    // The log ends with commits this projection does not consume.
    append_as(&log, Producer::Referral, "f2", "test.v1.B", 1).await;
    publish_raw(&log, "approdo.case.f2.monitoring", vec![0xff]).await;

    let dir = tempfile::tempdir().expect("dir");
    let shutdown = CancellationToken::new();
    let (handle, _task) = projection_sled::spawn(
        log.clone(),
        ProjectionStore::open(dir.path()).expect("open"),
        Catalogue::within(
            "screening",
            projection_sled::Consumes::Subjects(
                producer_subjects(RootKind::Case, Producer::Screening).to_vec(),
            ),
        ),
        RunnerConfig::default(),
        shutdown.clone(),
    )
    .expect("spawn");
    let mut status = handle.watch();
    tokio::time::timeout(
        PATIENCE,
        status.wait_for(|s| s.state == ProjectionState::Live),
    )
    .await
    .expect("live in time")
    .expect("running");
    assert_eq!(handle.status().position, 3);
    assert_eq!(
        handle.status().parked,
        0,
        "the monitoring subject is not followed"
    );
    assert_eq!(
        count(handle.store(), catalogue::EVENT_TYPES, "test.v1.A"),
        2
    );
    assert_eq!(
        count(handle.store(), catalogue::EVENT_TYPES, "test.v1.B"),
        0
    );
    shutdown.cancel();
}
