//! The assessment of special reception needs (Directive (EU) 2024/1346 Art. 25)
//! and the application date its 30-day deadline runs from.

use time::{Date, OffsetDateTime};

use super::{invalid, open_case, within};
use crate::{Assessment, Event, ScreeningError, State};

pub(super) fn record_assessment(
    state: &State,
    assessment: Assessment,
    now: OffsetDateTime,
) -> Result<Vec<Event>, ScreeningError> {
    let arrived_at = open_case(state)?.arrived_at;
    within(assessment.assessed_at, arrived_at, now, "assessed_at")?;
    if let Some(date) = state.application_date
        && assessment.assessed_at.date() < date
    {
        return Err(invalid("assessed_at", "is before the application date"));
    }
    if assessment.outcomes.is_empty()
        && !assessment.special_reception_needs
        && !assessment.special_procedural_guarantees
    {
        return Err(invalid("outcomes", "an assessment must conclude something"));
    }
    for (i, (category, outcome)) in assessment.outcomes.iter().enumerate() {
        if assessment.outcomes[..i].iter().any(|(c, _)| c == category) {
            return Err(invalid(
                format!("outcomes[{i}].category"),
                "is listed twice",
            ));
        }
        if state.categories.get(category) == Some(&outcome.status()) {
            return Err(ScreeningError::CategoryAlreadyInStatus);
        }
    }
    let reassessment = state.last_assessment_at.is_some();
    // Only the first assessment can be late: a reassessment has no deadline.
    let mut events = Vec::new();
    if let Some(due_at) = state.assessment_due_at()
        && assessment.assessed_at > due_at
        && !reassessment
        && !state.assessment_deadline_missed
    {
        events.push(Event::AssessmentDeadlineMissed {
            due_at,
            detected_at: now,
        });
    }
    events.push(Event::AssessmentRecorded {
        assessment,
        reassessment,
    });
    Ok(events)
}

pub(super) fn record_application(
    state: &State,
    application_date: Date,
    now: OffsetDateTime,
) -> Result<Vec<Event>, ScreeningError> {
    open_case(state)?;
    if state.application_date.is_some() {
        return Err(ScreeningError::ApplicationAlreadyRecorded);
    }
    if application_date > now.date() {
        return Err(invalid("application_date", "is in the future"));
    }
    Ok(vec![Event::ApplicationRecorded { application_date }])
}
