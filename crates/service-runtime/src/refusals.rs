//! The access log's refusals. Every call a service refuses (its authorisation
//! table, or a rule on data such as jurisdiction) is recorded, but a flood
//! must not become a flood of commits: refusals are coalesced per caller
//! organisation and RPC within a window, and each window's refusals become
//! one `approdo.access.v1.AccessRefused` record (with their count, first and
//! last time), on a subject of its own,
//! `approdo.organisation.<organisation>.<service>.<record id>`, so that they
//! never share an aggregate (and its history) with anything else.
//! Bound: at most one commit per (organisation, RPC) per window.

use std::collections::BTreeMap;
use std::time::Duration;

use case_log_jetstream::{
    Actor, AggregateAddress, CaseLog, NewCommit, NewEvent, PendingCommit, Producer, RootKind,
    TokenId,
};
use contracts::access::v1::AccessRefused;
use time::OffsetDateTime;
use tokio::sync::mpsc;

use crate::authorisation::Refusal;

/// Which refusals are coalesced together: one organisation, acting as one
/// organisation type, calling one RPC.
type Key = (String, &'static str, String);

/// The refusals of one key within the window.
struct Coalesced {
    first: OffsetDateTime,
    last: OffsetDateTime,
    count: u32,
}

/// Records `refused` until its senders are gone, one record per organisation
/// and RPC for each `window`.
pub async fn record(
    log: CaseLog,
    producer: Producer,
    mut refused: mpsc::Receiver<Refusal>,
    window: Duration,
) {
    let mut pending: BTreeMap<Key, Coalesced> = BTreeMap::new();
    let mut ticks = tokio::time::interval(window);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            received = refused.recv() => match received {
                Some(refusal) => coalesce(&mut pending, refusal, OffsetDateTime::now_utc()),
                None => {
                    flush(&log, producer, &mut pending).await;
                    return;
                }
            },
            _ = ticks.tick() => flush(&log, producer, &mut pending).await,
        }
    }
}

fn coalesce(pending: &mut BTreeMap<Key, Coalesced>, refusal: Refusal, now: OffsetDateTime) {
    let key = (
        refusal.organisation_id,
        refusal.organisation_type.code(),
        refusal.rpc,
    );
    let entry = pending.entry(key).or_insert(Coalesced {
        first: now,
        last: now,
        count: 0,
    });
    entry.last = now;
    entry.count = entry.count.saturating_add(1);
}

async fn flush(log: &CaseLog, producer: Producer, pending: &mut BTreeMap<Key, Coalesced>) {
    for (key, refused) in std::mem::take(pending) {
        let (_, _, rpc) = &key;
        if let Err(error) = append(log, producer, &key, &refused).await {
            tracing::warn!(%error, %rpc, count = refused.count, "access refusals not recorded");
        }
    }
}

async fn append(
    log: &CaseLog,
    producer: Producer,
    (organisation_id, organisation_type, rpc): &Key,
    refused: &Coalesced,
) -> Result<(), case_log_jetstream::LogError> {
    // A caller whose organisation id is not a subject token is still recorded.
    let organisation = TokenId::parse(organisation_id)
        .or_else(|_| TokenId::parse("unidentified"))
        .map_err(|e| case_log_jetstream::LogError::Codec {
            sequence: 0,
            reason: e.to_string(),
        })?;
    let record_id = uuid::Uuid::now_v7().to_string();
    let record = TokenId::parse(&record_id).map_err(|e| case_log_jetstream::LogError::Codec {
        sequence: 0,
        reason: e.to_string(),
    })?;
    let event = AccessRefused {
        rpc: rpc.clone(),
        organisation_type: (*organisation_type).to_owned(),
        refused_at: Some(case_log_jetstream::envelope::timestamp(refused.first)),
        count: refused.count,
        last_refused_at: Some(case_log_jetstream::envelope::timestamp(refused.last)),
    };
    let request_id = format!("access-refused-{record_id}");
    log.append(&NewCommit {
        address: AggregateAddress::new(RootKind::Organisation, organisation, producer)
            .with_entity(record),
        previous_sequence: 0,
        pending: PendingCommit {
            request_id: request_id.clone(),
            actor: Actor {
                subject: "authorisation".to_owned(),
                organisation_id: organisation_id.clone(),
                organisation_type: (*organisation_type).to_owned(),
                roles: Vec::new(),
                province: String::new(),
            },
            occurred_at: refused.last,
            correlation_id: request_id,
            causation_id: String::new(),
            events: vec![NewEvent::encode(
                &case_log_jetstream::contract::event_type::<AccessRefused>(),
                1,
                &event,
            )],
            reply: Vec::new(),
        },
    })
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OrganisationType;

    #[test]
    fn refusals_of_one_caller_and_rpc_in_a_window_become_one_record() {
        let mut pending = BTreeMap::new();
        let at = OffsetDateTime::UNIX_EPOCH;
        let refusal = |organisation: &str, rpc: &str| Refusal {
            rpc: rpc.to_owned(),
            organisation_id: organisation.to_owned(),
            organisation_type: OrganisationType::Analyst,
        };
        for i in 0..1_000 {
            coalesce(
                &mut pending,
                refusal("istat", "/a.B/C"),
                at + time::Duration::seconds(i % 5),
            );
        }
        coalesce(&mut pending, refusal("istat", "/a.B/D"), at);
        coalesce(&mut pending, refusal("other", "/a.B/C"), at);
        assert_eq!(pending.len(), 3, "one per organisation and RPC");
        let flood = &pending[&("istat".to_owned(), "analyst", "/a.B/C".to_owned())];
        assert_eq!(flood.count, 1_000);
        assert_eq!(flood.first, at);
        assert_eq!(flood.last, at + time::Duration::seconds(4));
    }
}
