//! The case view's part about minors, detention and follow-up: age band and
//! its assessment, whether the case is a minor's (the domain's one rule), the
//! guardian, the stay in first reception and its 45-day limit, follow-ups and
//! the arrival a transfer expects; and which of these deadlines have passed
//! unmet (candidates for the deadline watcher). Ids, codes and dates only.

use case_log_jetstream::envelope::{from_timestamp, timestamp};
use case_screening::follow_up::follow_up_due_at;
use case_screening::minors::{self, FIRST_RECEPTION_LIMIT_DAYS, is_first_reception};
use case_screening::{FacilityKind, FollowUpOutcome};
use contracts::screening::v1 as wire;
use pathway::{AgeBand, Category, CategoryStatus};
use service_runtime::deadlines::is_due;
use time::OffsetDateTime;

use crate::codec::{WireEvent, parse_date};

/// Where a stay in first reception begins: the day in Rome of `at`.
fn stay_from(at: &Option<prost_types::Timestamp>) -> Option<wire::FirstReceptionStay> {
    let day = pathway::calendar::date_in_rome(at.as_ref().and_then(from_timestamp)?);
    Some(wire::FirstReceptionStay {
        entered_on: day.to_string(),
        limit: Some(wire::Deadline {
            due_at: Some(timestamp(pathway::calendar::limit_ends(
                day,
                FIRST_RECEPTION_LIMIT_DAYS,
            ))),
            ..Default::default()
        }),
    })
}

fn moved(view: &mut wire::CaseView, kind: &str, at: &Option<prost_types::Timestamp>) {
    let first_reception = FacilityKind::from_code(kind).is_ok_and(is_first_reception);
    if !first_reception {
        view.first_reception = None;
    } else if view.first_reception.is_none() {
        view.first_reception = stay_from(at);
    }
}

fn missed(deadline: &mut Option<wire::Deadline>) {
    if let Some(deadline) = deadline.as_mut() {
        deadline.missed = true;
        deadline.overdue = deadline.met_at.is_none();
    }
}

fn met(deadline: &mut Option<wire::Deadline>, at: Option<prost_types::Timestamp>) {
    if let Some(deadline) = deadline.as_mut()
        && deadline.met_at.is_none()
    {
        deadline.met_at = at;
        deadline.overdue = false;
    }
}

/// Applies one event to the view's part about minors, detention and follow-up.
pub fn apply(view: &mut wire::CaseView, event: &WireEvent) {
    match event {
        WireEvent::CaseOpened(e) => {
            view.age_band = if e.age_band.is_empty() {
                AgeBand::Unknown.code().to_owned()
            } else {
                e.age_band.clone()
            };
            view.sex = if e.sex.is_empty() {
                pathway::Sex::Unknown.code().to_owned()
            } else {
                e.sex.clone()
            };
            let arrived_at = e.arrival.as_ref().and_then(|a| a.arrived_at);
            moved(view, &e.facility_kind, &arrived_at);
        }
        WireEvent::CasePlaced(e) => {
            moved(view, &e.facility_kind, &e.placed_at);
            view.expected_arrival = e.arrival_due_at.map(|due_at| wire::ExpectedArrival {
                facility_id: e.facility_id.clone(),
                placed_at: e.placed_at,
                deadline: Some(wire::Deadline {
                    due_at: Some(due_at),
                    ..Default::default()
                }),
            });
        }
        WireEvent::AgeAssessed(e) => {
            view.age_band = e.age_band.clone();
            view.age_assessment = Some(e.clone());
        }
        WireEvent::GuardianAppointed(e) => view.guardian = Some(e.clone()),
        WireEvent::VulnerablePersonDetained(_) => view.vulnerable_detentions += 1,
        WireEvent::FirstReceptionLimitExceeded(_) => {
            if let Some(stay) = view.first_reception.as_mut() {
                missed(&mut stay.limit);
            }
        }
        WireEvent::FollowUpScheduled(e) => view.follow_ups.push(wire::FollowUpView {
            follow_up_id: e.follow_up_id.clone(),
            due_on: e.due_on.clone(),
            purpose: e.purpose.clone(),
            deadline: Some(wire::Deadline {
                due_at: parse_date(&e.due_on)
                    .ok()
                    .map(|day| timestamp(follow_up_due_at(day))),
                ..Default::default()
            }),
            outcome: String::new(),
        }),
        WireEvent::FollowUpRecorded(e) => {
            if let Some(follow_up) = view
                .follow_ups
                .iter_mut()
                .find(|f| !e.follow_up_id.is_empty() && f.follow_up_id == e.follow_up_id)
            {
                met(&mut follow_up.deadline, e.at);
                follow_up.outcome = e.outcome.clone();
            }
            let found = e.outcome == FollowUpOutcome::Found.code();
            if let Some(arrival) = view.expected_arrival.as_mut()
                && found
                && time_of(&e.at) >= time_of(&arrival.placed_at)
            {
                met(&mut arrival.deadline, e.at);
            }
        }
        WireEvent::FollowUpMissed(e) => {
            if let Some(follow_up) = view
                .follow_ups
                .iter_mut()
                .find(|f| f.follow_up_id == e.follow_up_id)
            {
                missed(&mut follow_up.deadline);
            }
        }
        WireEvent::LostToFollowUp(_) => {
            if let Some(arrival) = view.expected_arrival.as_mut() {
                missed(&mut arrival.deadline);
            }
        }
        _ => {}
    }
}

fn time_of(at: &Option<prost_types::Timestamp>) -> Option<OffsetDateTime> {
    at.as_ref().and_then(from_timestamp)
}

/// Sets whether the case is a minor's, by the domain's one rule, from the
/// view's age band, its assessment and categories (after each commit).
pub fn refresh(view: &mut wire::CaseView) {
    let band = AgeBand::from_code(&view.age_band).unwrap_or(AgeBand::Unknown);
    let status_of = |category: Category| {
        view.categories
            .iter()
            .find(|c| c.category == category.code())
            .and_then(|c| CategoryStatus::from_code(&c.status).ok())
    };
    let assessed = view.age_assessment.is_some();
    view.minor = minors::is_minor(band, assessed, status_of);
    view.unaccompanied_minor = minors::is_unaccompanied_minor(band, assessed, status_of);
}

/// Whether a deadline of minors or follow-up passed unmet at `now`: the
/// 45-day limit of an unaccompanied minor, a follow-up, an awaited arrival.
pub fn deadline_passed(view: &wire::CaseView, now: OffsetDateTime) -> bool {
    let passed = |deadline: &Option<wire::Deadline>| {
        deadline
            .as_ref()
            .is_some_and(|d| !d.missed && d.met_at.is_none() && is_due(d.due_at.as_ref(), now))
    };
    let limit = view.unaccompanied_minor
        && view
            .first_reception
            .as_ref()
            .is_some_and(|stay| passed(&stay.limit));
    limit
        || view.follow_ups.iter().any(|f| passed(&f.deadline))
        || view
            .expected_arrival
            .as_ref()
            .is_some_and(|a| passed(&a.deadline))
}
