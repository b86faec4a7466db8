//! The screening, assessment and need-assessment deadlines, as the deadline
//! watcher marks them when they pass unmet.

use pathway::Category;
use time::OffsetDateTime;

use super::open_case;
use crate::{Command, Context, Event, ScreeningError, State, decide};

pub(super) fn mark_screening_missed(
    state: &State,
    now: OffsetDateTime,
) -> Result<Vec<Event>, ScreeningError> {
    open_case(state)?;
    match state.screening_due_at() {
        Some(due_at)
            if due_at <= now
                && state.preliminary_check_at.is_none()
                && !state.screening_deadline_missed =>
        {
            Ok(vec![Event::ScreeningDeadlineMissed {
                due_at,
                detected_at: now,
            }])
        }
        _ => Err(ScreeningError::DeadlineNotMissed),
    }
}

pub(super) fn mark_assessment_missed(
    state: &State,
    now: OffsetDateTime,
) -> Result<Vec<Event>, ScreeningError> {
    open_case(state)?;
    match state.assessment_due_at() {
        Some(due_at)
            if due_at <= now
                && !state.assessment_completed()
                && !state.assessment_deadline_missed =>
        {
            Ok(vec![Event::AssessmentDeadlineMissed {
                due_at,
                detected_at: now,
            }])
        }
        _ => Err(ScreeningError::DeadlineNotMissed),
    }
}

/// The need of `category` raised at `raised_at` (and no other raise of it) is
/// still not assessed at its due time.
pub(super) fn mark_need_assessment_missed(
    state: &State,
    category: Category,
    raised_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<Vec<Event>, ScreeningError> {
    open_case(state)?;
    match state.late_needs.get(&category) {
        Some(need)
            if need.raised_at == raised_at && need.due_at <= now && !need.deadline_missed =>
        {
            Ok(vec![Event::NeedAssessmentDeadlineMissed {
                category,
                raised_at,
                due_at: need.due_at,
                detected_at: now,
            }])
        }
        _ => Err(ScreeningError::DeadlineNotMissed),
    }
}

/// The deadline commands that are due now: what the watcher must try.
pub fn missed_deadlines(state: &State, now: OffsetDateTime) -> Vec<Command> {
    // Asking `decide` keeps one definition of "due" for the watcher and the command.
    let context = Context { now };
    let needs =
        state.late_needs.iter().map(
            |(category, need)| Command::MarkNeedAssessmentDeadlineMissed {
                category: *category,
                raised_at: need.raised_at,
            },
        );
    [
        Command::MarkScreeningDeadlineMissed,
        Command::MarkAssessmentDeadlineMissed,
    ]
    .into_iter()
    .chain(needs)
    // Minors and follow-up: the 45-day limit, each follow-up, the arrival after a transfer.
    .chain([
        Command::MarkFirstReceptionLimitExceeded,
        Command::MarkLostToFollowUp,
    ])
    .chain(
        state
            .follow_ups
            .open()
            .map(|(id, _)| Command::MarkFollowUpMissed {
                follow_up_id: id.clone(),
            }),
    )
    .filter(|command| decide(state, command.clone(), &context).is_ok())
    .collect()
}
