//! The assessment of special reception needs (Directive (EU) 2024/1346 Art. 25),
//! the application date its 30-day deadline runs from, and the formal
//! identification that follows a presumption (trafficking, by an
//! anti-trafficking body). The assessment is completed when every category
//! suspected before the first assessment is confirmed or ruled out; needs
//! identified after it have deadlines of their own.

use pathway::calendar::date_in_rome;
use pathway::{Category, CategoryStatus};
use time::{Date, OffsetDateTime};

use super::{invalid, open_case, other_need, within};
use crate::{
    Assessment, Event, FormalIdentification, Outcome, ScreeningError, State,
    has_formal_identification,
};

pub(super) fn record_assessment(
    state: &State,
    assessment: Assessment,
    now: OffsetDateTime,
) -> Result<Vec<Event>, ScreeningError> {
    let arrived_at = open_case(state)?.arrived_at;
    within(assessment.assessed_at, arrived_at, now, "assessed_at")?;
    if let Some(date) = state.application_date
        && date_in_rome(assessment.assessed_at) < date
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
        if *category == Category::Other {
            other_need(
                *category,
                assessment.other_need.as_ref(),
                &format!("outcomes[{i}]"),
            )?;
        }
        if state.categories.get(category) == Some(&outcome.status()) {
            return Err(ScreeningError::CategoryAlreadyInStatus);
        }
        if *outcome == Outcome::RuledOut && state.formal_identifications.contains_key(category) {
            return Err(ScreeningError::FormallyIdentified);
        }
    }
    if assessment.other_need.is_some()
        && !assessment
            .outcomes
            .iter()
            .any(|(category, _)| *category == Category::Other)
    {
        return Err(invalid(
            "other_need",
            "only an outcome of OTHER carries a code of the other_need vocabulary",
        ));
    }
    let reassessment = state.last_assessment_at.is_some();
    // A deadline still open when the assessment is done after it is recorded
    // as missed in the same commit: a missed deadline is never silent.
    let mut events = Vec::new();
    if let Some(due_at) = state.assessment_due_at()
        && assessment.assessed_at > due_at
        && !state.assessment_completed()
        && !state.assessment_deadline_missed
    {
        events.push(Event::AssessmentDeadlineMissed {
            due_at,
            detected_at: now,
        });
    }
    for (category, _) in &assessment.outcomes {
        if let Some(need) = state.late_needs.get(category)
            && assessment.assessed_at > need.due_at
            && !need.deadline_missed
        {
            events.push(Event::NeedAssessmentDeadlineMissed {
                category: *category,
                raised_at: need.raised_at,
                due_at: need.due_at,
                detected_at: now,
            });
        }
    }
    let still_to_assess = still_to_assess(state, &assessment);
    events.push(Event::AssessmentRecorded {
        assessment,
        reassessment,
        still_to_assess,
    });
    Ok(events)
}

/// The categories suspected before the first assessment that stay neither
/// confirmed nor ruled out after `assessment` (none once the assessment is completed).
fn still_to_assess(state: &State, assessment: &Assessment) -> Vec<Category> {
    if state.assessment_completed() {
        return Vec::new();
    }
    state
        .categories
        .iter()
        .filter(|(category, status)| {
            **status == CategoryStatus::Suspected
                && !state.late_needs.contains_key(category)
                && !assessment.outcomes.iter().any(|(c, _)| c == *category)
        })
        .map(|(category, _)| *category)
        .collect()
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
    if application_date > date_in_rome(now) {
        return Err(invalid("application_date", "is in the future"));
    }
    Ok(vec![Event::ApplicationRecorded { application_date }])
}

/// A formal identification by the competent body (the service checks that the
/// caller is one) of a category an assessment confirmed (presumed).
pub(super) fn record_formal_identification(
    state: &State,
    identification: FormalIdentification,
    now: OffsetDateTime,
) -> Result<Vec<Event>, ScreeningError> {
    let arrived_at = open_case(state)?.arrived_at;
    within(
        identification.identified_at,
        arrived_at,
        now,
        "identified_at",
    )?;
    let category = identification.category;
    if !has_formal_identification(category) {
        return Err(invalid(
            "category",
            "has no formal identification: only TRAFFICKING, by an anti-trafficking body",
        ));
    }
    if state.formal_identifications.contains_key(&category) {
        return Err(ScreeningError::AlreadyFormallyIdentified);
    }
    if state.categories.get(&category) != Some(&CategoryStatus::Confirmed) {
        return Err(ScreeningError::NotPresumed);
    }
    Ok(vec![Event::FormalIdentificationRecorded(identification)])
}
