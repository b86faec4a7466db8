//! The waiting list served: after a command, every free place goes to the
//! first eligible person waiting (urgency, then time waited), best fit first,
//! in the same commit, each with the reason a place became free.

use crate::allocator::{Event, State, proposals};
use crate::{CaseId, Context, ReservationReason};

/// The reservations that settle `state` (after a command's own events): in
/// waiting-list order, each person waiting gets the best-fitting free place
/// they are eligible for, if any. `requester` is the person who just asked:
/// a place free at once is `place_free` for them; every other reservation is
/// from the waiting list, for `cause`.
pub(super) fn settle(
    state: &State,
    cause: ReservationReason,
    requester: Option<&CaseId>,
    context: &Context,
) -> Vec<Event> {
    let mut events = Vec::new();
    if !state.spaces.keys().any(|space| {
        state.free(space, crate::Unit::Bed) > 0 || state.free(space, crate::Unit::FamilyRoom) > 0
    }) {
        return events;
    }
    let mut state = state.clone();
    let waiting: Vec<CaseId> = state.waiting_list().into_iter().cloned().collect();
    for case in waiting {
        let Some(best) = proposals(&state, &case).into_iter().next() else {
            continue;
        };
        let reason = if requester == Some(&case) {
            ReservationReason::PlaceFree
        } else {
            cause
        };
        let event = Event::PlaceReserved {
            case,
            space: best.space,
            unit: best.unit,
            reserved_at: context.now,
            held_until: context.now + context.policy.hold,
            reason,
        };
        state = state.evolve(&event);
        events.push(event);
    }
    events
}
