//! The case log's contract, against a real nats-server with JetStream.

use std::time::Duration;

use case_log_jetstream::*;
use nats_test_server::NatsServer;
use time::OffsetDateTime;

fn config(server: &NatsServer) -> CaseLogConfig {
    CaseLogConfig {
        url: server.url(),
        ..CaseLogConfig::default()
    }
}

fn case(id: &str, producer: Producer) -> AggregateAddress {
    AggregateAddress::new(RootKind::Case, TokenId::parse(id).expect("id"), producer)
}

fn pending(request_id: &str, event_type: &str) -> PendingCommit {
    PendingCommit {
        request_id: request_id.to_owned(),
        actor: Actor {
            subject: "operator-1".to_owned(),
            organisation_id: "org-1".to_owned(),
            organisation_type: "reception_operator".to_owned(),
            roles: vec!["operator".to_owned()],
            province: "RM".to_owned(),
        },
        occurred_at: OffsetDateTime::now_utc(),
        correlation_id: request_id.to_owned(),
        causation_id: String::new(),
        events: vec![NewEvent {
            event_type: event_type.to_owned(),
            schema_version: 1,
            payload: event_type.as_bytes().to_vec(),
        }],
        reply: format!("reply to {request_id}").into_bytes(),
    }
}

fn commit(address: &AggregateAddress, previous: u64, request_id: &str) -> NewCommit {
    NewCommit {
        address: address.clone(),
        previous_sequence: previous,
        pending: pending(request_id, "test.v1.Happened"),
    }
}

#[tokio::test]
async fn a_stale_expected_sequence_is_a_conflict_and_appends_nothing() {
    let server = NatsServer::start();
    let log = CaseLog::connect(&config(&server)).await.expect("connect");
    let address = case("c1", Producer::Screening);

    let first = log.append(&commit(&address, 0, "r1")).await.expect("first");
    log.append(&commit(&address, first.sequence, "r2"))
        .await
        .expect("second");

    let stale = log.append(&commit(&address, first.sequence, "r3")).await;
    assert!(matches!(stale, Err(LogError::Conflict { expected }) if expected == first.sequence));
    let never_seen = log.append(&commit(&address, 0, "r4")).await;
    assert!(matches!(never_seen, Err(LogError::Conflict { .. })));

    assert_eq!(log.last_sequence().await.expect("last"), 2);
}

#[tokio::test]
async fn of_two_concurrent_appends_on_one_aggregate_exactly_one_wins() {
    let server = NatsServer::start();
    let log = CaseLog::connect(&config(&server)).await.expect("connect");
    let address = case("c2", Producer::Referral);
    let base = log
        .append(&commit(&address, 0, "base"))
        .await
        .expect("base")
        .sequence;

    for round in 0..10 {
        let previous = log.last_sequence().await.expect("last");
        let (first, second) = (
            commit(&address, previous, &format!("a{round}")),
            commit(&address, previous, &format!("b{round}")),
        );
        let (a, b) = tokio::join!(log.append(&first), log.append(&second));
        let wins = [&a, &b].iter().filter(|r| r.is_ok()).count();
        let conflicts = [&a, &b]
            .iter()
            .filter(|r| matches!(r, Err(LogError::Conflict { .. })))
            .count();
        assert_eq!((wins, conflicts), (1, 1), "round {round}: {a:?} {b:?}");
    }
    assert_eq!(log.last_sequence().await.expect("last"), base + 10);
}

#[tokio::test]
async fn a_retried_request_after_the_duplicate_window_gets_the_first_reply_and_appends_nothing() {
    let server = NatsServer::start();
    let log = CaseLog::connect(&CaseLogConfig {
        duplicate_window_secs: 1,
        ..config(&server)
    })
    .await
    .expect("connect");
    let address = case("c3", Producer::Screening);
    let decisions = std::cell::Cell::new(0);
    let mut decide = |_: &[RecordedCommit]| -> Result<PendingCommit, std::convert::Infallible> {
        decisions.set(decisions.get() + 1);
        Ok(pending("ignored", "test.v1.Opened"))
    };

    let first = log
        .execute(&address, "req-1", &mut decide)
        .await
        .expect("first");
    assert!(!first.replayed);
    // Let JetStream's duplicate window pass: only the log itself can answer now.
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let retry = log
        .execute(&address, "req-1", &mut decide)
        .await
        .expect("retry");

    assert!(retry.replayed);
    assert_eq!(retry.sequence, first.sequence);
    assert_eq!(retry.commit, first.commit);
    assert_eq!(retry.commit.reply, first.commit.reply);
    assert_eq!(
        decisions.get(),
        1,
        "a replayed request is not decided again"
    );
    assert_eq!(log.last_sequence().await.expect("last"), 1);

    // Inside the window too: the retry is answered, not appended.
    let inside = log
        .execute(&address, "req-2", &mut decide)
        .await
        .expect("req-2");
    let again = log
        .execute(&address, "req-2", &mut decide)
        .await
        .expect("req-2 again");
    assert!(!inside.replayed && again.replayed);
    assert_eq!(again.sequence, inside.sequence);
    assert_eq!(log.last_sequence().await.expect("last"), 2);
    assert_eq!(decisions.get(), 2);
}

