//! The event envelope: what a service hands to the log, and what the log hands back.
//! The wire form is `approdo.log.v1.Commit` (proto/approdo/log/v1/commit.proto).

use contracts::log::v1 as wire;
use prost::Message;
use time::OffsetDateTime;

use crate::error::LogError;
use crate::subject::AggregateAddress;

/// Who issued a command: pseudonymous ids and codes, never names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    pub subject: String,
    pub organisation_id: String,
    pub organisation_type: String,
    pub roles: Vec<String>,
    pub province: String,
}

impl Actor {
    fn to_proto(&self) -> wire::Actor {
        wire::Actor {
            subject: self.subject.clone(),
            organisation_id: self.organisation_id.clone(),
            organisation_type: self.organisation_type.clone(),
            roles: self.roles.clone(),
            province: self.province.clone(),
        }
    }
}

/// One domain event, already encoded by the service that decided it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Fully qualified protobuf message name, for example `approdo.screening.v1.CaseOpened`.
    pub event_type: String,
    pub schema_version: u32,
    pub payload: Vec<u8>,
}

impl NewEvent {
    pub fn encode<M: Message>(event_type: &str, schema_version: u32, message: &M) -> Self {
        NewEvent {
            event_type: event_type.to_owned(),
            schema_version,
            payload: message.encode_to_vec(),
        }
    }
}

/// What a command decided, before the log gives it a sequence.
#[derive(Debug, Clone)]
pub struct PendingCommit {
    pub request_id: String,
    pub actor: Actor,
    pub occurred_at: OffsetDateTime,
    pub correlation_id: String,
    pub causation_id: String,
    pub events: Vec<NewEvent>,
    /// The answer to give the client, recorded for idempotent retries.
    pub reply: Vec<u8>,
}

/// A commit ready to append: a pending commit placed after a known sequence.
#[derive(Debug, Clone)]
pub struct NewCommit {
    pub address: AggregateAddress,
    /// Stream sequence of the aggregate's last commit, 0 if it has none.
    pub previous_sequence: u64,
    pub pending: PendingCommit,
}

impl NewCommit {
    pub(crate) fn to_proto(&self, trace: &telemetry::TraceContext) -> wire::Commit {
        let pending = &self.pending;
        wire::Commit {
            commit_id: uuid::Uuid::now_v7().to_string(),
            aggregate: Some(self.address.to_proto()),
            previous_sequence: self.previous_sequence,
            request_id: pending.request_id.clone(),
            occurred_at: Some(timestamp(pending.occurred_at)),
            actor: Some(pending.actor.to_proto()),
            correlation_id: pending.correlation_id.clone(),
            causation_id: pending.causation_id.clone(),
            trace_context: Some(wire::TraceContext {
                traceparent: trace.traceparent.clone(),
                tracestate: trace.tracestate.clone(),
            }),
            events: pending
                .events
                .iter()
                .map(|event| wire::Event {
                    event_id: uuid::Uuid::now_v7().to_string(),
                    event_type: event.event_type.clone(),
                    schema_version: event.schema_version,
                    payload: event.payload.clone(),
                })
                .collect(),
            reply: pending.reply.clone(),
        }
    }
}

/// Why a message of the log is not trusted as a commit (architecture
/// invariant 13). Ids and codes only: the reason never quotes a payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Distrust {
    /// The message is not an `approdo.log.v1.Commit`.
    #[error("the envelope cannot be decoded: {0}")]
    UndecodableEnvelope(String),
    /// The subject does not follow `approdo.<root_kind>.<root_id>.<producer>[.<entity_id>]`.
    #[error("the subject names no aggregate")]
    UnknownSubject,
    /// The payload claims another aggregate (or producer) than its subject's.
    #[error("the commit claims aggregate {claimed}, not its subject's")]
    ClaimsAnotherAggregate { claimed: String },
}

impl Distrust {
    /// A stable code for the parked list and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Distrust::UndecodableEnvelope(_) => "undecodable_envelope",
            Distrust::UnknownSubject => "unknown_subject",
            Distrust::ClaimsAnotherAggregate { .. } => "claims_another_aggregate",
        }
    }

    /// What is known beyond the code: the decoder's reason, or the claimed
    /// aggregate (ids only).
    pub fn detail(&self) -> String {
        match self {
            Distrust::UndecodableEnvelope(reason) => reason.clone(),
            Distrust::UnknownSubject => String::new(),
            Distrust::ClaimsAnotherAggregate { claimed } => claimed.clone(),
        }
    }
}

/// A commit as stored in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedCommit {
    /// The stream sequence: the commit's position in the case log.
    pub sequence: u64,
    pub subject: String,
    /// When JetStream stored it (the server's clock).
    pub recorded_at: OffsetDateTime,
    pub commit: wire::Commit,
}

