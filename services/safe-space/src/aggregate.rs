//! The safe-space service's aggregates as the kernel runs them: a safe space
//! in the registry (`approdo.facility.<space_id>.safe-space`) and one
//! allocator per province and kind
//! (`approdo.configuration.allocator-<province>-<kind>.safe-space`: the
//! fallback WIRING.md names, so that no new root kind, subject scheme or NATS
//! permission is needed), `decide`/`evolve` delegating to
//! `safe_space_allocation`, where a case-scoped command's case is (from
//! screening's facts), and what the allocator says is due (holds expired).

use std::collections::BTreeMap;

use case_log_jetstream::{DecodeError, NewEvent, Producer, RootKind};
use contracts::log::v1 as log;
use safe_space_allocation::allocator::{self, AllocationError};
use safe_space_allocation::space::{self, SpaceError};
use safe_space_allocation::{CaseId, Context, Province, ReleaseReason, SpaceId, SpaceKind};
use service_runtime::{Aggregate, EncodeError, Refusal, Whereabouts};
use time::OffsetDateTime;

use crate::case_facts::{CaseFacts, SafeSpaceFacts};
use crate::codec;
use crate::needs::AvoidCodec;

/// `approdo.facility.<space_id>.safe-space`: one space in the registry.
pub struct SafeSpace;

/// The registry's context: the space's id (its events name it), the
/// domain's, and for a registration the space's name and address already
/// sealed with its key (the kernel never sees them in clear).
pub struct SpaceContext {
    pub space: SpaceId,
    pub domain: space::Context,
    pub sealed_location: Option<contracts::person::v1::EncryptedMessage>,
}

impl Aggregate for SafeSpace {
    type Command = space::Command;
    type Event = space::Event;
    type State = space::State;
    type Error = SpaceError;
    type Context = SpaceContext;
    type Codec = ();

    const PRODUCER: Producer = Producer::SafeSpace;
    const ROOT: RootKind = RootKind::Facility;

    fn decide(
        state: &space::State,
        command: space::Command,
        context: &SpaceContext,
    ) -> Result<Vec<space::Event>, SpaceError> {
        space::decide(state, command, &context.domain)
    }

    fn evolve(state: space::State, event: &space::Event) -> space::State {
        state.evolve(event)
    }

    fn refusal(error: &SpaceError) -> Refusal {
        match error {
            SpaceError::Invalid { field, reason } => {
                Refusal::invalid(format!("profile.{field}"), *reason)
            }
            SpaceError::SpaceNotFound => Refusal::NotFound("space"),
            SpaceError::NotTheManagingOrganisation => Refusal::NotAllowed(error.to_string()),
            other => Refusal::Rule(other.to_string()),
        }
    }

    fn decode(_: &(), event: &log::Event) -> Result<Option<space::Event>, DecodeError> {
        codec::decode_space(event)
    }

    fn encode(
        _: &(),
        context: &SpaceContext,
        event: &space::Event,
    ) -> Result<NewEvent, EncodeError<SpaceError>> {
        Ok(codec::encode_space(&context.space, context.sealed_location.as_ref(), event).encode())
    }
}

/// `approdo.configuration.allocator-<province>-<kind>.safe-space`.
pub struct Allocator;

/// An allocator command's context: the domain's (time, actor, province and
/// kind, hold policy, the case's facts) and, for a command about a case,
/// where screening says the case is.
pub struct AllocatorContext {
    pub domain: Context,
    pub case: Option<CaseFacts>,
    /// For the watcher: the cases here whose case ended (closed, erased) or whose
    /// linked referral ended (revoked, cancelled, failed), read from the log.
    pub ended: BTreeMap<CaseId, ReleaseReason>,
    /// For a disclosure: the receivers of the case's accepted or in-care
    /// referrals, who may then reach the case (the domain still decides).
    pub referred_to: Vec<String>,
    /// For the watcher: the current urgency of waiting cases whose
    /// screening urgency changed, read from the log.
    pub urgencies: BTreeMap<CaseId, Option<pathway::Urgency>>,
    /// For the watcher: spaces the registry holds that this allocator lacks
    /// (a registration interrupted between its two appends), with the
    /// command that forwards each (`space-added.<space>`).
    pub registered: Vec<(SpaceId, allocator::Command)>,
}

/// The allocator's aggregate id: `allocator-rm-gbv-shelter`.
pub fn allocator_id(province: &Province, kind: SpaceKind) -> String {
    format!(
        "allocator-{}-{}",
        province.as_str().to_ascii_lowercase(),
        kind.code().replace('_', "-")
    )
}

/// The province and kind an allocator id names.
pub fn parse_allocator_id(id: &str) -> Option<(Province, SpaceKind)> {
    let rest = id.strip_prefix("allocator-")?;
    let (province, kind) = rest.split_once('-')?;
    Some((
        Province::parse(&province.to_ascii_uppercase()).ok()?,
        SpaceKind::from_code(&kind.replace('-', "_")).ok()?,
    ))
}

