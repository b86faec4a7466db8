//! Requests for a place: asked for a case (the person's urgency, sex and age
//! band from the case's facts, never from the request), and cancelled by
//! the requester.

use super::settle::settle;
use super::{AllocationError, after, by_the_requester, entry, invalid};
use crate::allocator::{Event, Standing, State};
use crate::{Actor, CaseId, Context, Needs, ReferralId, ReservationReason};

pub(super) fn request(
    state: &State,
    case: CaseId,
    needs: Needs,
    referral: Option<ReferralId>,
    context: &Context,
) -> Result<Vec<Event>, AllocationError> {
    let Actor::Organisation(requested_by) = &context.actor else {
        return Err(AllocationError::NotTheRequester);
    };
    let facts = &context.case;
    if facts.closed {
        return Err(AllocationError::CaseClosed);
    }
    if state.cases.contains_key(&case) {
        return Err(AllocationError::AlreadyRequested);
    }
    if facts.held_elsewhere {
        return Err(AllocationError::HeldElsewhere);
    }
    needs.check().map_err(invalid)?;
    if !needs.preferred_provinces.is_empty()
        && !needs.preferred_provinces.contains(&context.province)
    {
        return Err(AllocationError::Invalid {
            field: "needs.preferred_provinces",
            reason: "does not name this allocator's province",
        });
    }
    let mut events = vec![Event::PlaceRequested {
        case: case.clone(),
        requested_by: requested_by.clone(),
        referral,
        needs,
        urgency: facts.urgency,
        sex: facts.sex,
        age_band: facts.age_band,
        requested_at: context.now,
    }];
    // Only the new person can be eligible for a place free now (the
    // allocator was settled), so this reserves for them or for no one.
    events.extend(settle(
        &after(state, &events),
        ReservationReason::PlaceFree,
        Some(&case),
        context,
    ));
    Ok(events)
}

/// A request waiting or reserved (not a place taken up: that is released).
pub(super) fn cancel(
    state: &State,
    case: CaseId,
    context: &Context,
) -> Result<Vec<Event>, AllocationError> {
    let entry = entry(state, &case)?;
    by_the_requester(entry, context)?;
    if let Standing::Occupying { .. } = entry.standing {
        return Err(AllocationError::NotAllowedWhile(entry.standing.code()));
    }
    let mut events = vec![Event::RequestCancelled {
        case,
        at: context.now,
    }];
    events.extend(settle(
        &after(state, &events),
        ReservationReason::RequestCancelled,
        None,
        context,
    ));
    Ok(events)
}
