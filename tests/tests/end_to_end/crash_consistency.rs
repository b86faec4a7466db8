//! Invariant 7: a projection process killed with SIGKILL at random points, then
//! restarted, ends equal to a clean rebuild from zero, with no event applied twice.

use std::process::{Command, Stdio};
use std::time::Duration;

use case_log_jetstream::*;
use projection_sled::catalogue::{self, Catalogue};
use projection_sled::{ProjectionState, ProjectionStore, RunnerConfig};
use rand::{Rng, SeedableRng};
use tokio_util::sync::CancellationToken;

use crate::support::System;

const KILLS: usize = 25;
const EVENTS_PER_COMMIT: usize = 3;

async fn append_commits(log: &CaseLog, last: &mut [u64], count: usize, rng: &mut impl Rng) {
    for _ in 0..count {
        let aggregate = rng.random_range(0..last.len());
        let address = AggregateAddress::new(
            RootKind::Case,
            TokenId::parse(&format!("case-{aggregate}")).expect("id"),
            Producer::Screening,
        );
        let request = format!("req-{}", rng.random::<u64>());
        let commit = NewCommit {
            address,
            previous_sequence: last[aggregate],
            pending: PendingCommit {
                request_id: request.clone(),
                actor: Actor::default(),
                occurred_at: time::OffsetDateTime::now_utc(),
                correlation_id: request,
                causation_id: String::new(),
                events: (0..EVENTS_PER_COMMIT)
                    .map(|i| NewEvent {
                        event_type: format!("crash.v1.Event{i}"),
                        schema_version: 1,
                        payload: vec![i as u8; 64],
                    })
                    .collect(),
                reply: vec![],
            },
        };
        last[aggregate] = log.append(&commit).await.expect("append").sequence;
    }
}

async fn catch_up(log: &CaseLog, dir: &std::path::Path, until: u64) -> String {
    let shutdown = CancellationToken::new();
    let (handle, task) = projection_sled::spawn(
        log.clone(),
        ProjectionStore::open(dir).expect("open"),
        Catalogue::new("crash"),
        RunnerConfig::default(),
        shutdown.clone(),
    )
    .expect("spawn");
    let reached = handle.wait_for(until, Duration::from_secs(60)).await;
    assert_eq!(reached, Ok(()), "status: {:?}", handle.status());
    assert_eq!(handle.status().state, ProjectionState::Live);
    let digest = handle.store().content_digest().expect("digest");
    for i in 0..EVENTS_PER_COMMIT {
        let count = handle
            .store()
            .get(
                catalogue::EVENT_TYPES,
                format!("crash.v1.Event{i}").as_bytes(),
            )
            .expect("get")
            .map_or(0, |b| catalogue::decode_count(&b));
        assert_eq!(count, until, "each event applied exactly once");
    }
    shutdown.cancel();
    task.await.expect("stopped");
    digest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projection_killed_at_random_points_equals_a_clean_rebuild() {
    let seed: u64 = rand::random();
    println!("seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let system = System::start(&[]).await;
    let log = system.log().await;
    let mut last = vec![0_u64; 12];
    append_commits(&log, &mut last, 600, &mut rng).await;

    let crashed = tempfile::tempdir().expect("dir");
    let child = end_to_end::binary("projection-crash-child");
    for kill in 0..KILLS {
        let batch = [1, 7, 64][kill % 3];
        let mut process = Command::new(&child)
            .args([
                system.nats().url(),
                crashed.path().display().to_string(),
                batch.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        // Keep writing while it applies, then kill it at a random point.
        append_commits(&log, &mut last, rng.random_range(0..20), &mut rng).await;
        tokio::time::sleep(Duration::from_millis(rng.random_range(5..120))).await;
        process.kill().expect("SIGKILL");
        let status = process.wait().expect("wait");
        assert!(
            !status.success(),
            "kill {kill}: the child must have been killed, not exited"
        );
    }
    let end = log.last_sequence().await.expect("last");
    let after_crashes = catch_up(&log, crashed.path(), end).await;

    let clean = tempfile::tempdir().expect("dir");
    let rebuilt = catch_up(&log, clean.path(), end).await;
    assert_eq!(
        after_crashes, rebuilt,
        "seed {seed}: crashed projection differs from a clean rebuild"
    );
}
