//! Detection (rilevazione): the preliminary vulnerability check at screening
//! (Screening Regulation Art. 12) and the signals raised at any time after.

use pathway::Category;
use time::OffsetDateTime;

use super::{invalid, open_case, within};
use crate::{Event, PreliminaryCheck, ScreeningError, Signal, State};

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
    events.push(Event::PreliminaryCheckRecorded(check));
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
    Ok(vec![Event::VulnerabilitySignalRaised(signal)])
}

/// The categories a disclosure of gender-based violence may be recorded under.
fn is_gender_based(category: Category) -> bool {
    matches!(
        category,
        Category::Gbv | Category::Fgm | Category::ForcedMarriage | Category::HateViolence
    )
}
