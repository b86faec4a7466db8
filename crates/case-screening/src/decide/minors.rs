//! Minors: the age assessed by the competent authority, the guardian (tutore)
//! appointed for a minor, and the 45-day limit of an unaccompanied minor's
//! stay in first reception, which the deadline watcher marks once per stay.

use pathway::AgeBand;
use time::OffsetDateTime;

use super::{invalid, open_case, within};
use crate::{AgeAssessment, Event, GuardianAppointment, ScreeningError, State};

pub(super) fn assess_age(
    state: &State,
    assessment: AgeAssessment,
    now: OffsetDateTime,
) -> Result<Vec<Event>, ScreeningError> {
    let arrived_at = open_case(state)?.arrived_at;
    within(assessment.assessed_at, arrived_at, now, "assessed_at")?;
    if assessment.age_band == AgeBand::Unknown {
        return Err(invalid("age_band", "an age assessment concludes on a band"));
    }
    Ok(vec![Event::AgeAssessed(assessment)])
}

pub(super) fn appoint_guardian(
    state: &State,
    appointment: GuardianAppointment,
    now: OffsetDateTime,
) -> Result<Vec<Event>, ScreeningError> {
    let arrived_at = open_case(state)?.arrived_at;
    within(appointment.appointed_at, arrived_at, now, "appointed_at")?;
    if !state.is_minor() {
        return Err(ScreeningError::NotAMinor);
    }
    Ok(vec![Event::GuardianAppointed(appointment)])
}

pub(super) fn mark_first_reception_limit_exceeded(
    state: &State,
    now: OffsetDateTime,
) -> Result<Vec<Event>, ScreeningError> {
    open_case(state)?;
    first_reception_limit_exceeded(state, now, now)
        .map(|event| vec![event])
        .ok_or(ScreeningError::DeadlineNotMissed)
}

/// The 45-day rule: an unaccompanied minor (or presumed one) still in first
/// reception at `at`, when the current stay's limit has ended by then and was
/// not recorded yet. A placement or closure done after the limit records it in
/// its own commit (`at` is then the time the person left).
pub(super) fn first_reception_limit_exceeded(
    state: &State,
    at: OffsetDateTime,
    now: OffsetDateTime,
) -> Option<Event> {
    let stay = &state.minor.first_reception;
    let due_at = stay.limit_ends_at()?;
    if stay.limit_recorded || due_at > at || !state.is_unaccompanied_minor() {
        return None;
    }
    Some(Event::FirstReceptionLimitExceeded {
        facility_id: stay.facility_id.clone()?,
        entered_on: stay.entered_on?,
        due_at,
        detected_at: now,
    })
}
