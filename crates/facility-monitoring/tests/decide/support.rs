//! Fixtures (fixed times, never the system clock) and helpers.

pub use std::collections::BTreeMap;

pub use expect_test::expect;
pub use facility_monitoring::scorecard::{GroupBy, compare, score, scorecard};
pub use facility_monitoring::{
    Actor, Command, Context, Event, INDICATORS, RecordError, RecordOf, Score, Scoring, Section,
    State, TrainingSession, TrainingTopic, Visit, VisitRecorded, decide,
};
pub use pathway::Province;
pub use time::macros::{date, datetime};
pub use time::{Date, OffsetDateTime};

pub const NOW: OffsetDateTime = datetime!(2026-06-15 10:00 UTC);
pub const FACILITY: &str = "cas-roma-1";

pub fn prefecture() -> Actor {
    Actor::Prefecture {
        organisation_id: "prefettura-rm".to_owned(),
    }
}

pub fn operator(id: &str) -> Actor {
    Actor::ReceptionOperator {
        organisation_id: id.to_owned(),
    }
}

pub fn facility(id: &str, province: &str) -> RecordOf {
    RecordOf::Facility {
        facility_id: id.to_owned(),
        province: Province::parse(province).expect("province"),
        kind: "cas".to_owned(),
    }
}

pub fn context(actor: Actor, record: RecordOf) -> Context {
    Context {
        now: NOW,
        actor,
        record,
    }
}

/// Every observed indicator scored `score`.
pub fn all_scored(score: Score) -> BTreeMap<String, Score> {
    INDICATORS
        .iter()
        .filter(|i| i.scoring == Scoring::Observed)
        .map(|i| (i.code.to_owned(), score))
        .collect()
}

pub fn visit(id: &str, on: Date, scores: BTreeMap<String, Score>) -> Command {
    Command::RecordVisit(Visit {
        visit_id: id.to_owned(),
        visited_on: on,
        scores,
    })
}

pub fn session(id: &str, topic: TrainingTopic, on: Date) -> TrainingSession {
    TrainingSession {
        session_id: id.to_owned(),
        topic,
        held_on: on,
        participants: 12,
        hours: 4,
    }
}

/// The state after `commands` were accepted, in order, in `context`.
pub fn given(commands: Vec<Command>, context: &Context) -> State {
    commands
        .into_iter()
        .fold(State::default(), |state, command| {
            let events = decide(&state, command, context).expect("given command accepted");
            events.iter().fold(state, State::evolve)
        })
}

pub fn recorded_visit(events: &[Event]) -> &VisitRecorded {
    match events {
        [Event::VisitRecorded(v)] => v,
        other => panic!("expected one VisitRecorded, got {other:?}"),
    }
}
