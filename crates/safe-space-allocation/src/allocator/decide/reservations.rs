//! Reservations and places: a reservation moved to a chosen space, an
//! arrival confirmed, a request or place released for a reason, a hold
//! expired by the watcher. What frees a place serves the waiting list.

use super::settle::settle;
use super::{AllocationError, after, by_the_requester, by_the_system, entry};
use crate::allocator::{Event, Standing, State, eligible};
use crate::{Actor, CaseId, Context, ReleaseReason, ReservationReason, SpaceId};

/// The requester (or whoever answers for the case where it is now) chooses a
/// proposed space: the person must be eligible and a
/// unit free there. The allocator is settled, so no one waiting is eligible
/// for that free unit: choosing it passes no one. A person waiting has no
/// free place they are eligible for, so this moves a reservation.
pub(super) fn reserve(
    state: &State,
    case: CaseId,
    space_id: SpaceId,
    context: &Context,
) -> Result<Vec<Event>, AllocationError> {
    let entry = entry(state, &case)?;
    if !context.case.responsible {
        by_the_requester(entry, context)?;
    }
    match &entry.standing {
        Standing::Occupying { .. } => {
            return Err(AllocationError::NotAllowedWhile(entry.standing.code()));
        }
        Standing::Reserved { space, .. } if *space == space_id => {
            return Err(AllocationError::AlreadyReservedThere);
        }
        _ => {}
    }
    let space = state
        .spaces
        .get(&space_id)
        .ok_or(AllocationError::SpaceNotFound)?;
    if space.closed {
        return Err(AllocationError::SpaceClosed);
    }
    if !eligible(&space_id, space, entry) {
        return Err(AllocationError::NotEligible);
    }
    let unit = entry.needs.unit();
    if state.free(&space_id, unit) == 0 {
        return Err(AllocationError::NoPlaceFree);
    }
    let moved = matches!(entry.standing, Standing::Reserved { .. });
    let mut events = vec![Event::PlaceReserved {
        case,
        space: space_id,
        unit,
        reserved_at: context.now,
        held_until: context.now + context.policy.hold,
        reason: ReservationReason::Chosen,
    }];
    if moved {
        events.extend(settle(
            &after(state, &events),
            ReservationReason::ReservationMoved,
            None,
            context,
        ));
    }
    Ok(events)
}

/// The space's managing organisation (or the service, from a placement
/// screening recorded) confirms the person arrived: the reservation becomes
/// a place. An arrival after the hold's deadline, before the watcher expired
/// it, is still an arrival: the place was never given to anyone else.
pub(super) fn confirm_arrival(
    state: &State,
    case: CaseId,
    context: &Context,
) -> Result<Vec<Event>, AllocationError> {
    let entry = entry(state, &case)?;
    let Standing::Reserved { space, unit, .. } = &entry.standing else {
        return Err(AllocationError::NotAllowedWhile(entry.standing.code()));
    };
    let manager = &state
        .spaces
        .get(space)
        .ok_or(AllocationError::SpaceNotFound)?
        .organisation;
    match &context.actor {
        Actor::Organisation(org) if org != manager => {
            return Err(AllocationError::NotTheManagingOrganisation);
        }
        Actor::Administrator => return Err(AllocationError::NotTheManagingOrganisation),
        _ => {}
    }
    Ok(vec![Event::ArrivalConfirmed {
        case,
        space: space.clone(),
        unit: *unit,
        at: context.now,
    }])
}

/// The request ends, with what it holds. A discharge ends a stay: by the
/// space's managing organisation, the requester or the service. A transfer
/// by either party or the service. Case closure, erasure and the linked
/// referral's end only by the service, from the facts.
pub(super) fn release(
    state: &State,
    case: CaseId,
    reason: ReleaseReason,
    context: &Context,
) -> Result<Vec<Event>, AllocationError> {
    let entry = entry(state, &case)?;
    if reason.by_the_system_only() {
        by_the_system(context)?;
    } else if context.actor != Actor::System {
        let manager = entry
            .holds()
            .and_then(|(space, _)| state.spaces.get(space))
            .map(|space| &space.organisation);
        let is_party = match &context.actor {
            Actor::Organisation(org) => *org == entry.requested_by || Some(org) == manager,
            _ => false,
        };
        if !is_party {
            return Err(AllocationError::NotTheRequester);
        }
    }
    if reason == ReleaseReason::Discharge && !matches!(entry.standing, Standing::Occupying { .. }) {
        return Err(AllocationError::NotAllowedWhile(entry.standing.code()));
    }
    let frees = entry.holds().is_some();
    let mut events = vec![Event::PlaceReleased {
        case,
        reason,
        at: context.now,
    }];
    if frees {
        events.extend(settle(
            &after(state, &events),
            ReservationReason::PlaceReleased,
            None,
            context,
        ));
    }
    Ok(events)
}

/// The watcher: a reservation whose hold passed ends (the requester may ask
/// again), and its place goes to the first eligible person waiting.
pub(super) fn expire_hold(
    state: &State,
    case: CaseId,
    context: &Context,
) -> Result<Vec<Event>, AllocationError> {
    by_the_system(context)?;
    let entry = entry(state, &case)?;
    let Standing::Reserved {
        space, held_until, ..
    } = &entry.standing
    else {
        return Err(AllocationError::HoldNotExpired);
    };
    if context.now < *held_until {
        return Err(AllocationError::HoldNotExpired);
    }
    let mut events = vec![Event::HoldExpired {
        case,
        space: space.clone(),
        at: context.now,
    }];
    events.extend(settle(
        &after(state, &events),
        ReservationReason::HoldExpired,
        None,
        context,
    ));
    Ok(events)
}
