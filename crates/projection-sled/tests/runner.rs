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
async fn it_applies_only_the_subjects_it_consumes_and_its_position_reaches_the_end_of_the_log() {
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
    // The whole log is read: the position is its end, so a query waiting
    // for a sequence of another subject is answered as soon as it is read.
    assert_eq!(handle.status().position, 5);
    handle
        .wait_for(5, PATIENCE)
        .await
        .expect("a sequence of another subject is reached");
    assert_eq!(
        handle.status().parked,
        0,
        "the malformed commit on the monitoring subject is skipped undecoded, not parked"
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

/// Writes one row per commit (its sequence) and, the first time it meets
/// the commit at `gate_at`, waits inside the transaction until the test
/// opens the gate: the runner is then busy storing, as under load.
struct Gated {
    gate_at: u64,
    gate: std::sync::Arc<Gate>,
}

#[derive(Default)]
struct Gate {
    /// (entered, opened)
    state: std::sync::Mutex<(bool, bool)>,
    changed: std::sync::Condvar,
}

impl Gate {
    fn entered(&self) -> bool {
        self.state.lock().expect("gate").0
    }

    fn open(&self) {
        self.state.lock().expect("gate").1 = true;
        self.changed.notify_all();
    }

    fn pass(&self) {
        let mut state = self.state.lock().expect("gate");
        state.0 = true;
        while !state.1 {
            state = self.changed.wait(state).expect("gate");
        }
    }
}

/// Opens the gate when the test ends, even by a failed assertion (the
/// runtime waits for the blocking thread the gate holds).
struct OpenOnDrop(std::sync::Arc<Gate>);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        self.0.open();
    }
}

impl Projection for Gated {
    fn name(&self) -> &'static str {
        "gated"
    }

    fn producer(&self) -> Option<Producer> {
        None
    }

    fn consumes(&self) -> projection_sled::Consumes {
        projection_sled::Consumes::All
    }

    fn apply(&self, rows: &mut Rows<'_>, commit: &RecordedCommit) -> Result<(), ApplyError> {
        if commit.sequence == self.gate_at {
            self.gate.pass();
        }
        rows.put("seen", &commit.sequence.to_be_bytes(), b"")?;
        Ok(())
    }
}

/// A JetStream API request on the test's own (unrestricted) connection.
async fn js_api(log: &CaseLog, subject: &str, body: &'static str) -> serde_json::Value {
    let answer = log
        .jetstream()
        .client()
        .request(format!("$JS.API.{subject}"), body.into())
        .await
        .expect("JetStream API");
    serde_json::from_slice(&answer.payload).expect("JSON answer")
}

/// A delivery lost in flight: another client takes one message from the
/// runner's own consumer, as a cut connection or a killed server loses
/// one the server counted as delivered. The runner must notice the hole in
/// the consumer's sequence and read the log again from its stored position,
/// never acknowledge past the hole nor skip the commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_lost_in_flight_is_read_again_never_skipped() {
    let server = NatsServer::start();
    let log = connect(&server).await;
    let gate = std::sync::Arc::new(Gate::default());
    let _open_at_the_end = OpenOnDrop(gate.clone());
    let first = append(&log, "c1", "test.v1.A", 1).await;
    let shutdown = CancellationToken::new();
    let dir = tempfile::tempdir().expect("dir");
    let (handle, _task) = projection_sled::spawn(
        log.clone(),
        ProjectionStore::open(dir.path()).expect("open"),
        Gated {
            gate_at: first,
            gate: gate.clone(),
        },
        RunnerConfig {
            batch: 1,
            ..RunnerConfig::default()
        },
        shutdown.clone(),
    )
    .expect("spawn");
    tokio::time::timeout(PATIENCE, async {
        while !gate.entered() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the runner stores the first commit");
    // More commits than the runner reads ahead (batch 1: three batches).
    for n in 0..8 {
        append(&log, &format!("c{n}"), "test.v1.A", 1).await;
    }
    let names = js_api(&log, "CONSUMER.NAMES.APPRODO_CASE_LOG", "{}").await;
    let consumers = names["consumers"].as_array().expect("consumers");
    assert_eq!(consumers.len(), 1, "{names}");
    let consumer = consumers[0].as_str().expect("name");
    // A pull request of our own: the delivery comes on our inbox, under its
    // own subject (so not as the answer to a request).
    let client = log.jetstream().client();
    let inbox = client.new_inbox();
    let mut delivered = client.subscribe(inbox.clone()).await.expect("subscribe");
    client
        .publish_with_reply(
            format!("$JS.API.CONSUMER.MSG.NEXT.APPRODO_CASE_LOG.{consumer}"),
            inbox,
            r#"{"batch":1,"no_wait":true}"#.into(),
        )
        .await
        .expect("pull request");
    let stolen = tokio::time::timeout(PATIENCE, futures::StreamExt::next(&mut delivered))
        .await
        .expect("a delivery taken from the runner's consumer")
        .expect("subscribed");
    assert!(
        stolen.status.is_none(),
        "a message, not a status: {stolen:?}"
    );
    // `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>`
    let reply = stolen.reply.expect("ack subject").to_string();
    let lost: u64 = reply
        .split('.')
        .nth(5)
        .expect("stream seq")
        .parse()
        .expect("u64");
    let last = append(&log, "c9", "test.v1.A", 1).await;
    gate.open();

    // Pulling one message at a time, async-nats can count a pull request as
    // outstanding that the server already answered, and stop pulling until
    // the server's heartbeats are missed (10 s); the runner then follows
    // again. So more patience than the other tests.
    let patience = PATIENCE * 3;
    handle.wait_for(last, patience).await.expect("caught up");
    let seen: Vec<u64> = handle
        .store()
        .scan("seen", b"")
        .expect("rows")
        .iter()
        .map(|(key, _)| u64::from_be_bytes(key[..].try_into().expect("8 bytes")))
        .collect();
    assert!(
        seen.contains(&lost),
        "commit {lost} lost in flight was skipped: {seen:?}"
    );
    assert_eq!(
        seen,
        (first..=last).collect::<Vec<_>>(),
        "each commit once, in order"
    );
    let digest = handle.store().content_digest().expect("digest");
    handle.rebuild().await.expect("rebuild");
    handle.wait_for(last, patience).await.expect("rebuilt");
    assert_eq!(handle.store().content_digest().expect("digest"), digest);
    shutdown.cancel();
}
