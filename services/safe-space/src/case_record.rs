//! The case's own safe-space record (`approdo.case.<case_id>.safe-space`,
//! `RootKind::Case`): what the allocators decided about the case, mirrored
//! once per allocator commit (`safe_space_allocation::case_record`). Written
//! through the kernel right after each allocator commit that concerns the
//! case (`SafeSpaceApi::mirror`, request id
//! `case-record.<allocator>.<allocator sequence>.<case>`), and repaired by the
//! service's one watcher (`CaseRecordWatch`): the projection indexes the
//! allocator commits concerning a case not yet in its record, and the watcher
//! mirrors each with the same request id, so a crash between the allocator's
//! append and the mirror leaves nothing missing and nothing twice.

use std::future::Future;
use std::sync::Arc;

use case_log_jetstream::envelope::{from_timestamp, timestamp};
use case_log_jetstream::{DecodeError, NewEvent, Producer, RootKind};
use contracts::log::v1 as log;
use contracts::safe_space::v1 as wire;
use safe_space_allocation::case_record::{
    self, AllocatorCommit, Change, Command, Event, RecordError, State,
};
use safe_space_allocation::{
    CaseId, OrganisationId, Province, ReferralId, ReleaseReason, ReservationReason, SpaceId,
    SpaceKind, Unit,
};
use service_runtime::{
    Aggregate, Authority, DeadlineWatch, EncodeError, Prepared, Refusal, ServiceError, Target,
};
use time::OffsetDateTime;

use crate::aggregate::{allocator_id, parse_allocator_id};
use crate::api::SafeSpaceApi;
use crate::codec::{self, WireEvent};
use crate::needs::AvoidCodec;
use crate::projection;

/// `approdo.case.<case_id>.safe-space`.
pub struct CaseSafeSpace;

/// The record's context: the case (its events name it) and, for the
/// watcher, the allocator commits concerning the case that its record may
/// lack (read from the log), each with its request id.
pub struct RecordContext {
    pub case: CaseId,
    pub pending: Vec<(String, Command)>,
}

/// `case-record.<allocator>.<allocator sequence>.<case>`: one mirror per
/// allocator commit and case, whoever writes it.
pub fn request_id(allocator: &str, sequence: u64, case: &CaseId) -> String {
    format!("case-record.{allocator}.{sequence}.{case}")
}

impl Aggregate for CaseSafeSpace {
    type Command = Command;
    type Event = Event;
    type State = State;
    type Error = RecordError;
    type Context = RecordContext;
    type Codec = ();

    const PRODUCER: Producer = Producer::SafeSpace;
    const ROOT: RootKind = RootKind::Case;

    fn decide(
        state: &State,
        command: Command,
        _: &RecordContext,
    ) -> Result<Vec<Event>, RecordError> {
        case_record::decide(state, command)
    }

    fn evolve(state: State, event: &Event) -> State {
        state.evolve(event)
    }

    fn refusal(error: &RecordError) -> Refusal {
        Refusal::Rule(error.to_string())
    }

    fn decode(_: &(), event: &log::Event) -> Result<Option<Event>, DecodeError> {
        decode_record(event)
    }

    fn encode(
        _: &(),
        context: &RecordContext,
        event: &Event,
    ) -> Result<NewEvent, EncodeError<RecordError>> {
        Ok(encode_record(&context.case, event).encode())
    }

    /// The allocator commits concerning the case that are not in its record yet.
    fn due_commands(
        state: &State,
        context: &RecordContext,
        _: OffsetDateTime,
    ) -> Vec<(String, Command)> {
        context
            .pending
            .iter()
            .filter(|(_, Command::Mirror { commit, .. })| !state.has_mirrored(commit))
            .cloned()
            .collect()
    }
}

fn commit_to_wire(commit: &AllocatorCommit) -> wire::AllocatorCommit {
    wire::AllocatorCommit {
        allocator_id: allocator_id(&commit.province, commit.kind),
        province: commit.province.to_string(),
        kind: commit.kind.code().to_owned(),
        sequence: commit.sequence,
    }
}