#[tokio::test]
async fn concurrent_commands_on_one_aggregate_are_decided_on_fresh_state() {
    let server = NatsServer::start();
    let log = CaseLog::connect(&config(&server)).await.expect("connect");
    let address = case("c4", Producer::Screening);
    let run = |request: &'static str| {
        let log = log.clone();
        let address = address.clone();
        async move {
            log.execute(&address, request, |history: &[RecordedCommit]| {
                let mut commit = pending(request, "test.v1.Counted");
                // The decision depends on state: the count seen so far.
                commit.reply = history.len().to_string().into_bytes();
                Ok::<_, std::convert::Infallible>(commit)
            })
            .await
        }
    };
    let results = futures::future::join_all(["a", "b", "c", "d", "e"].map(run)).await;
    let mut seen: Vec<String> = results
        .into_iter()
        .map(|r| String::from_utf8(r.expect("executed").commit.reply).expect("utf8"))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        ["0", "1", "2", "3", "4"],
        "each decided on the state before it"
    );
}

#[tokio::test]
async fn the_server_refuses_to_delete_a_message_or_purge_the_stream() {
    let server = NatsServer::start();
    let config = config(&server);
    let log = CaseLog::connect(&config).await.expect("connect");
    log.append(&commit(&case("c5", Producer::Screening), 0, "r1"))
        .await
        .expect("append");

    // An independent client, as an operator with the NATS CLI would be.
    let client = async_nats::connect(server.url()).await.expect("client");
    let js = async_nats::jetstream::new(client);
    let stream = js.get_stream(&config.stream).await.expect("stream");
    assert!(
        stream.delete_message(1).await.is_err(),
        "delete must be refused"
    );
    assert!(stream.purge().await.is_err(), "purge must be refused");
    assert!(
        stream
            .purge()
            .filter("approdo.case.c5.screening")
            .await
            .is_err(),
        "subject purge must be refused"
    );
    assert_eq!(log.last_sequence().await.expect("last"), 1);
    assert_eq!(
        log.commit_at(1).await.expect("still there").request_id(),
        "r1"
    );

    // Re-provisioning (every service does it at start) keeps the stream immutable.
    let again = CaseLog::connect(&config).await.expect("reconnect");
    assert_eq!(again.last_sequence().await.expect("last"), 1);
}

#[tokio::test]
async fn a_case_history_is_complete_and_in_order_also_as_of_the_past() {
    let server = NatsServer::start();
    let log = CaseLog::connect(&config(&server)).await.expect("connect");
    let screening = case("c6", Producer::Screening);
    let referral = case("c6", Producer::Referral).with_entity(TokenId::parse("r1").expect("id"));
    let other = case("c7", Producer::Screening);

    // Interleave two aggregates of the case with another case's commits.
    let mut sequences = Vec::new();
    let (mut last_screening, mut last_referral, mut last_other) = (0, 0, 0);
    for i in 0..6 {
        if i == 3 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (target, previous) = if i % 2 == 0 {
            (&screening, &mut last_screening)
        } else {
            (&referral, &mut last_referral)
        };
        let receipt = log
            .append(&commit(target, *previous, &format!("req-{i}")))
            .await
            .expect("append");
        *previous = receipt.sequence;
        sequences.push(receipt.sequence);
        last_other = log
            .append(&commit(&other, last_other, &format!("other-{i}")))
            .await
            .expect("other case")
            .sequence;
    }

    let scope = HistoryScope::Root {
        kind: RootKind::Case,
        id: TokenId::parse("c6").expect("id"),
    };
    let whole = log
        .history(&scope, HistoryBound::All)
        .await
        .expect("history");
    let got: Vec<u64> = whole.iter().map(|c| c.sequence).collect();
    assert_eq!(
        got, sequences,
        "every commit of the case, in log order, and no other case's"
    );
    let requests: Vec<&str> = whole.iter().map(|c| c.request_id()).collect();
    assert_eq!(
        requests,
        ["req-0", "req-1", "req-2", "req-3", "req-4", "req-5"]
    );

    let as_of = whole[2].recorded_at;
    let past = log
        .history(&scope, HistoryBound::AsOf(as_of))
        .await
        .expect("as of");
    assert_eq!(past.len(), 3, "only what was recorded by then");

    let upto = log
        .history(&scope, HistoryBound::UpToSequence(sequences[3]))
        .await
        .expect("up to");
    assert_eq!(upto.len(), 4);

    let only_referral = log
        .history(&HistoryScope::Aggregate(referral), HistoryBound::All)
        .await
        .expect("aggregate");
    assert_eq!(only_referral.len(), 3);
    assert!(
        only_referral
            .iter()
            .all(|c| c.subject == "approdo.case.c6.referral.r1")
    );
}

