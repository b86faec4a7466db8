//! Commands decided on histories held in memory give the answers a fresh read
//! of the log would give: with two connections (two instances of a service)
//! appending to one aggregate, after evictions, and for histories longer than
//! one batched read. Against a real nats-server with JetStream.

use case_log_jetstream::*;
use nats_test_server::NatsServer;
use time::OffsetDateTime;

fn config(server: &NatsServer, cache_bytes: u64) -> CaseLogConfig {
    CaseLogConfig {
        url: server.url(),
        history_cache_bytes: cache_bytes,
        ..CaseLogConfig::default()
    }
}

fn case(id: &str) -> AggregateAddress {
    AggregateAddress::new(
        RootKind::Case,
        TokenId::parse(id).expect("id"),
        Producer::Referral,
    )
}

fn pending(request_id: &str, reply: String) -> PendingCommit {
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
            event_type: "test.v1.Counted".to_owned(),
            schema_version: 1,
            payload: request_id.as_bytes().to_vec(),
        }],
        reply: reply.into_bytes(),
    }
}

/// A command whose answer is how many commits it was decided on.
async fn count(log: &CaseLog, address: &AggregateAddress, request: &str) -> Executed {
    log.execute(address, request, |history: &[RecordedCommit]| {
        Ok::<_, std::convert::Infallible>(pending(request, history.len().to_string()))
    })
    .await
    .expect("executed")
}

fn reply(executed: &Executed) -> String {
    String::from_utf8(executed.commit.reply.clone()).expect("utf8")
}

#[tokio::test]
async fn a_second_instance_appending_meanwhile_is_seen_before_deciding() {
    let server = NatsServer::start();
    let first = CaseLog::connect(&config(&server, 1 << 20))
        .await
        .expect("first");
    let second = CaseLog::connect(&config(&server, 1 << 20))
        .await
        .expect("second");
    let address = case("shared");

    assert_eq!(reply(&count(&first, &address, "a").await), "0");
    // `first` now holds the history [a]; `second` appends three commits.
    for (request, seen) in [("b", "1"), ("c", "2"), ("d", "3")] {
        assert_eq!(reply(&count(&second, &address, request).await), seen);
    }
    // Decided on a history from memory that is behind: the append is refused
    // by the expected sequence and the command decided again on the log's.
    let e = count(&first, &address, "e").await;
    assert!(!e.replayed);
    assert_eq!(reply(&e), "4", "decided on every commit before it");
    assert_eq!(
        e.commit.previous_sequence, 4,
        "chained after the last commit"
    );

    // A request executed by the other instance, retried here while this
    // instance's history is behind: answered with the first commit.
    let f = count(&second, &address, "f").await;
    let retried = count(&first, &address, "f").await;
    assert!(retried.replayed);
    assert_eq!(retried.sequence, f.sequence);
    assert_eq!(first.last_sequence().await.expect("last"), 6);
    let stats = first.history_cache_stats();
    assert!(stats.hits >= 2, "{stats:?}");
}

#[tokio::test]
async fn a_refusal_decided_on_a_history_from_memory_is_confirmed_on_the_log() {
    let server = NatsServer::start();
    let first = CaseLog::connect(&config(&server, 1 << 20))
        .await
        .expect("first");
    let second = CaseLog::connect(&config(&server, 1 << 20))
        .await
        .expect("second");
    let address = case("confirmed");
    count(&first, &address, "opened").await;
    count(&second, &address, "accepted").await;

    // Allowed only once two commits exist: `first` holds one in memory.
    let mut decided_on = Vec::new();
    let executed = first
        .execute(&address, "take-charge", |history: &[RecordedCommit]| {
            decided_on.push(history.len());
            if history.len() < 2 {
                Err("not accepted yet")
            } else {
                Ok(pending("take-charge", history.len().to_string()))
            }
        })
        .await;
    let executed = executed.expect("accepted on the log's history");
    assert_eq!(reply(&executed), "2");
    assert_eq!(
        decided_on,
        [1, 2],
        "refused on memory, decided again on the log"
    );

    // A refusal that holds on the log is answered, and appends nothing.
    let refused = first
        .execute(&address, "never", |_: &[RecordedCommit]| {
            Err::<PendingCommit, _>("refused")
        })
        .await;
    assert!(matches!(refused, Err(ExecuteError::Rejected("refused"))));
    assert_eq!(first.last_sequence().await.expect("last"), 3);
}

#[tokio::test]
async fn a_retry_after_eviction_or_without_a_cache_answers_the_first_commit() {
    let server = NatsServer::start();
    // A budget for about one history: using a second aggregate evicts the first.
    let small = CaseLog::connect(&config(&server, 1_500))
        .await
        .expect("small");
    let none = CaseLog::connect(&config(&server, 0)).await.expect("none");
    let (one, two) = (case("evicted"), case("evicting"));

    let first = count(&small, &one, "r1").await;
    count(&small, &two, "r2").await;
    count(&small, &two, "r3").await;
    let stats = small.history_cache_stats();
    assert!(stats.evictions >= 1, "{stats:?}");
    let retried = count(&small, &one, "r1").await;
    assert!(retried.replayed);
    assert_eq!(
        (retried.sequence, retried.commit.clone()),
        (first.sequence, first.commit)
    );

    let without = count(&none, &two, "r3").await;
    assert!(without.replayed, "answered from the log");
    assert_eq!(none.history_cache_stats().entries, 0);
    assert_eq!(small.last_sequence().await.expect("last"), 3);
}

#[tokio::test]
async fn a_history_is_complete_beyond_one_batch_and_carries_the_servers_times() {
    let server = NatsServer::start();
    let writer = CaseLog::connect(&config(&server, 1 << 24))
        .await
        .expect("writer");
    let cold = CaseLog::connect(&config(&server, 0)).await.expect("cold");
    let address = case("long");
    let other = case("other");
    let mut appended = Vec::new();
    // 600 commits (more than two batched reads), interleaved with another
    // aggregate's so the subject's sequences are not contiguous.
    for i in 0..600 {
        appended.push(count(&writer, &address, &format!("r{i}")).await.sequence);
        if i % 7 == 0 {
            count(&writer, &other, &format!("o{i}")).await;
        }
    }
    for log in [&writer, &cold] {
        let history = log
            .history(&HistoryScope::Aggregate(address.clone()), HistoryBound::All)
            .await
            .expect("history");
        let sequences: Vec<u64> = history.iter().map(|c| c.sequence).collect();
        assert_eq!(sequences, appended, "every commit, once, in order");
        // The commits appended through `writer` were held with provisional
        // times; a history read gives the server's.
        let last = history.last().expect("last");
        let stored = cold.commit_at(last.sequence).await.expect("stored");
        assert_eq!(last.recorded_at, stored.recorded_at);
    }
    let bounded = cold
        .history(
            &HistoryScope::Aggregate(address.clone()),
            HistoryBound::UpToSequence(appended[299]),
        )
        .await
        .expect("bounded");
    assert_eq!(bounded.len(), 300);
}