/// The case a command is about, if any.
pub fn command_case(command: &allocator::Command) -> Option<&CaseId> {
    use allocator::Command::*;
    match command {
        RequestPlace { case, .. }
        | CancelRequest { case }
        | Reserve { case, .. }
        | ConfirmArrival { case }
        | Release { case, .. }
        | ExpireHold { case }
        | DiscloseLocation { case, .. }
        | RefreshUrgency { case, .. }
        | ForgetAvoid { case } => Some(case),
        AddSpace { .. } | ChangeCapacity { .. } | CloseSpace { .. } => None,
    }
}

impl Aggregate for Allocator {
    type Command = allocator::Command;
    type Event = allocator::Event;
    type State = allocator::State;
    type Error = AllocationError;
    type Context = AllocatorContext;
    type Codec = AvoidCodec;

    const PRODUCER: Producer = Producer::SafeSpace;
    const ROOT: RootKind = RootKind::Configuration;

    fn decide(
        state: &allocator::State,
        command: allocator::Command,
        context: &AllocatorContext,
    ) -> Result<Vec<allocator::Event>, AllocationError> {
        allocator::decide(state, command, &context.domain)
    }

    fn evolve(state: allocator::State, event: &allocator::Event) -> allocator::State {
        state.evolve(event)
    }

    fn refusal(error: &AllocationError) -> Refusal {
        match error {
            AllocationError::Invalid { field, reason } => Refusal::invalid(*field, *reason),
            AllocationError::RequestNotFound => Refusal::NotFound("place request"),
            AllocationError::SpaceNotFound => Refusal::NotFound("space"),
            AllocationError::NotTheRequester
            | AllocationError::NotTheManagingOrganisation
            | AllocationError::NotAllowedForActor
            | AllocationError::LocationNotDisclosed => Refusal::NotAllowed(error.to_string()),
            other => Refusal::Rule(other.to_string()),
        }
    }

    fn decode(
        avoid: &AvoidCodec,
        event: &log::Event,
    ) -> Result<Option<allocator::Event>, DecodeError> {
        codec::decode_allocator(avoid, event)
    }

    fn encode(
        avoid: &AvoidCodec,
        _: &AllocatorContext,
        event: &allocator::Event,
    ) -> Result<NewEvent, EncodeError<AllocationError>> {
        codec::encode_allocator(avoid, event)
            .map(|wire| wire.encode())
            .map_err(EncodeError::Internal)
    }

    /// A command about a case: where screening says the case is, and the
    /// managing organisation of the space the case holds here (so that a
    /// shelter acts on the people it receives, and only on them).
    fn whereabouts(
        state: &allocator::State,
        command: &allocator::Command,
        context: &AllocatorContext,
    ) -> Option<Whereabouts> {
        let case = command_case(command)?;
        let facts = context.case.as_ref()?;
        let manager = state
            .cases
            .get(case)
            .and_then(allocator::Entry::holds)
            .and_then(|(space, _)| state.spaces.get(space))
            .map(|space| space.organisation.to_string());
        Some(
            facts.whereabouts().referred_to(
                manager
                    .into_iter()
                    .chain(context.referred_to.iter().cloned()),
            ),
        )
    }

    /// Releases of the cases that ended (`release.<reason>.<case>.<requested_at
    /// ns>`), the holds whose deadline passed (`hold-expired.<case>.<reserved_at
    /// ns>`), the waiting cases whose urgency changed
    /// (`urgency-refreshed.<case>.<requested_at ns>.<n>`), the erased cases'
    /// destroyed needs keys (`avoid-forgotten.<case>`).
    /// The waiting cases whose urgency changed
    /// (`urgency-refreshed.<case>.<requested_at ns>.<n>`), the releases of the
    /// cases that ended or moved elsewhere (`release.<reason>.<case>.<requested_at
    /// ns>`), the holds whose deadline passed (`hold-expired.<case>.<reserved_at
    /// ns>`), the erased cases' destroyed needs keys (`avoid-forgotten.<case>`),
    /// then the spaces registered but not yet forwarded here (`space-added.<space>`).
    fn due_commands(
        state: &allocator::State,
        context: &AllocatorContext,
        now: OffsetDateTime,
    ) -> Vec<(String, allocator::Command)> {
        let mut due: Vec<(String, allocator::Command)> =
            allocator::due(state, now, &context.ended, &context.urgencies)
                .into_iter()
                .map(|due| (due.request_id(), due.command()))
                .collect();
        // Registrations whose forward to the allocator was interrupted.
        due.extend(
            context
                .registered
                .iter()
                .filter(|(space, _)| !state.spaces.contains_key(space))
                .map(|(space, command)| (format!("space-added.{space}"), command.clone())),
        );
        due
    }
}