/// A record event on the wire.
pub fn encode_record(case: &CaseId, event: &Event) -> WireEvent {
    let case_id = case.to_string();
    let mirrors = Some(commit_to_wire(&event.mirrors));
    let at = Some(timestamp(event.at));
    match &event.change {
        Change::Requested {
            requested_by,
            referral,
        } => WireEvent::CasePlaceRequested(wire::CasePlaceRequested {
            case_id,
            mirrors,
            requested_by: requested_by.to_string(),
            referral_id: referral
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            at,
        }),
        Change::Reserved {
            space,
            unit,
            reason,
            held_until,
        } => WireEvent::CasePlaceReserved(wire::CasePlaceReserved {
            case_id,
            mirrors,
            space_id: space.to_string(),
            unit: unit.code().to_owned(),
            reason: reason.code().to_owned(),
            held_until: Some(timestamp(*held_until)),
            at,
        }),
        Change::ReturnedToWaitingList { space } => {
            WireEvent::CaseReturnedToWaitingList(wire::CaseReturnedToWaitingList {
                case_id,
                mirrors,
                space_id: space.to_string(),
                at,
            })
        }
        Change::ArrivalConfirmed { space, unit } => {
            WireEvent::CaseArrivalConfirmed(wire::CaseArrivalConfirmed {
                case_id,
                mirrors,
                space_id: space.to_string(),
                unit: unit.code().to_owned(),
                at,
            })
        }
        Change::RequestCancelled => WireEvent::CaseRequestCancelled(wire::CaseRequestCancelled {
            case_id,
            mirrors,
            at,
        }),
        Change::Released { reason } => WireEvent::CasePlaceReleased(wire::CasePlaceReleased {
            case_id,
            mirrors,
            reason: reason.code().to_owned(),
            at,
        }),
        Change::HoldExpired { space } => WireEvent::CaseHoldExpired(wire::CaseHoldExpired {
            case_id,
            mirrors,
            space_id: space.to_string(),
            at,
        }),
    }
}

/// The allocator commit a record event mirrors, as the wire names it.
pub fn mirrored_commit(event: &WireEvent) -> Option<&wire::AllocatorCommit> {
    match event {
        WireEvent::CasePlaceRequested(e) => e.mirrors.as_ref(),
        WireEvent::CasePlaceReserved(e) => e.mirrors.as_ref(),
        WireEvent::CaseReturnedToWaitingList(e) => e.mirrors.as_ref(),
        WireEvent::CaseArrivalConfirmed(e) => e.mirrors.as_ref(),
        WireEvent::CaseRequestCancelled(e) => e.mirrors.as_ref(),
        WireEvent::CasePlaceReleased(e) => e.mirrors.as_ref(),
        WireEvent::CaseHoldExpired(e) => e.mirrors.as_ref(),
        _ => None,
    }
}

/// A record event read back; `None` for the other aggregates' events.
pub fn decode_record(event: &log::Event) -> Result<Option<Event>, DecodeError> {
    let bad = |reason: &'static str| DecodeError::new(event, reason);
    let wire = WireEvent::decode(event)?;
    let Some(mirrors) = mirrored_commit(&wire) else {
        return Ok(None);
    };
    let mirrors = AllocatorCommit {
        province: Province::parse(&mirrors.province).map_err(|_| bad("bad province"))?,
        kind: SpaceKind::from_code(&mirrors.kind).map_err(|_| bad("bad kind"))?,
        sequence: mirrors.sequence,
    };
    let time = |at: &Option<prost_types::Timestamp>| {
        at.as_ref()
            .and_then(from_timestamp)
            .ok_or_else(|| bad("missing time"))
    };
    let space = |raw: &str| SpaceId::parse(raw).map_err(|_| bad("bad space id"));
    let unit = |raw: &str| Unit::from_code(raw).map_err(|_| bad("bad unit"));
    let (change, at) = match &wire {
        WireEvent::CasePlaceRequested(e) => (
            Change::Requested {
                requested_by: OrganisationId::parse(&e.requested_by)
                    .map_err(|_| bad("bad organisation id"))?,
                referral: if e.referral_id.is_empty() {
                    None
                } else {
                    Some(ReferralId::parse(&e.referral_id).map_err(|_| bad("bad referral id"))?)
                },
            },
            time(&e.at)?,
        ),
        WireEvent::CasePlaceReserved(e) => (
            Change::Reserved {
                space: space(&e.space_id)?,
                unit: unit(&e.unit)?,
                reason: ReservationReason::from_code(&e.reason).map_err(|_| bad("bad reason"))?,
                held_until: time(&e.held_until)?,
            },
            time(&e.at)?,
        ),
        WireEvent::CaseReturnedToWaitingList(e) => (
            Change::ReturnedToWaitingList {
                space: space(&e.space_id)?,
            },
            time(&e.at)?,
        ),
        WireEvent::CaseArrivalConfirmed(e) => (
            Change::ArrivalConfirmed {
                space: space(&e.space_id)?,
                unit: unit(&e.unit)?,
            },
            time(&e.at)?,
        ),
        WireEvent::CaseRequestCancelled(e) => (Change::RequestCancelled, time(&e.at)?),
        WireEvent::CasePlaceReleased(e) => (
            Change::Released {
                reason: ReleaseReason::from_code(&e.reason).map_err(|_| bad("bad reason"))?,
            },
            time(&e.at)?,
        ),
        WireEvent::CaseHoldExpired(e) => (
            Change::HoldExpired {
                space: space(&e.space_id)?,
            },
            time(&e.at)?,
        ),
        _ => return Ok(None),
    };
    Ok(Some(Event {
        mirrors,
        change,
        at,
    }))
}

