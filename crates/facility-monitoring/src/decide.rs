//! The one place of each rule of the monitoring record.

use std::collections::BTreeMap;

use pathway::calendar::date_in_rome;

use crate::checklist::{CHECKLIST_VERSION, INDICATORS, Score, Scoring};
use crate::record::{Command, Event, RecordError, State, TrainingRecorded, Visit, VisitRecorded};
use crate::training::{TrainingSession, topics_coverage_score, topics_covered};
use crate::{Actor, Context, RecordOf};

/// Most participants a session may count (a larger number is a typing error).
pub const MAX_PARTICIPANTS: u32 = 1_000;
/// Longest session, in hours.
pub const MAX_HOURS: u32 = 200;

pub fn decide(
    state: &State,
    command: Command,
    context: &Context,
) -> Result<Vec<Event>, RecordError> {
    match command {
        Command::RecordVisit(visit) => record_visit(state, visit, context),
        Command::RecordTrainingSession(session) => record_training(state, session, context),
    }
}

/// A visit by a prefecture (of the facility's province: the service's
/// jurisdiction) or a national body, to a registered facility, on a day not
/// in the future, with every observed indicator scored and nothing else.
/// The staff-training coverage is computed from the facility's sessions up to
/// the visit's day. The same visit id again with the same content is the same
/// visit (nothing new); with other content it is refused.
fn record_visit(state: &State, visit: Visit, context: &Context) -> Result<Vec<Event>, RecordError> {
    let RecordOf::Facility {
        facility_id,
        province,
        kind,
    } = &context.record
    else {
        return Err(RecordError::NotAFacility);
    };
    if !matches!(
        context.actor,
        Actor::Prefecture { .. } | Actor::Administrator { .. }
    ) {
        return Err(RecordError::NotAVisitingBody);
    }
    let invalid = visit_faults(&visit, date_in_rome(context.now));
    if !invalid.is_empty() {
        return Err(RecordError::Invalid(invalid));
    }
    let mut scores: BTreeMap<String, Score> = visit.scores;
    let covered = topics_covered(state.sessions(), visit.visited_on);
    for indicator in INDICATORS.iter() {
        if indicator.scoring == Scoring::TrainingCoverage {
            scores.insert(indicator.code.to_owned(), topics_coverage_score(&covered));
        }
    }
    if let Some(earlier) = state.visits.iter().find(|v| v.visit_id == visit.visit_id) {
        return if earlier.visited_on == visit.visited_on && earlier.scores == scores {
            Ok(Vec::new())
        } else {
            Err(RecordError::VisitIdTaken)
        };
    }
    Ok(vec![Event::VisitRecorded(VisitRecorded {
        visit_id: visit.visit_id,
        checklist_version: CHECKLIST_VERSION,
        facility_id: facility_id.clone(),
        province: province.clone(),
        facility_kind: kind.clone(),
        visited_on: visit.visited_on,
        visited_by: context.actor.organisation_id().to_owned(),
        scores,
        recorded_at: context.now,
    })])
}

/// A session recorded by the facility's own operator or the organisation
/// itself, a prefecture (its province: the service's jurisdiction) or a
/// national body; held on a day not in the future, with 1 to
/// [`MAX_PARTICIPANTS`] participants and 1 to [`MAX_HOURS`] hours.
fn record_training(
    state: &State,
    session: TrainingSession,
    context: &Context,
) -> Result<Vec<Event>, RecordError> {
    let own = match &context.record {
        RecordOf::Facility { facility_id, .. } => facility_id,
        RecordOf::Organisation { organisation_id } => organisation_id,
    };
    let allowed = match &context.actor {
        Actor::Prefecture { .. } | Actor::Administrator { .. } => true,
        Actor::ReceptionOperator { organisation_id }
        | Actor::ReceivingService { organisation_id } => organisation_id == own,
    };
    if !allowed {
        return Err(RecordError::NotTheirTraining);
    }
    let invalid = session_faults(&session, date_in_rome(context.now));
    if !invalid.is_empty() {
        return Err(RecordError::Invalid(invalid));
    }
    if let Some(earlier) = state
        .training
        .iter()
        .find(|t| t.session.session_id == session.session_id)
    {
        return if earlier.session == session {
            Ok(Vec::new())
        } else {
            Err(RecordError::SessionIdTaken)
        };
    }
    Ok(vec![Event::TrainingSessionRecorded(TrainingRecorded {
        session,
        recorded_by: context.actor.organisation_id().to_owned(),
        recorded_at: context.now,
    })])
}

/// What is wrong with a visit's content, field by field (every fault at
/// once): a day after `today`, an unknown indicator, a computed one scored,
/// an observed one missing. The API asks it too, to name every field.
pub fn visit_faults(visit: &Visit, today: time::Date) -> Vec<(String, String)> {
    let mut invalid = Vec::new();
    if visit.visited_on > today {
        invalid.push(("visited_on".to_owned(), "is in the future".to_owned()));
    }
    for code in visit.scores.keys() {
        match INDICATORS.iter().find(|i| i.code == code.as_str()) {
            None => invalid.push((
                format!("scores.{code}"),
                format!("is not an indicator of checklist version {CHECKLIST_VERSION}"),
            )),
            Some(i) if i.scoring != Scoring::Observed => invalid.push((
                format!("scores.{code}"),
                "is computed from the facility's records, not scored by visitors".to_owned(),
            )),
            Some(_) => {}
        }
    }
    for indicator in INDICATORS.iter().filter(|i| i.scoring == Scoring::Observed) {
        if !visit.scores.contains_key(indicator.code) {
            invalid.push((
                format!("scores.{}", indicator.code),
                "is missing (score it not_applicable if it does not apply)".to_owned(),
            ));
        }
    }
    invalid
}

/// What is wrong with a training session's content, field by field.
pub fn session_faults(session: &TrainingSession, today: time::Date) -> Vec<(String, String)> {
    let mut invalid = Vec::new();
    if session.held_on > today {
        invalid.push(("held_on".to_owned(), "is in the future".to_owned()));
    }
    if !(1..=MAX_PARTICIPANTS).contains(&session.participants) {
        invalid.push((
            "participants".to_owned(),
            format!("must be 1 to {MAX_PARTICIPANTS}"),
        ));
    }
    if !(1..=MAX_HOURS).contains(&session.hours) {
        invalid.push(("hours".to_owned(), format!("must be 1 to {MAX_HOURS}")));
    }
    invalid
}
