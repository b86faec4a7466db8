//! Validation of `FacilityMonitoringService` requests: every offending field
//! at once, the checklist's own rules included (`facility_monitoring::decide::visit_faults`).

use std::collections::BTreeMap;

use contracts::monitoring::v1 as api;
use facility_monitoring::decide::{session_faults, visit_faults};
use facility_monitoring::{Score, TrainingSession, TrainingTopic, Visit};
use pathway::is_id_token;
use service_runtime::{ServiceError, Violations};
use time::Date;

use super::codec::parse_date;

/// Whose training record a session goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrainingOf {
    Facility(String),
    Organisation(String),
}

fn id(v: &mut Violations, field: &str, raw: &str) -> String {
    if !is_id_token(raw) {
        v.add(field, "must be 1 to 64 characters of [a-z0-9-]");
    }
    raw.to_owned()
}

fn date(v: &mut Violations, field: &str, raw: &str) -> Option<Date> {
    let parsed = parse_date(raw);
    if parsed.is_none() {
        v.add(field, "must be a date YYYY-MM-DD");
    }
    parsed
}

/// A visit: `(request_id, facility_id, visit)`; `today` in Rome.
pub fn visit(
    r: &api::RecordVisitRequest,
    today: Date,
) -> Result<(String, String, Visit), ServiceError> {
    let mut v = Violations::default();
    let request_id = v.request_id(&r.request_id);
    let facility_id = id(&mut v, "facility_id", &r.facility_id);
    let visit_id = id(&mut v, "visit_id", &r.visit_id);
    let visited_on = date(&mut v, "visited_on", &r.visited_on);
    let mut scores = BTreeMap::new();
    // Indicators given with a score that is not one: named once, by position.
    let mut badly_scored = Vec::new();
    for (n, s) in r.scores.iter().enumerate() {
        match Score::from_code(&s.score) {
            Ok(score) => {
                if scores.insert(s.indicator.clone(), score).is_some() {
                    v.add(format!("scores[{n}].indicator"), "is scored twice");
                }
            }
            Err(_) => {
                badly_scored.push(format!("scores.{}", s.indicator));
                v.add(
                    format!("scores[{n}].score"),
                    "must be met, partially_met, not_met or not_applicable",
                );
            }
        }
    }
    let visit = Visit {
        visit_id,
        visited_on: visited_on.unwrap_or(today),
        scores,
    };
    for (field, reason) in visit_faults(&visit, today) {
        // A day that does not parse, or an indicator badly scored, is already named.
        if (field != "visited_on" || visited_on.is_some()) && !badly_scored.contains(&field) {
            v.add(field, reason);
        }
    }
    v.finish()?;
    Ok((request_id, facility_id, visit))
}

/// A training session: `(request_id, whose, session)`.
pub fn session(
    r: &api::RecordTrainingSessionRequest,
    today: Date,
) -> Result<(String, TrainingOf, TrainingSession), ServiceError> {
    use api::record_training_session_request::Of;
    let mut v = Violations::default();
    let request_id = v.request_id(&r.request_id);
    let of = match &r.of {
        Some(Of::FacilityId(raw)) => Some(TrainingOf::Facility(id(&mut v, "facility_id", raw))),
        Some(Of::OrganisationId(raw)) => {
            Some(TrainingOf::Organisation(id(&mut v, "organisation_id", raw)))
        }
        None => {
            v.add("of", "must name a facility_id or an organisation_id");
            None
        }
    };
    let session_id = id(&mut v, "session_id", &r.session_id);
    let topic = v.check("topic", TrainingTopic::from_code(&r.topic));
    let held_on = date(&mut v, "held_on", &r.held_on);
    let session = TrainingSession {
        session_id,
        topic: topic.unwrap_or(TrainingTopic::Gbv),
        held_on: held_on.unwrap_or(today),
        participants: r.participants,
        hours: r.hours,
    };
    for (field, reason) in session_faults(&session, today) {
        if field != "held_on" || held_on.is_some() {
            v.add(field, reason);
        }
    }
    v.finish()?;
    let Some(of) = of else {
        return Err(ServiceError::validated_without_fields());
    };
    Ok((request_id, of, session))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn a_visit_names_every_offending_field_and_never_a_value() {
        let request = api::RecordVisitRequest {
            request_id: "r 1".to_owned(),
            facility_id: "CAS Roma".to_owned(),
            visit_id: String::new(),
            visited_on: "yesterday".to_owned(),
            scores: vec![api::IndicatorScore {
                indicator: "food.meals".to_owned(),
                score: "great".to_owned(),
            }],
        };
        let Err(ServiceError::InvalidArgument(violations)) = visit(&request, date!(2026 - 06 - 01))
        else {
            panic!("refused");
        };
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        for expected in [
            "request_id",
            "facility_id",
            "visit_id",
            "visited_on",
            "scores[0].score",
            "scores.housing.living_space",
        ] {
            assert!(fields.contains(&expected), "{expected} in {fields:?}");
        }
        assert!(
            !fields.contains(&"scores.food.meals"),
            "a badly scored indicator is named once, by position: {fields:?}"
        );
        let text = format!("{violations:?}");
        assert!(
            !text.contains("CAS Roma") && !text.contains("yesterday") && !text.contains("great")
        );
    }

    #[test]
    fn a_session_needs_whose_it_is() {
        let request = api::RecordTrainingSessionRequest {
            request_id: "r1".to_owned(),
            of: None,
            session_id: "s1".to_owned(),
            topic: "knitting".to_owned(),
            held_on: "2026-05-01".to_owned(),
            participants: 0,
            hours: 2,
        };
        let Err(ServiceError::InvalidArgument(violations)) =
            session(&request, date!(2026 - 06 - 01))
        else {
            panic!("refused");
        };
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["of", "topic", "participants"]);
    }
}
