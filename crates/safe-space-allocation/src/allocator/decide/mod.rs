//! `decide` for an allocator: a dispatcher over [`Command`], one function
//! per command in a file per concern (`spaces`, `requests`, `reservations`),
//! and [`settle`](settle::settle), which every command that may free a place
//! ends with.

mod disclosures;
mod refresh;
mod requests;
mod reservations;
mod settle;
mod spaces;

use crate::allocator::{Command, Entry, Event, Standing, State};
use crate::{Actor, CaseId, Context, OrganisationId};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocationError {
    /// The command's content is not acceptable (INVALID_ARGUMENT).
    #[error("invalid {field}: {reason}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
    #[error("only the service itself does this")]
    NotAllowedForActor,
    #[error("only the organisation that requested the place may do this")]
    NotTheRequester,
    #[error("only the space's managing organisation may do this")]
    NotTheManagingOrganisation,
    #[error("space not found")]
    SpaceNotFound,
    #[error("space already added")]
    SpaceAlreadyAdded,
    #[error("space closed")]
    SpaceClosed,
    #[error("the space is of another province or kind than this allocator")]
    NotThisAllocator,
    #[error("the capacity is unchanged")]
    CapacityUnchanged,
    #[error("the capacity would be below the places reserved and occupied")]
    CapacityBelowHeld,
    #[error("the case is closed")]
    CaseClosed,
    #[error("the case already has a request, a reservation or a place in another allocator")]
    HeldElsewhere,
    #[error("the case already has a request here")]
    AlreadyRequested,
    #[error("no request for this case")]
    RequestNotFound,
    #[error("not allowed while {0}")]
    NotAllowedWhile(&'static str),
    #[error("the person is not eligible for this space")]
    NotEligible,
    #[error("no place free in this space")]
    NoPlaceFree,
    #[error("the reservation is already in this space")]
    AlreadyReservedThere,
    #[error("the hold has not expired")]
    HoldNotExpired,
    #[error("the caller may not learn where this space is")]
    LocationNotDisclosed,
    #[error("the urgency is unchanged")]
    UrgencyUnchanged,
    #[error("the places to avoid are already forgotten")]
    AvoidAlreadyForgotten,
}

/// The single decision function of an allocator.
pub fn decide(
    state: &State,
    command: Command,
    context: &Context,
) -> Result<Vec<Event>, AllocationError> {
    match command {
        Command::AddSpace { space, profile } => spaces::add(state, space, profile, context),
        Command::ChangeCapacity { space, capacity } => {
            spaces::change_capacity(state, space, capacity, context)
        }
        Command::CloseSpace { space } => spaces::close(state, space, context),
        Command::RequestPlace {
            case,
            needs,
            referral,
        } => requests::request(state, case, needs, referral, context),
        Command::CancelRequest { case } => requests::cancel(state, case, context),
        Command::Reserve { case, space } => reservations::reserve(state, case, space, context),
        Command::ConfirmArrival { case } => reservations::confirm_arrival(state, case, context),
        Command::Release { case, reason } => reservations::release(state, case, reason, context),
        Command::ExpireHold { case } => reservations::expire_hold(state, case, context),
        Command::DiscloseLocation {
            case,
            space,
            purpose,
        } => disclosures::disclose_location(state, case, space, purpose, context),
        Command::RefreshUrgency { case, urgency } => {
            refresh::refresh_urgency(state, case, urgency, context)
        }
        Command::ForgetAvoid { case } => refresh::forget_avoid(state, case, context),
    }
}

impl Standing {
    pub fn code(&self) -> &'static str {
        match self {
            Standing::Waiting => "waiting",
            Standing::Reserved { .. } => "reserved",
            Standing::Occupying { .. } => "occupying",
        }
    }
}

fn invalid((field, reason): crate::Violation) -> AllocationError {
    AllocationError::Invalid { field, reason }
}

fn entry<'a>(state: &'a State, case: &CaseId) -> Result<&'a Entry, AllocationError> {
    state
        .cases
        .get(case)
        .ok_or(AllocationError::RequestNotFound)
}

/// The organisation that requested the place.
fn by_the_requester(entry: &Entry, context: &Context) -> Result<(), AllocationError> {
    match &context.actor {
        Actor::Organisation(org) if *org == entry.requested_by => Ok(()),
        _ => Err(AllocationError::NotTheRequester),
    }
}

/// The space's managing organisation, an administrator, or the service.
fn by_the_manager(organisation: &OrganisationId, context: &Context) -> Result<(), AllocationError> {
    match &context.actor {
        Actor::Organisation(org) if org != organisation => {
            Err(AllocationError::NotTheManagingOrganisation)
        }
        _ => Ok(()),
    }
}

/// Only the service itself (its watcher and reactions).
fn by_the_system(context: &Context) -> Result<(), AllocationError> {
    match context.actor {
        Actor::System => Ok(()),
        _ => Err(AllocationError::NotAllowedForActor),
    }
}

/// The state after `events`.
fn after(state: &State, events: &[Event]) -> State {
    events
        .iter()
        .fold(state.clone(), |state, event| state.evolve(event))
}
