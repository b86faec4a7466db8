//! Detection (rilevazione): the preliminary vulnerability check at screening
//! (Screening Regulation Art. 12) and the signals raised at any time after.
//! A category a check or signal makes suspected after the first assessment is
//! a need identified later (Directive (EU) 2024/1346 Art. 25: it must still be
//! assessed): it gets an assessment deadline of its own, in the same commit.

use pathway::{Category, CategoryStatus};
use time::OffsetDateTime;

use super::{invalid, open_case, other_need, within};
use crate::{
    Event, PreliminaryCheck, ScreeningError, Signal, State, Suspicion, need_assessment_due_at,
};

pub(super) fn record_preliminary_check(
    state: &State,
    check: PreliminaryCheck,
    now: OffsetDateTime,
) -> Result<Vec<Event>, ScreeningError> {
    let arrived_at = open_case(state)?.arrived_at;
    if state.preliminary_check_at.is_some() {
        return Err(ScreeningError::PreliminaryCheckAlreadyRecorded);
    }
    within(check.checked_at, arrived_at, now, "checked_at")?;
    for (i, suspicion) in check.suspected.iter().enumerate() {
        if check.suspected[..i]
            .iter()
            .any(|s| s.category == suspicion.category)
        {
            return Err(invalid(
                format!("suspected[{i}].category"),
                "is listed twice",
            ));
        }
        other_need(
            suspicion.category,
            suspicion.other_need.as_ref(),
            &format!("suspected[{i}]"),
        )?;
    }
    // A check done after the deadline still records that the deadline was
    // missed, in the same commit: a missed deadline is never silent.
    let mut events = Vec::new();
    if let Some(due_at) = state.screening_due_at()
        && check.checked_at > due_at
        && !state.screening_deadline_missed
    {
        events.push(Event::ScreeningDeadlineMissed {
            due_at,
            detected_at: now,
        });
    }
    let late = late_needs(state, &check.suspected, check.checked_at);
    events.push(Event::PreliminaryCheckRecorded(check));
    events.extend(late);
    Ok(events)
}

pub(super) fn raise_signal(
    state: &State,
    signal: Signal,
    now: OffsetDateTime,
) -> Result<Vec<Event>, ScreeningError> {
    let arrived_at = open_case(state)?.arrived_at;
    within(signal.raised_at, arrived_at, now, "raised_at")?;
    if signal.gbv_disclosure && !is_gender_based(signal.suspected.category) {
        return Err(invalid(
            "suspected.category",
            "a disclosure of gender-based violence needs GBV, FGM, FORCED_MARRIAGE or HATE_VIOLENCE",
        ));
    }
    other_need(
        signal.suspected.category,
        signal.suspected.other_need.as_ref(),
        "suspected",
    )?;
    let late = late_needs(
        state,
        std::slice::from_ref(&signal.suspected),
        signal.raised_at,
    );
    let mut events = vec![Event::VulnerabilitySignalRaised(signal)];
    events.extend(late);
    Ok(events)
}

/// The needs these suspicions identify after the first assessment: the
/// categories they make suspected (new ones, or ruled out before), each with
/// its own assessment deadline from `raised_at`. Before any assessment, a
/// suspicion is part of the assessment the application's deadline governs.
fn late_needs(state: &State, suspected: &[Suspicion], raised_at: OffsetDateTime) -> Vec<Event> {
    if state.last_assessment_at.is_none() {
        return Vec::new();
    }
    suspected
        .iter()
        .filter(|s| {
            matches!(
                state.categories.get(&s.category),
                None | Some(CategoryStatus::RuledOut)
            )
        })
        .map(|s| Event::NeedIdentifiedAfterAssessment {
            category: s.category,
            raised_at,
            due_at: need_assessment_due_at(raised_at),
        })
        .collect()
}

/// The categories a disclosure of gender-based violence may be recorded under.
fn is_gender_based(category: Category) -> bool {
    matches!(
        category,
        Category::Gbv | Category::Fgm | Category::ForcedMarriage | Category::HateViolence
    )
}
