//! `decide` for the screening record: a dispatcher over [`Command`], one
//! function per command in a file per concern, and the checks they share.

mod assessment;
mod deadlines;
mod detection;
mod follow_up;
mod minors;
mod open;
mod personal_data;
mod placement;

use pathway::Category;
use time::OffsetDateTime;

use crate::{Code, Command, Context, Event, OpenCase, ScreeningError, State};

pub use deadlines::missed_deadlines;

/// The single decision function of the screening record.
pub fn decide(
    state: &State,
    command: Command,
    context: &Context,
) -> Result<Vec<Event>, ScreeningError> {
    let now = context.now;
    match command {
        Command::Open(open) => open::open(state, open, now),
        Command::RecordPreliminaryCheck(check) => {
            detection::record_preliminary_check(state, check, now)
        }
        Command::RaiseSignal(signal) => detection::raise_signal(state, signal, now),
        Command::RecordAssessment(assessment) => {
            assessment::record_assessment(state, assessment, now)
        }
        Command::RecordApplication { application_date } => {
            assessment::record_application(state, application_date, now)
        }
        Command::Place(placement) => placement::place(state, placement, now),
        Command::Close { reason, closed_at } => placement::close(state, reason, closed_at, now),
        Command::MarkScreeningDeadlineMissed => deadlines::mark_screening_missed(state, now),
        Command::MarkAssessmentDeadlineMissed => deadlines::mark_assessment_missed(state, now),
        Command::MarkNeedAssessmentDeadlineMissed {
            category,
            raised_at,
        } => deadlines::mark_need_assessment_missed(state, category, raised_at, now),
        Command::RecordFormalIdentification(identification) => {
            assessment::record_formal_identification(state, identification, now)
        }
        Command::ErasePersonalData { reason } => personal_data::erase(state, reason, now),
        Command::RecordIdentityRead { purpose } => {
            personal_data::record_identity_read(state, purpose, now)
        }
        Command::AssessAge(assessment) => minors::assess_age(state, assessment, now),
        Command::AppointGuardian(appointment) => minors::appoint_guardian(state, appointment, now),
        Command::MarkFirstReceptionLimitExceeded => {
            minors::mark_first_reception_limit_exceeded(state, now)
        }
        Command::ScheduleFollowUp(schedule) => follow_up::schedule(state, schedule, now),
        Command::RecordFollowUp(record) => follow_up::record(state, record, now),
        Command::MarkFollowUpMissed { follow_up_id } => {
            follow_up::mark_missed(state, follow_up_id, now)
        }
        Command::MarkLostToFollowUp => follow_up::mark_lost(state, now),
    }
}

/// The opened case, closed or not: erasure and the access log apply to closed
/// cases too.
fn opened(state: &State) -> Result<&OpenCase, ScreeningError> {
    state.opened.as_ref().ok_or(ScreeningError::CaseNotFound)
}

/// The opened case, as long as it is not closed: what every other command needs.
fn open_case(state: &State) -> Result<&OpenCase, ScreeningError> {
    let opened = opened(state)?;
    if state.closed {
        return Err(ScreeningError::CaseClosed);
    }
    Ok(opened)
}

fn invalid(field: impl Into<String>, reason: &'static str) -> ScreeningError {
    ScreeningError::Invalid {
        field: field.into(),
        reason,
    }
}

fn not_after(
    at: OffsetDateTime,
    now: OffsetDateTime,
    field: &'static str,
) -> Result<(), ScreeningError> {
    if at > now {
        return Err(invalid(field, "is in the future"));
    }
    Ok(())
}

/// `OTHER` carries a code saying which need (`<field>.other_need`), and no
/// other category carries one: the vocabulary in force is the edge's to check.
fn other_need(
    category: Category,
    other_need: Option<&Code>,
    field: &str,
) -> Result<(), ScreeningError> {
    match (category == Category::Other, other_need) {
        (true, None) => Err(invalid(
            format!("{field}.other_need"),
            "is required for OTHER: a code of the other_need vocabulary",
        )),
        (false, Some(_)) => Err(invalid(
            format!("{field}.other_need"),
            "only OTHER carries a code of the other_need vocabulary",
        )),
        _ => Ok(()),
    }
}

/// A time the command reports must lie between the arrival and now.
fn within(
    at: OffsetDateTime,
    arrived_at: OffsetDateTime,
    now: OffsetDateTime,
    field: &'static str,
) -> Result<(), ScreeningError> {
    not_after(at, now, field)?;
    if at < arrived_at {
        return Err(invalid(field, "is before the arrival"));
    }
    Ok(())
}
