//! Architecture invariant 9 with the local server's own permissions file
//! (deploy/local/nats-permissions.conf): each service's NATS user provisions and
//! follows the case log, and publishes on its own subjects only; the server
//! refuses the rest, and nothing reaches the log.

use std::time::Duration;

use case_log_jetstream::*;
use nats_test_server::{NatsServer, ServerOptions, workspace_root};
use projection_sled::{Catalogue, ProjectionStore, RunnerConfig};

use crate::support::System;

const USERS: [(&str, &str); 4] = [
    ("screening", "APPRODO_NATS_SCREENING_PASSWORD"),
    ("referral", "APPRODO_NATS_REFERRAL_PASSWORD"),
    ("safe-space", "APPRODO_NATS_SAFE_SPACE_PASSWORD"),
    ("monitoring", "APPRODO_NATS_MONITORING_PASSWORD"),
];

fn password(user: &str) -> String {
    format!("test-password-of-{user}")
}

/// A system (no service) whose nats-server has the local permissions file.
async fn server() -> System {
    let permissions = workspace_root().join("deploy/local/nats-permissions.conf");
    System::builder()
        .nats(ServerOptions {
            include: vec![permissions],
            env: USERS
                .iter()
                .map(|(user, var)| ((*var).to_owned(), password(user)))
                .collect(),
            ..ServerOptions::default()
        })
        .start()
        .await
}

fn config(server: &NatsServer, user: &str, password: &str) -> CaseLogConfig {
    CaseLogConfig {
        url: server.url(),
        user: Some(user.to_owned()),
        password: Some(password.to_owned()),
        request_timeout_ms: 700,
        ..CaseLogConfig::default()
    }
}

fn commit(producer: Producer, request: &str) -> NewCommit {
    NewCommit {
        address: AggregateAddress::new(
            RootKind::Case,
            TokenId::parse("case-1").expect("id"),
            producer,
        ),
        previous_sequence: 0,
        pending: PendingCommit {
            request_id: request.to_owned(),
            actor: Actor::default(),
            occurred_at: time::OffsetDateTime::now_utc(),
            correlation_id: request.to_owned(),
            causation_id: String::new(),
            events: vec![NewEvent {
                event_type: "test.v1.Happened".to_owned(),
                schema_version: 1,
                payload: vec![],
            }],
            reply: vec![],
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_services_user_publishes_on_its_own_subjects_only() {
    let system = server().await;
    let server = system.nats();
    for (user, _) in USERS {
        let log = CaseLog::connect(&config(server, user, &password(user)))
            .await
            .expect("connect and provision");
        let own = Producer::from_token(user).expect("producer");
        let before = log.last_sequence().await.expect("last");
        log.append(&commit(own, &format!("{user}-own")))
            .await
            .expect("own subject");
        for other in Producer::ALL.into_iter().filter(|p| *p != own) {
            let refused = log
                .append(&commit(other, &format!("{user}-as-{other}")))
                .await;
            assert!(refused.is_err(), "{user} published on {other}'s subject");
        }
        assert_eq!(
            log.last_sequence().await.expect("last"),
            before + 1,
            "only its own commit reached the log"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_services_user_can_read_histories_and_follow_the_log() {
    let system = server().await;
    let server = system.nats();
    let log = CaseLog::connect(&config(server, "referral", &password("referral")))
        .await
        .expect("connect");
    let sequence = log
        .append(&commit(Producer::Referral, "r-1"))
        .await
        .expect("append")
        .sequence;
    let history = log
        .history(
            &HistoryScope::Root {
                kind: RootKind::Case,
                id: TokenId::parse("case-1").expect("id"),
            },
            HistoryBound::All,
        )
        .await
        .expect("history");
    assert_eq!(history.len(), 1);
    let dir = tempfile::tempdir().expect("dir");
    let shutdown = tokio_util::sync::CancellationToken::new();
    let (projection, _task) = projection_sled::spawn(
        log.clone(),
        ProjectionStore::open(dir.path()).expect("open"),
        Catalogue::new("permissions"),
        RunnerConfig::default(),
        shutdown.clone(),
    )
    .expect("spawn");
    projection
        .wait_for(sequence, Duration::from_secs(10))
        .await
        .expect("the projection follows with the service's user");
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_or_no_user_is_refused() {
    let system = server().await;
    let server = system.nats();
    assert!(
        CaseLog::connect(&config(server, "screening", "not-the-password"))
            .await
            .is_err()
    );
    let anonymous = CaseLogConfig {
        url: server.url(),
        request_timeout_ms: 700,
        ..CaseLogConfig::default()
    };
    assert!(CaseLog::connect(&anonymous).await.is_err());
}
