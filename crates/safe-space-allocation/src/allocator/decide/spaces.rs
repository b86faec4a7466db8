//! The spaces of an allocator: added when registered, their capacity changed
//! (decided here first: never below what is held), closed.

use super::settle::settle;
use super::{AllocationError, after, by_the_manager, invalid};
use crate::allocator::{Event, Standing, State};
use crate::{Capacity, Context, ReservationReason, SpaceId, SpaceProfile, check_capacity};

pub(super) fn add(
    state: &State,
    space: SpaceId,
    profile: SpaceProfile,
    context: &Context,
) -> Result<Vec<Event>, AllocationError> {
    by_the_manager(&profile.organisation, context)?;
    if profile.province != context.province || profile.kind != context.kind {
        return Err(AllocationError::NotThisAllocator);
    }
    if state.spaces.contains_key(&space) {
        return Err(AllocationError::SpaceAlreadyAdded);
    }
    profile.check().map_err(invalid)?;
    let mut events = vec![Event::SpaceAdded {
        space,
        organisation: profile.organisation,
        capacity: profile.capacity,
        eligibility: profile.eligibility,
    }];
    events.extend(settle(
        &after(state, &events),
        ReservationReason::SpaceAdded,
        None,
        context,
    ));
    Ok(events)
}

pub(super) fn change_capacity(
    state: &State,
    space_id: SpaceId,
    capacity: Capacity,
    context: &Context,
) -> Result<Vec<Event>, AllocationError> {
    let space = state
        .spaces
        .get(&space_id)
        .ok_or(AllocationError::SpaceNotFound)?;
    by_the_manager(&space.organisation, context)?;
    if space.closed {
        return Err(AllocationError::SpaceClosed);
    }
    if capacity == space.capacity {
        return Err(AllocationError::CapacityUnchanged);
    }
    check_capacity(context.kind, capacity, &space.eligibility).map_err(invalid)?;
    if !capacity.holds(state.held(&space_id)) {
        return Err(AllocationError::CapacityBelowHeld);
    }
    let mut events = vec![Event::SpaceCapacityChanged {
        space: space_id,
        capacity,
    }];
    events.extend(settle(
        &after(state, &events),
        ReservationReason::CapacityAdded,
        None,
        context,
    ));
    Ok(events)
}

/// Closing: no new reservations there; each reservation not yet taken up
/// returns to the waiting list (in the list's order) and may be given
/// another space at once; occupants stay until released.
pub(super) fn close(
    state: &State,
    space_id: SpaceId,
    context: &Context,
) -> Result<Vec<Event>, AllocationError> {
    let space = state
        .spaces
        .get(&space_id)
        .ok_or(AllocationError::SpaceNotFound)?;
    by_the_manager(&space.organisation, context)?;
    if space.closed {
        return Err(AllocationError::SpaceClosed);
    }
    let mut reserved: Vec<_> = state
        .cases
        .iter()
        .filter(|(_, entry)| {
            matches!(&entry.standing, Standing::Reserved { space, .. } if *space == space_id)
        })
        .collect();
    reserved.sort_by(|(a, ea), (b, eb)| ea.queue_key(a).cmp(&eb.queue_key(b)));
    let mut events = vec![Event::SpaceClosed {
        space: space_id.clone(),
    }];
    events.extend(
        reserved
            .into_iter()
            .map(|(case, _)| Event::ReturnedToWaitingList {
                case: case.clone(),
                space: space_id.clone(),
            }),
    );
    events.extend(settle(
        &after(state, &events),
        ReservationReason::SpaceClosed,
        None,
        context,
    ));
    Ok(events)
}
