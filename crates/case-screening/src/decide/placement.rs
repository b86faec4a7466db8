//! Where the person is: placements in reception (D.Lgs. 142/2015), the
//! detention rule, and the closing of the case.

use pathway::CategoryStatus;
use time::OffsetDateTime;

use super::follow_up::lost_to_follow_up;
use super::minors::first_reception_limit_exceeded;
use super::{invalid, open_case, within};
use crate::{CloseReason, Event, FacilityKind, Placement, ScreeningError, State};

pub(super) fn place(
    state: &State,
    placement: Placement,
    now: OffsetDateTime,
) -> Result<Vec<Event>, ScreeningError> {
    let opened = open_case(state)?;
    within(placement.placed_at, opened.arrived_at, now, "placed_at")?;
    if placement
        .arrival_due_at
        .is_some_and(|due_at| due_at <= placement.placed_at)
    {
        return Err(invalid("arrival_due_at", "must be after placed_at"));
    }
    // Before any placement the person is where the case was opened.
    let current = state
        .placement
        .as_ref()
        .map_or(&opened.facility_id, |p| &p.facility_id);
    if *current == placement.facility_id {
        return Err(ScreeningError::AlreadyPlacedThere);
    }
    let detained = detention(state, &placement)?;
    // Deadlines that passed where the person was before are recorded with the move.
    let mut events = Vec::new();
    events.extend(first_reception_limit_exceeded(
        state,
        placement.placed_at,
        now,
    ));
    events.extend(lost_to_follow_up(state, placement.placed_at, now));
    events.push(Event::CasePlaced(placement));
    events.extend(detained);
    Ok(events)
}

/// The detention rule, in one place: an unaccompanied minor, or a person
/// presumed a minor, is never placed in detention; a minor or a person with a
/// confirmed category is detained only with a justification from the closed
/// list and the deciding organisation, and the placement's commit records
/// `VulnerablePersonDetained` (indicator 8). Grounds are for detention only.
fn detention(state: &State, placement: &Placement) -> Result<Option<Event>, ScreeningError> {
    if placement.facility_kind != FacilityKind::Detention {
        if placement.detention.is_some() {
            return Err(invalid(
                "detention_justification",
                "is only for a placement in detention",
            ));
        }
        return Ok(None);
    }
    if state.is_unaccompanied_minor() || state.is_presumed_minor() {
        return Err(ScreeningError::MinorInDetention);
    }
    let confirmed: Vec<_> = state
        .categories
        .iter()
        .filter(|(_, status)| **status == CategoryStatus::Confirmed)
        .map(|(category, _)| *category)
        .collect();
    if confirmed.is_empty() && !state.age_band().is_minor() {
        return Ok(None);
    }
    let grounds = placement
        .detention
        .clone()
        .ok_or(ScreeningError::DetentionNeedsJustification)?;
    Ok(Some(Event::VulnerablePersonDetained {
        facility_id: placement.facility_id.clone(),
        categories: confirmed,
        age_band: state.age_band(),
        grounds,
        detained_at: placement.placed_at,
    }))
}

pub(super) fn close(
    state: &State,
    reason: CloseReason,
    closed_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<Vec<Event>, ScreeningError> {
    let arrived_at = open_case(state)?.arrived_at;
    within(closed_at, arrived_at, now, "closed_at")?;
    // An unaccompanied minor who left first reception after the limit: recorded with the closure.
    let mut events: Vec<Event> = first_reception_limit_exceeded(state, closed_at, now)
        .into_iter()
        .collect();
    events.push(Event::CaseClosed { reason, closed_at });
    Ok(events)
}