impl RecordedCommit {
    pub(crate) fn decode(
        sequence: u64,
        subject: &str,
        recorded_at: OffsetDateTime,
        payload: &[u8],
    ) -> Result<Self, LogError> {
        let commit = wire::Commit::decode(payload).map_err(|source| LogError::Codec {
            sequence,
            reason: source.to_string(),
        })?;
        Ok(RecordedCommit {
            sequence,
            subject: subject.to_owned(),
            recorded_at,
            commit,
        })
    }

    /// Reads a message of the log as a commit, trusting it only if the
    /// aggregate its payload claims is the one its subject names (architecture
    /// invariant 13: NATS permissions control the subject, not the payload).
    pub(crate) fn from_log(
        sequence: u64,
        subject: &str,
        recorded_at: OffsetDateTime,
        payload: &[u8],
    ) -> Result<Self, Distrust> {
        let commit = Self::decode(sequence, subject, recorded_at, payload).map_err(|error| {
            Distrust::UndecodableEnvelope(match error {
                LogError::Codec { reason, .. } => reason,
                other => other.to_string(),
            })
        })?;
        commit.check_claim()?;
        Ok(commit)
    }

    /// Whether the aggregate the payload claims (root kind, root id, producer,
    /// entity) is the one the subject names.
    pub fn check_claim(&self) -> Result<(), Distrust> {
        let address =
            AggregateAddress::from_subject(&self.subject).map_err(|_| Distrust::UnknownSubject)?;
        let stored = address.to_proto();
        let claimed = self.commit.aggregate.clone().unwrap_or_default();
        if claimed == stored {
            Ok(())
        } else {
            Err(Distrust::ClaimsAnotherAggregate {
                claimed: format!(
                    "{}.{}.{}{}{}",
                    claimed.root_kind,
                    claimed.root_id,
                    claimed.producer,
                    if claimed.entity_id.is_empty() {
                        ""
                    } else {
                        "."
                    },
                    claimed.entity_id
                ),
            })
        }
    }

    /// The aggregate the commit was stored under, typed: root kind, root id,
    /// producer, read from its subject (the authority, never the payload).
    /// `None` for a subject that names a kind or producer this code does not know.
    pub fn aggregate(&self) -> Option<(crate::RootKind, &str, crate::Producer)> {
        let mut tokens = self.subject.split('.');
        if tokens.next() != Some(crate::subject::SUBJECT_PREFIX) {
            return None;
        }
        let kind = crate::RootKind::from_token(tokens.next()?)?;
        let root_id = tokens.next()?;
        let producer = crate::Producer::from_token(tokens.next()?)?;
        Some((kind, root_id, producer))
    }

    /// The service whose subject the commit was stored on.
    pub fn producer(&self) -> Option<crate::Producer> {
        self.aggregate().map(|(_, _, producer)| producer)
    }

    /// The organisation whose command this was, and the first role its caller
    /// acted in (empty when the commit names no actor).
    pub fn author(&self) -> (String, String) {
        let actor = self.commit.actor.as_ref();
        (
            actor.map(|a| a.organisation_id.clone()).unwrap_or_default(),
            actor
                .and_then(|a| a.roles.first().cloned())
                .unwrap_or_default(),
        )
    }

    pub fn request_id(&self) -> &str {
        &self.commit.request_id
    }

    /// The trace context the command was running in.
    pub fn trace_context(&self) -> telemetry::TraceContext {
        self.commit
            .trace_context
            .as_ref()
            .map(|trace| telemetry::TraceContext {
                traceparent: trace.traceparent.clone(),
                tracestate: trace.tracestate.clone(),
            })
            .unwrap_or_default()
    }

    /// The event types in this commit, for error messages and metrics.
    pub fn event_types(&self) -> String {
        self.commit
            .events
            .iter()
            .map(|event| event.event_type.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// When the command was decided.
    pub fn occurred_at(&self) -> Option<OffsetDateTime> {
        self.commit.occurred_at.as_ref().and_then(from_timestamp)
    }
}

pub fn timestamp(at: OffsetDateTime) -> prost_types::Timestamp {
    let nanos = at.unix_timestamp_nanos();
    prost_types::Timestamp {
        seconds: nanos.div_euclid(1_000_000_000) as i64,
        nanos: nanos.rem_euclid(1_000_000_000) as i32,
    }
}

pub fn from_timestamp(ts: &prost_types::Timestamp) -> Option<OffsetDateTime> {
    let nanos = i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos);
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_before_and_after_the_epoch() {
        for nanos in [
            0_i128,
            1,
            -1,
            1_700_000_000_123_456_789,
            -86_400_000_000_001,
        ] {
            let at = OffsetDateTime::from_unix_timestamp_nanos(nanos).expect("valid");
            assert_eq!(from_timestamp(&timestamp(at)), Some(at));
        }
    }
}
