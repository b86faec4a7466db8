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

/// Each user's replies arrive on its own inbox prefix, and no user may
/// subscribe to another's prefix or to every inbox: a spying service sees
/// none of another service's replies. Its own request, answered after the
/// other's, shows that anything the spy could have received was delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_services_user_cannot_read_another_services_replies() {
    use tokio_stream::StreamExt;
    let system = server().await;
    let server = system.nats();
    for (index, (spy_user, _)) in USERS.iter().enumerate() {
        let (victim_user, _) = USERS[(index + 1) % USERS.len()];
        assert_eq!(
            inbox_prefix(&principal(&config(server, spy_user, ""))),
            format!("_INBOX_{}", spy_user.to_ascii_uppercase().replace('-', "_"))
        );
        let spy = CaseLog::connect(&config(server, spy_user, &password(spy_user)))
            .await
            .expect("spy connects");
        let client = spy.jetstream().client();
        let mut every_inbox = client.subscribe("_INBOX.>").await.expect("sent");
        let mut victims_inbox = client
            .subscribe(format!("{}.>", inbox_prefix(victim_user)))
            .await
            .expect("sent");
        client.flush().await.expect("flush");
        let victim = CaseLog::connect(&config(server, victim_user, &password(victim_user)))
            .await
            .expect("victim connects");
        victim.last_sequence().await.expect("the victim's request");
        spy.last_sequence()
            .await
            .expect("the spy's own request, answered after the victim's");
        for (what, subscription) in [
            ("every inbox", &mut every_inbox),
            ("the other's inbox", &mut victims_inbox),
        ] {
            let snooped = tokio::time::timeout(Duration::ZERO, subscription.next()).await;
            assert!(
                !matches!(snooped, Ok(Some(_))),
                "{spy_user} read a reply meant for {victim_user} by subscribing to {what}"
            );
        }
    }
}

/// A service's consumers carry its name, and another service's credentials
/// cannot delete them (no service may delete a consumer); reading histories
/// creates none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_cannot_delete_another_services_consumer() {
    let system = server().await;
    let server = system.nats();
    let screening = CaseLog::connect(&config(server, "screening", &password("screening")))
        .await
        .expect("connect");
    screening
        .append(&commit(Producer::Screening, "s-1"))
        .await
        .expect("append");
    screening
        .history(
            &HistoryScope::Root {
                kind: RootKind::Case,
                id: TokenId::parse("case-1").expect("id"),
            },
            HistoryBound::All,
        )
        .await
        .expect("history");
    let stream_of = |log: &CaseLog| {
        let context = log.jetstream().clone();
        async move {
            context
                .get_stream("APPRODO_CASE_LOG")
                .await
                .expect("stream")
        }
    };
    let own = stream_of(&screening).await;
    assert_eq!(
        own.get_info().await.expect("info").state.consumer_count,
        0,
        "a history read leaves no consumer behind"
    );
    let following = screening
        .follow("cases", vec![], 0, 10)
        .await
        .expect("follow");
    let name = following.consumer_name().to_owned();
    assert!(name.starts_with("screening-cases-"), "{name}");
    for (user, _) in USERS {
        let log = CaseLog::connect(&config(server, user, &password(user)))
            .await
            .expect("connect");
        assert!(
            stream_of(&log).await.delete_consumer(&name).await.is_err(),
            "{user} deleted screening's consumer"
        );
    }
    assert!(
        own.consumer_info(&name).await.is_ok(),
        "screening's consumer is still there"
    );
}

