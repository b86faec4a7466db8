//! The monitoring record's event contract: domain <-> `approdo.monitoring.v1`.

use std::collections::BTreeMap;

use case_log_jetstream::DecodeError;
use case_log_jetstream::envelope::{from_timestamp, timestamp};
use contracts::log::v1 as log;
use contracts::monitoring::v1 as wire;
use facility_monitoring::{
    Event, Score, TrainingRecorded, TrainingSession, TrainingTopic, VisitRecorded,
};
use pathway::Province;
use time::Date;
use time::format_description::well_known::Iso8601;

case_log_jetstream::event_contract! {
    /// A monitoring event as stored in the log: the one declaration of the
    /// monitoring service's own events.
    pub enum WireEvent: wire, schema 1 {
        VisitRecorded,
        TrainingSessionRecorded,
    }
}

/// `YYYY-MM-DD`.
pub fn parse_date(raw: &str) -> Option<Date> {
    Date::parse(raw, &Iso8601::DATE).ok()
}

pub fn encode(event: &Event) -> WireEvent {
    match event {
        Event::VisitRecorded(v) => WireEvent::VisitRecorded(wire::VisitRecorded {
            visit_id: v.visit_id.clone(),
            checklist_version: v.checklist_version,
            facility_id: v.facility_id.clone(),
            province: v.province.to_string(),
            facility_kind: v.facility_kind.clone(),
            visited_on: v.visited_on.to_string(),
            visited_by: v.visited_by.clone(),
            scores: v
                .scores
                .iter()
                .map(|(indicator, score)| wire::IndicatorScore {
                    indicator: indicator.clone(),
                    score: score.code().to_owned(),
                })
                .collect(),
            recorded_at: Some(timestamp(v.recorded_at)),
        }),
        Event::TrainingSessionRecorded(t) => {
            WireEvent::TrainingSessionRecorded(wire::TrainingSessionRecorded {
                session_id: t.session.session_id.clone(),
                topic: t.session.topic.code().to_owned(),
                held_on: t.session.held_on.to_string(),
                participants: t.session.participants,
                hours: t.session.hours,
                recorded_by: t.recorded_by.clone(),
                recorded_at: Some(timestamp(t.recorded_at)),
            })
        }
    }
}

pub fn decode(event: &log::Event) -> Result<Option<Event>, DecodeError> {
    let bad = |reason: &str| DecodeError::new(event, reason);
    let at = |ts: &Option<prost_types::Timestamp>| {
        ts.as_ref()
            .and_then(from_timestamp)
            .ok_or_else(|| bad("bad time"))
    };
    Ok(Some(match WireEvent::decode(event)? {
        WireEvent::VisitRecorded(v) => {
            let mut scores = BTreeMap::new();
            for s in &v.scores {
                scores.insert(
                    s.indicator.clone(),
                    Score::from_code(&s.score).map_err(|_| bad("bad score"))?,
                );
            }
            Event::VisitRecorded(VisitRecorded {
                visit_id: v.visit_id.clone(),
                checklist_version: v.checklist_version,
                facility_id: v.facility_id.clone(),
                province: Province::parse(&v.province).map_err(|_| bad("bad province"))?,
                facility_kind: v.facility_kind.clone(),
                visited_on: parse_date(&v.visited_on).ok_or_else(|| bad("bad date"))?,
                visited_by: v.visited_by.clone(),
                scores,
                recorded_at: at(&v.recorded_at)?,
            })
        }
        WireEvent::TrainingSessionRecorded(t) => Event::TrainingSessionRecorded(TrainingRecorded {
            session: TrainingSession {
                session_id: t.session_id.clone(),
                topic: TrainingTopic::from_code(&t.topic).map_err(|_| bad("bad topic"))?,
                held_on: parse_date(&t.held_on).ok_or_else(|| bad("bad date"))?,
                participants: t.participants,
                hours: t.hours,
            },
            recorded_by: t.recorded_by.clone(),
            recorded_at: at(&t.recorded_at)?,
        }),
    }))
}
