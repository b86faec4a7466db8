//! What the watcher keeps in step with the case: a waiting person's urgency
//! (the waiting list's first key follows the case's facts, never a caller),
//! and the record that the key of a case's places to avoid was destroyed.

use super::{AllocationError, by_the_system, entry};
use crate::allocator::{Event, Standing, State};
use crate::{CaseId, Context};
use pathway::Urgency;

/// The case's urgency now (read by the service from screening's facts, only
/// the service runs this) replaces the one the person waits with. Only while waiting: a reservation
/// or a place is not reordered. The list's order follows at once; no place
/// frees, so nothing is reserved (the allocator stays settled).
pub(super) fn refresh_urgency(
    state: &State,
    case: CaseId,
    urgency: Option<Urgency>,
    context: &Context,
) -> Result<Vec<Event>, AllocationError> {
    by_the_system(context)?;
    let entry = entry(state, &case)?;
    if entry.standing != Standing::Waiting {
        return Err(AllocationError::NotAllowedWhile(entry.standing.code()));
    }
    if entry.urgency == urgency {
        return Err(AllocationError::UrgencyUnchanged);
    }
    Ok(vec![Event::UrgencyRefreshed {
        case,
        urgency,
        at: context.now,
    }])
}

/// The service destroyed the key of the case's places to avoid (the case was
/// erased): recorded once, so the watcher stops looking at it.
pub(super) fn forget_avoid(
    state: &State,
    case: CaseId,
    context: &Context,
) -> Result<Vec<Event>, AllocationError> {
    by_the_system(context)?;
    if !state.avoid_kept.contains(&case) {
        return Err(AllocationError::AvoidAlreadyForgotten);
    }
    Ok(vec![Event::AvoidListDestroyed {
        case,
        at: context.now,
    }])
}