/// The referral service reads each person's datasets key and nothing else of
/// the key store: its NATS user is refused the person's own key (which opens
/// the identity), by direct get and by message get; the datasets key, derived
/// from the person's key, opens no identity sealed with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_referral_service_reads_datasets_keys_and_never_a_persons_key() {
    use service_runtime::config::EncryptionConfig;
    use service_runtime::person_keys::{self, PersonKeyKeeper, PersonKeyReader};
    let system = server().await;
    let server = system.nats();
    let encryption = EncryptionConfig {
        key_encryption_key: Some(
            person_crypto::KeyEncryptionKey::generate_hex()
                .expect("randomness")
                .to_string(),
        ),
        ..EncryptionConfig::default()
    };
    let screening = CaseLog::connect(&config(server, "screening", &password("screening")))
        .await
        .expect("connect");
    let keeper =
        PersonKeyKeeper::from_config(&encryption, "approdo.case.*.screening").expect("keeper");
    let person_key = keeper
        .create_or_get(&screening, "case-9")
        .await
        .expect("the keeper creates both keys");
    let identity = contracts::person::v1::PersonalData {
        given_names: "Zephyrine".to_owned(),
        ..Default::default()
    };
    let sealed = person_keys::seal(&person_key, "case-9", "identity", &identity).expect("sealed");

    let referral = CaseLog::connect(&config(server, "referral", &password("referral")))
        .await
        .expect("connect");
    let reader = PersonKeyReader::from_config(&encryption).expect("reader");
    let datasets_key = reader
        .dataset_key(&referral, "case-9")
        .await
        .expect("read")
        .expect("the datasets key is there");
    assert!(
        person_keys::open::<contracts::person::v1::PersonalData>(
            &datasets_key,
            "case-9",
            "identity",
            &sealed
        )
        .is_err(),
        "the datasets key opens no identity"
    );
    let dataset = person_keys::seal(
        &datasets_key,
        &person_keys::dataset_key_id("case-9"),
        "referral_dataset/r-1",
        &identity,
    )
    .expect("sealed");
    assert!(
        person_keys::open::<contracts::person::v1::PersonalData>(
            &person_key,
            "case-9",
            "referral_dataset/r-1",
            &dataset
        )
        .is_err(),
        "and the keys are not interchangeable"
    );

    let keys = referral
        .jetstream()
        .get_stream("APPRODO_PERSON_KEYS")
        .await
        .expect("the referral user opens the key store");
    assert!(
        keys.direct_get_last_for_subject("approdo-keys.case-9.datasets")
            .await
            .is_ok(),
        "control: the datasets key is readable by direct get"
    );
    assert!(
        keys.direct_get_last_for_subject("approdo-keys.case-9")
            .await
            .is_err(),
        "referral read a person's key by direct get"
    );
    assert!(
        keys.get_last_raw_message_by_subject("approdo-keys.case-9")
            .await
            .is_err(),
        "referral read a person's key by message get"
    );
    for sequence in 1..=2 {
        assert!(
            keys.get_raw_message(sequence).await.is_err(),
            "referral read key store message {sequence}"
        );
    }
}

/// The safe-space service keeps its space keys in a stream of its own and
/// never touches a person's key: its NATS user creates the space key store,
/// stores and reads a space's key, and is refused the person key store
/// (direct get, message get) and another stream's subjects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_safe_space_service_keeps_space_keys_and_never_reads_a_persons_key() {
    use service_runtime::config::EncryptionConfig;
    use service_runtime::person_keys::{PersonKeyKeeper, SpaceKeyKeeper};
    let system = server().await;
    let server = system.nats();
    let encryption = EncryptionConfig {
        key_encryption_key: Some(
            person_crypto::KeyEncryptionKey::generate_hex()
                .expect("randomness")
                .to_string(),
        ),
        ..EncryptionConfig::default()
    };
    let screening = CaseLog::connect(&config(server, "screening", &password("screening")))
        .await
        .expect("connect");
    PersonKeyKeeper::from_config(&encryption, "approdo.case.*.screening")
        .expect("keeper")
        .create_or_get(&screening, "case-9")
        .await
        .expect("a person key");

    let safe_space = CaseLog::connect(&config(server, "safe-space", &password("safe-space")))
        .await
        .expect("connect");
    let keeper =
        SpaceKeyKeeper::from_config(&encryption, "approdo.facility.*.safe-space").expect("keeper");
    let created = keeper
        .create_or_get(&safe_space, "space-1")
        .await
        .expect("the safe-space user creates the store and a space key");
    let read = keeper
        .existing(&safe_space, "space-1")
        .await
        .expect("read back")
        .expect("the key is there");
    let sealed = service_runtime::person_keys::seal(
        &created,
        "safe-space/space-1",
        "location",
        &contracts::safe_space::v1::SpaceLocation::default(),
    )
    .expect("sealed");
    assert!(
        service_runtime::person_keys::open::<contracts::safe_space::v1::SpaceLocation>(
            &read,
            "safe-space/space-1",
            "location",
            &sealed
        )
        .is_ok(),
        "the key read back is the key stored"
    );

    let persons = safe_space
        .jetstream()
        .get_stream("APPRODO_PERSON_KEYS")
        .await;
    if let Ok(keys) = persons {
        assert!(
            keys.direct_get_last_for_subject("approdo-keys.case-9")
                .await
                .is_err(),
            "safe-space read a person's key by direct get"
        );
        assert!(
            keys.get_last_raw_message_by_subject("approdo-keys.case-9.datasets")
                .await
                .is_err(),
            "safe-space read a datasets key by message get"
        );
    }
    let published = safe_space
        .jetstream()
        .publish("approdo-keys.case-10", "forged".into())
        .await;
    let stored = match published {
        Ok(ack) => ack.await.is_ok(),
        Err(_) => false,
    };
    assert!(!stored, "safe-space stored a person key");
}