/// The mirror commands one allocator commit calls for: one per case it concerns.
/// `codec` opens places to avoid if it can; the mirror needs only which cases
/// a commit concerns, never the list.
pub fn mirrors_of(
    codec: &AvoidCodec,
    allocator: &str,
    sequence: u64,
    commit: &log::Commit,
) -> Result<Vec<(CaseId, String, Command)>, ServiceError> {
    let (province, kind) = parse_allocator_id(allocator)
        .ok_or_else(|| ServiceError::internal("an allocator id that does not parse"))?;
    let events = commit
        .events
        .iter()
        .filter_map(|event| codec::decode_allocator(codec, event).transpose())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| {
            ServiceError::internal(format_args!("an allocator commit to mirror: {error}"))
        })?;
    let committed_at = commit
        .occurred_at
        .as_ref()
        .and_then(from_timestamp)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    Ok(case_record::cases_concerned(&events)
        .into_iter()
        .map(|case| {
            let command = Command::Mirror {
                commit: AllocatorCommit {
                    province: province.clone(),
                    kind,
                    sequence,
                },
                changes: case_record::changes_for(&case, &events, committed_at),
            };
            (
                case.clone(),
                request_id(allocator, sequence, &case),
                command,
            )
        })
        .collect())
}

impl SafeSpaceApi {
    /// Mirrors an allocator commit into the record of each case it concerns
    /// (already there: nothing appended). The watcher repairs what a crash
    /// between the two appends left undone.
    pub(crate) async fn mirror(
        &self,
        allocator: &str,
        sequence: u64,
        commit: &log::Commit,
    ) -> Result<(), ServiceError> {
        let authority = Authority::system(crate::NAME);
        for (case, request_id, command) in
            mirrors_of(&self.avoid_codec(), allocator, sequence, commit)?
        {
            let context = RecordContext {
                case: case.clone(),
                pending: Vec::new(),
            };
            let target = Target::<CaseSafeSpace> {
                id: case.as_str(),
                codec: &(),
                context: &context,
            };
            match self
                .kernel
                .execute(target, &authority, &request_id, command)
                .await
            {
                Ok(_) | Err(ServiceError::FailedPrecondition(_)) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// The case's record, read from the log.
    pub(crate) async fn case_record(&self, case: &CaseId) -> Result<State, ServiceError> {
        self.kernel.state::<CaseSafeSpace>(case.as_str(), &()).await
    }
}

/// The watcher's view of case records: the cases whose record lacks an
/// allocator commit that concerns them (the projection's index), each
/// confirmed from the log before it is mirrored. A case is a candidate only
/// when the index held it at the previous pass too: the API path mirrors
/// right after its allocator commit, and the watcher does not race it for
/// every commit under load.
pub struct CaseRecordWatch {
    pub api: Arc<SafeSpaceApi>,
    seen: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl CaseRecordWatch {
    pub fn new(api: Arc<SafeSpaceApi>) -> CaseRecordWatch {
        CaseRecordWatch {
            api,
            seen: Default::default(),
        }
    }
}

impl DeadlineWatch for CaseRecordWatch {
    type Aggregate = CaseSafeSpace;

    const WATCHER: &'static str = "safe-space-deadline-watcher";

    fn candidates(&self, _: OffsetDateTime) -> Result<Vec<String>, ServiceError> {
        let now: std::collections::BTreeSet<String> =
            projection::cases_to_mirror(self.api.projection.store())?
                .into_iter()
                .collect();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let due = now.intersection(&seen).cloned().collect();
        *seen = now;
        Ok(due)
    }

    fn prepare(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Prepared<CaseSafeSpace>, ServiceError>> + Send {
        let id = id.to_owned();
        async move {
            let case = CaseId::parse(&id)
                .map_err(|_| ServiceError::internal("a case id the index holds"))?;
            let mut pending = Vec::new();
            for (allocator, sequence) in projection::mirrors_due(self.api.projection.store(), &id)?
            {
                // The commit itself, trusted only on its own allocator's subject.
                let recorded = self.api.kernel.log().commit_at(sequence).await?;
                if recorded.aggregate()
                    != Some((
                        RootKind::Configuration,
                        allocator.as_str(),
                        Producer::SafeSpace,
                    ))
                {
                    continue;
                }
                pending.extend(
                    mirrors_of(
                        &self.api.avoid_codec(),
                        &allocator,
                        sequence,
                        &recorded.commit,
                    )?
                    .into_iter()
                    .filter(|(c, _, _)| *c == case)
                    .map(|(_, request_id, command)| (request_id, command)),
                );
            }
            Ok(Prepared {
                codec: (),
                context: RecordContext { case, pending },
            })
        }
    }
}
