//! Where the person is: placements in reception (D.Lgs. 142/2015) and the
//! closing of the case.

use time::OffsetDateTime;

use super::{open_case, within};
use crate::{CloseReason, Event, Placement, ScreeningError, State};

pub(super) fn place(
    state: &State,
    placement: Placement,
    now: OffsetDateTime,
) -> Result<Vec<Event>, ScreeningError> {
    let opened = open_case(state)?;
    within(placement.placed_at, opened.arrived_at, now, "placed_at")?;
    // Before any placement the person is where the case was opened.
    let current = state
        .placement
        .as_ref()
        .map_or(&opened.facility_id, |p| &p.facility_id);
    if *current == placement.facility_id {
        return Err(ScreeningError::AlreadyPlacedThere);
    }
    Ok(vec![Event::CasePlaced(placement)])
}

pub(super) fn close(
    state: &State,
    reason: CloseReason,
    closed_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<Vec<Event>, ScreeningError> {
    let arrived_at = open_case(state)?.arrived_at;
    within(closed_at, arrived_at, now, "closed_at")?;
    Ok(vec![Event::CaseClosed { reason, closed_at }])
}