#[tokio::test]
async fn the_url_may_list_several_servers() {
    let server = NatsServer::start();
    let log = CaseLog::connect(&CaseLogConfig {
        url: format!("{}, {}", server.url(), server.url()),
        ..CaseLogConfig::default()
    })
    .await
    .expect("a comma separated list connects");
    assert_eq!(log.last_sequence().await.expect("last"), 0);
}

#[tokio::test]
async fn a_services_nats_user_cannot_change_the_case_logs_limits() {
    let users = [
        ("APPRODO_NATS_SCREENING_PASSWORD", "screening-secret"),
        ("APPRODO_NATS_REFERRAL_PASSWORD", "referral-secret"),
        ("APPRODO_NATS_SAFE_SPACE_PASSWORD", "safe-space-secret"),
        ("APPRODO_NATS_MONITORING_PASSWORD", "monitoring-secret"),
    ];
    let server = NatsServer::start_with(nats_test_server::ServerOptions {
        include: vec![
            nats_test_server::workspace_root().join("deploy/local/nats-permissions.conf"),
        ],
        env: users
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Default::default()
    })
    .expect("server with the local permissions");
    let config = CaseLogConfig {
        url: server.url(),
        user: Some("screening".to_owned()),
        password: Some("screening-secret".to_owned()),
        request_timeout_ms: 1_000,
        ..CaseLogConfig::default()
    };
    // The service creates the stream when it is missing, and opens it afterwards.
    CaseLog::connect(&config).await.expect("created");
    CaseLog::connect(&config).await.expect("opened");

    // An independent client with the same credentials (and so its inbox
    // prefix) tries to let old commits expire.
    let client = async_nats::ConnectOptions::with_user_and_password(
        "screening".to_owned(),
        "screening-secret".to_owned(),
    )
    .custom_inbox_prefix(inbox_prefix("screening"))
    .connect(server.url())
    .await
    .expect("client");
    let js = async_nats::jetstream::ContextBuilder::new()
        .timeout(Duration::from_millis(800))
        .build(client);
    let mut stream = js.get_stream("APPRODO_CASE_LOG").await.expect("stream");
    let mut changed = stream.info().await.expect("info").config.clone();
    changed.max_age = Duration::from_secs(60);
    assert!(
        js.update_stream(changed).await.is_err(),
        "a service may not change the stream"
    );
    let info = stream.info().await.expect("info");
    assert_eq!(info.config.max_age, Duration::ZERO);
}

