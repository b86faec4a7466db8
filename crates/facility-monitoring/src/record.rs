//! The monitoring record of a facility or an organisation: its commands,
//! events and state. Decisions are in [`crate::decide`].

use std::collections::BTreeMap;

use pathway::Province;
use time::{Date, OffsetDateTime};

use crate::checklist::Score;
use crate::training::TrainingSession;

/// A monitoring visit as the visiting team scored it: every observed
/// indicator of the checklist (`not_applicable` where it does not apply),
/// never a computed one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    pub visit_id: String,
    pub visited_on: Date,
    pub scores: BTreeMap<String, Score>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    RecordVisit(Visit),
    RecordTrainingSession(TrainingSession),
}

/// A visit as recorded: every indicator of its checklist version scored
/// (the computed ones by the domain), and the facility's province and kind at
/// the visit, so comparisons need nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitRecorded {
    pub visit_id: String,
    pub checklist_version: u32,
    pub facility_id: String,
    pub province: Province,
    pub facility_kind: String,
    pub visited_on: Date,
    pub visited_by: String,
    /// By indicator code, in code order.
    pub scores: BTreeMap<String, Score>,
    pub recorded_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingRecorded {
    pub session: TrainingSession,
    pub recorded_by: String,
    pub recorded_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    VisitRecorded(VisitRecorded),
    TrainingSessionRecorded(TrainingRecorded),
}

/// Everything recorded for one facility or organisation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub visits: Vec<VisitRecorded>,
    pub training: Vec<TrainingRecorded>,
}

impl State {
    pub fn evolve(mut self, event: &Event) -> State {
        match event {
            Event::VisitRecorded(visit) => self.visits.push(visit.clone()),
            Event::TrainingSessionRecorded(session) => self.training.push(session.clone()),
        }
        self
    }

    pub fn sessions(&self) -> impl Iterator<Item = &TrainingSession> {
        self.training.iter().map(|t| &t.session)
    }
}

/// Why a command is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Field -> what is wrong with it (every offending field at once).
    #[error("invalid: {}", .0.iter().map(|(f, w)| format!("{f} {w}")).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<(String, String)>),
    #[error("visits are recorded for facilities only")]
    NotAFacility,
    #[error("this organisation may not record visits")]
    NotAVisitingBody,
    #[error("this organisation may not record this facility's or organisation's training")]
    NotTheirTraining,
    #[error("the visit id is already used for another visit")]
    VisitIdTaken,
    #[error("the session id is already used for another session")]
    SessionIdTaken,
}
