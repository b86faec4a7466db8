//! `DiscloseLocation`: who may learn where a space is, and when. The one rule:
//! only while the case holds that space (reserved or occupying), and only to
//! the space's managing organisation or an organisation the case entitles
//! (`CaseFacts.location_readers`: the receivers of its accepted or in-care
//! referrals, its current reception operator). The disclosure is an event, so
//! the service records it before it answers.

use crate::allocator::{Event, State};
use crate::{Actor, CaseId, Context, DisclosurePurpose, SpaceId};

use super::AllocationError;

pub(super) fn disclose_location(
    state: &State,
    case: CaseId,
    space: SpaceId,
    purpose: DisclosurePurpose,
    context: &Context,
) -> Result<Vec<Event>, AllocationError> {
    // Nobody learns whether the case holds the space unless entitled: every
    // refusal is the same one.
    let Actor::Organisation(to) = &context.actor else {
        return Err(AllocationError::LocationNotDisclosed);
    };
    let holds_it = state
        .cases
        .get(&case)
        .and_then(|entry| entry.holds())
        .is_some_and(|(held, _)| *held == space);
    let manager = state.spaces.get(&space).map(|s| &s.organisation);
    let entitled = manager == Some(to) || context.case.location_readers.contains(to);
    if !holds_it || !entitled {
        return Err(AllocationError::LocationNotDisclosed);
    }
    Ok(vec![Event::LocationDisclosed {
        case,
        space,
        to: to.clone(),
        purpose,
        at: context.now,
    }])
}