/// Architecture invariant 13: a history holds only commits whose payload names
/// the aggregate of the subject they were stored on; the rest is left out, and
/// commands on the aggregate still append after the subject's last message.
#[tokio::test]
async fn a_history_leaves_out_what_claims_another_aggregate_or_does_not_decode() {
    use prost::Message;
    let server = NatsServer::start();
    let log = CaseLog::connect(&config(&server)).await.expect("connect");
    let address = case("c7", Producer::Screening);
    let first = log.append(&commit(&address, 0, "r1")).await.expect("first");
    let publish = |payload: Vec<u8>| {
        let log = log.clone();
        async move {
            log.jetstream()
                .publish(address_subject("c7"), payload.into())
                .await
                .expect("publish")
                .await
                .expect("stored")
                .sequence
        }
    };
    // Published on c7's subject, claiming to be case c8 (and another producer).
    for claimed in [("c8", "screening"), ("c7", "referral")] {
        let forged = contracts::log::v1::Commit {
            commit_id: "forged".to_owned(),
            aggregate: Some(contracts::log::v1::AggregateAddress {
                root_kind: "case".to_owned(),
                root_id: claimed.0.to_owned(),
                producer: claimed.1.to_owned(),
                entity_id: String::new(),
            }),
            request_id: "r-forged".to_owned(),
            events: vec![contracts::log::v1::Event {
                event_id: "e".to_owned(),
                event_type: "test.v1.Happened".to_owned(),
                schema_version: 1,
                payload: Vec::new(),
            }],
            ..Default::default()
        };
        publish(forged.encode_to_vec()).await;
    }
    let garbage = publish(vec![0xff, 0x00, 0x01]).await;

    let aggregate = log
        .history(&HistoryScope::Aggregate(address.clone()), HistoryBound::All)
        .await
        .expect("history");
    assert_eq!(
        aggregate.iter().map(|c| c.sequence).collect::<Vec<_>>(),
        [first.sequence]
    );
    let root = log
        .history(
            &HistoryScope::Root {
                kind: RootKind::Case,
                id: TokenId::parse("c7").expect("id"),
            },
            HistoryBound::All,
        )
        .await
        .expect("root history");
    assert_eq!(root.len(), 1);
    assert!(
        log.commit_at(garbage).await.is_err(),
        "a single read does not trust it either"
    );

    // The forged request id answers nothing: the command runs, after the
    // subject's last message (trusted or not), without a conflict.
    let executed = log
        .execute(&address, "r-forged", |history| {
            assert_eq!(history.len(), 1);
            Ok::<_, std::convert::Infallible>(pending("r-forged", "test.v1.Happened"))
        })
        .await
        .expect("executed");
    assert!(!executed.replayed);
    assert_eq!(executed.sequence, garbage + 1);
}

fn address_subject(id: &str) -> String {
    case(id, Producer::Screening).subject()
}

#[tokio::test]
async fn a_full_log_refuses_appends_as_full_and_keeps_every_commit() {
    let server = NatsServer::start();
    let tiny = CaseLogConfig {
        max_bytes: 2_048,
        ..config(&server)
    };
    let log = CaseLog::connect(&tiny).await.expect("connect");
    let usage = log.usage().await.expect("usage");
    assert_eq!(
        usage.max_bytes,
        Some(2_048),
        "set when the stream is created"
    );
    assert_eq!((usage.bytes, usage.messages), (0, 0));

    let mut previous = 0;
    let mut refused = None;
    for n in 0..100 {
        let address = case(&format!("full-{n}"), Producer::Screening);
        match log.append(&commit(&address, 0, &format!("r{n}"))).await {
            Ok(receipt) => previous = receipt.sequence,
            Err(error) => {
                refused = Some((n, error));
                break;
            }
        }
    }
    let (appended, error) = refused.expect("the log fills up");
    assert!(appended > 0, "some commits fit");
    match &error {
        LogError::Full {
            stream,
            bytes,
            max_bytes,
        } => {
            assert_eq!(stream, "APPRODO_CASE_LOG");
            assert_eq!(*max_bytes, 2_048);
            assert!(*bytes > 0 && *bytes <= 2_048, "{error}");
        }
        other => panic!("expected Full, got {other:?}"),
    }
    // Nothing old was dropped to make room (discard policy New).
    let usage = log.usage().await.expect("usage");
    assert_eq!(usage.messages, appended as u64);
    assert!(usage.above(80), "{usage:?}");
    assert_eq!(log.last_sequence().await.expect("last"), previous);
}

#[test]
fn no_byte_limit_is_never_above_a_share() {
    let unlimited = LogUsage {
        bytes: u64::MAX,
        messages: 1,
        max_bytes: None,
    };
    assert!(!unlimited.above(1));
    let limited = LogUsage {
        bytes: 79,
        messages: 1,
        max_bytes: Some(100),
    };
    assert!(!limited.above(80) && limited.above(79));
    for unlimited in [0, -1] {
        let config = CaseLogConfig {
            max_bytes: unlimited,
            ..CaseLogConfig::default()
        };
        assert_eq!(config.stream_max_bytes(), -1);
    }
}

/// A stream this code just created reads back as the configuration it asked
/// for: a service never warns that a fresh log differs from its configuration.
#[tokio::test]
async fn a_fresh_stream_has_the_configuration_it_was_created_with() {
    let server = NatsServer::start();
    let config = config(&server);
    let log = CaseLog::connect(&config).await.expect("connect");
    assert!(log.stream_differs(&config).await.expect("info").is_empty());
}
