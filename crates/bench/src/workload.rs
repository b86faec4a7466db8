//! What the benchmark writes: 200-byte payloads, commits with one event shaped
//! like a service's, synthetic recorded commits for the store, and the trivial
//! one-row projection that serves as the store's baseline.

use anyhow::Result;
use case_log_jetstream::{
    Actor, AggregateAddress, NewCommit, NewEvent, PendingCommit, Producer, RecordedCommit,
    RootKind, TokenId,
};
use contracts::log::v1 as wire;
use projection_sled::{ApplyError, Projection, Rows};
use time::OffsetDateTime;

/// Bytes of the raw message, and of the one event's payload in a commit.
pub const PAYLOAD_BYTES: usize = 200;

/// Event types the synthetic commits rotate through (the catalogue counts per type).
const EVENT_TYPES: [&str; 4] = [
    "approdo.screening.v1.CaseOpened",
    "approdo.screening.v1.NeedRecorded",
    "approdo.referral.v1.ReferralProposed",
    "approdo.monitoring.v1.CheckRecorded",
];

/// A deterministic, non-repeating-looking payload of `PAYLOAD_BYTES`.
pub fn payload(seed: usize) -> Vec<u8> {
    (0..PAYLOAD_BYTES)
        .map(|i| ((i * 31 + seed * 7) % 251) as u8)
        .collect()
}

/// The address of a case aggregate owned by screening, e.g. `approdo.case.<id>.screening`.
pub fn case(id: &str) -> Result<AggregateAddress> {
    Ok(AggregateAddress::new(
        RootKind::Case,
        TokenId::parse(id)?,
        Producer::Screening,
    ))
}

fn actor() -> Actor {
    Actor {
        subject: "op-7f3c2a9e".to_owned(),
        organisation_id: "org-cas-rm-014".to_owned(),
        organisation_type: "reception_operator".to_owned(),
        roles: vec!["operator".to_owned()],
        province: "RM".to_owned(),
    }
}

/// What a command decided: one event with a 200-byte payload.
pub fn pending(request_id: &str, seed: usize) -> PendingCommit {
    PendingCommit {
        request_id: request_id.to_owned(),
        actor: actor(),
        occurred_at: OffsetDateTime::now_utc(),
        correlation_id: request_id.to_owned(),
        causation_id: String::new(),
        events: vec![NewEvent {
            event_type: EVENT_TYPES[seed % EVENT_TYPES.len()].to_owned(),
            schema_version: 1,
            payload: payload(seed),
        }],
        reply: Vec::new(),
    }
}

/// A commit after `previous_sequence` on `address`.
pub fn new_commit(
    address: &AggregateAddress,
    previous_sequence: u64,
    request_id: &str,
    seed: usize,
) -> NewCommit {
    NewCommit {
        address: address.clone(),
        previous_sequence,
        pending: pending(request_id, seed),
    }
}

/// `count` commits as the log would deliver them (sequences 1..=count), built in
/// memory so that the store is measured alone. About six commits per case.
pub fn recorded_commits(count: usize) -> Result<Vec<(RecordedCommit, telemetry::TraceContext)>> {
    let now = OffsetDateTime::now_utc();
    let actor = actor();
    (0..count)
        .map(|i| {
            let address = case(&format!("case-{}", i / 6))?;
            let sequence = i as u64 + 1;
            let commit = wire::Commit {
                commit_id: uuid::Uuid::now_v7().to_string(),
                aggregate: Some(address.to_proto()),
                previous_sequence: sequence.saturating_sub(1),
                request_id: format!("req-{i}"),
                occurred_at: Some(case_log_jetstream::envelope::timestamp(now)),
                actor: Some(wire::Actor {
                    subject: actor.subject.clone(),
                    organisation_id: actor.organisation_id.clone(),
                    organisation_type: actor.organisation_type.clone(),
                    roles: actor.roles.clone(),
                    province: actor.province.clone(),
                }),
                correlation_id: format!("req-{i}"),
                causation_id: String::new(),
                trace_context: Some(wire::TraceContext::default()),
                events: vec![wire::Event {
                    event_id: uuid::Uuid::now_v7().to_string(),
                    event_type: EVENT_TYPES[i % EVENT_TYPES.len()].to_owned(),
                    schema_version: 1,
                    payload: payload(i),
                }],
                reply: Vec::new(),
            };
            let recorded = RecordedCommit {
                sequence,
                subject: address.subject(),
                recorded_at: now,
                commit,
            };
            Ok((recorded, telemetry::TraceContext::default()))
        })
        .collect()
}

/// The store's baseline: one row per commit (its sequence -> its commit id), no
/// reads. With the position the store writes, that is "1 row + checkpoint per commit".
pub struct OneRow;

pub const ONE_ROW_TABLE: &str = "bench.commit";

impl Projection for OneRow {
    fn name(&self) -> &'static str {
        "bench-one-row"
    }

    fn producer(&self) -> Option<case_log_jetstream::Producer> {
        None
    }

    fn consumes(&self) -> projection_sled::Consumes {
        projection_sled::Consumes::All
    }

    fn apply(&self, rows: &mut Rows<'_>, commit: &RecordedCommit) -> Result<(), ApplyError> {
        rows.put(
            ONE_ROW_TABLE,
            &commit.sequence.to_be_bytes(),
            commit.commit.commit_id.as_bytes(),
        )?;
        Ok(())
    }
}
