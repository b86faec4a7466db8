//! The screening projection: one `CaseView` per case (ids, codes and dates; no
//! identity), kept in sled from the screening events of the case log.

use case_log_jetstream::RecordedCommit;
use case_log_jetstream::envelope::{from_timestamp, timestamp};
use contracts::screening::v1 as wire;
use pathway::Urgency;
use projection_sled::{ApplyError, Consumes, Projection, ProjectionStore, Rows, StoreError};
use prost::Message;

use case_log_jetstream::{Producer, RootKind};
use case_screening::CaseStatus;
use pathway::CategoryStatus;

use crate::codec::WireEvent;

/// Table of case views, keyed by case id.
pub const CASES: &str = "screening.case";

pub struct ScreeningProjection;

impl Projection for ScreeningProjection {
    fn name(&self) -> &'static str {
        "screening"
    }

    fn producer(&self) -> Option<Producer> {
        Some(Producer::Screening)
    }

    /// Its own case subjects, and its vocabularies.
    fn consumes(&self) -> Consumes {
        let mut subjects =
            case_log_jetstream::producer_subjects(RootKind::Case, Producer::Screening).to_vec();
        subjects.push(format!(
            "approdo.configuration.{}.screening",
            service_runtime::vocabularies::AGGREGATE_ID
        ));
        Consumes::Subjects(subjects)
    }

    fn apply(&self, rows: &mut Rows<'_>, commit: &RecordedCommit) -> Result<(), ApplyError> {
        if service_runtime::vocabularies::apply(rows, commit, Producer::Screening)? {
            return Ok(());
        }
        let Some((RootKind::Case, case_id, Producer::Screening)) = commit.aggregate() else {
            return Ok(());
        };
        let case_id = case_id.as_bytes();
        let mut view = match rows.get(CASES, case_id)? {
            Some(bytes) => wire::CaseView::decode(bytes.as_slice()).map_err(|e| {
                ApplyError::Inconsistent(format!("stored case view cannot be decoded: {e}"))
            })?,
            None => wire::CaseView::default(),
        };
        let (organisation_id, role) = commit.author();
        let who = |status: &str, at| wire::CategoryStatusChange {
            status: status.to_owned(),
            at,
            organisation_id: organisation_id.clone(),
            role: role.clone(),
            log_sequence: commit.sequence,
        };
        for event in &commit.commit.events {
            let decoded = WireEvent::decode(event).map_err(|e| ApplyError::Decode {
                event_type: e.event_type,
                reason: e.reason,
            })?;
            crate::protection_view::apply(&mut view, &decoded);
            apply_event(&mut view, decoded, &who);
        }
        crate::protection_view::refresh(&mut view);
        view.last_log_sequence = commit.sequence;
        rows.put(CASES, case_id, &view.encode_to_vec())?;
        Ok(())
    }
}

fn apply_event(
    view: &mut wire::CaseView,
    event: WireEvent,
    who: &dyn Fn(&str, Option<prost_types::Timestamp>) -> wire::CategoryStatusChange,
) {
    match event {
        WireEvent::CaseOpened(e) => {
            let arrived_at = e.arrival.as_ref().and_then(|a| a.arrived_at);
            view.case_id = e.case_id;
            view.province = e.province;
            view.facility_id = e.facility_id;
            view.facility_kind = String::new();
            view.arrival = e.arrival;
            view.application_date = e.application_date.clone();
            view.family_links = e.family_links;
            view.status = CaseStatus::Open.code().to_owned();
            view.opened_at = arrived_at;
            view.screening_deadline = Some(wire::Deadline {
                due_at: arrived_at
                    .as_ref()
                    .and_then(from_timestamp)
                    .map(|t| timestamp(t + case_screening::SCREENING_DEADLINE)),
                ..Default::default()
            });
            view.assessment_deadline = assessment_deadline(&e.application_date);
        }
        WireEvent::PreliminaryCheckRecorded(e) => {
            for suspected in &e.suspected {
                suspect(
                    view,
                    &suspected.category,
                    who(CategoryStatus::Suspected.code(), e.checked_at),
                );
            }
            view.urgent_care_needed |= e.urgent_care_needed;
            raise_urgency(view, &e.urgency);
            if let Some(deadline) = view.screening_deadline.as_mut() {
                deadline.met_at = e.checked_at;
                deadline.overdue = false;
            }
        }
        WireEvent::VulnerabilitySignalRaised(e) => {
            if let Some(suspected) = &e.suspected {
                suspect(
                    view,
                    &suspected.category,
                    who(CategoryStatus::Suspected.code(), e.raised_at),
                );
            }
            raise_urgency(view, &e.urgency);
            view.signals += 1;
            if e.gbv_disclosure {
                view.gbv_disclosures += 1;
            }
        }
        WireEvent::AssessmentRecorded(e) => {
            for outcome in &e.outcomes {
                set_status(view, &outcome.category, who(&outcome.status, e.assessed_at));
            }
            view.special_reception_needs = e.special_reception_needs;
            view.special_procedural_guarantees = e.special_procedural_guarantees;
            if let Some(deadline) = view.assessment_deadline.as_mut()
                && deadline.met_at.is_none()
            {
                deadline.met_at = e.assessed_at;
                deadline.overdue = false;
            }
        }
        WireEvent::ApplicationRecorded(e) => {
            view.assessment_deadline = assessment_deadline(&e.application_date);
            view.application_date = e.application_date;
        }
        WireEvent::CasePlaced(e) => {
            view.facility_id = e.facility_id;
            view.province = e.province;
            view.facility_kind = e.facility_kind;
        }
        WireEvent::CaseClosed(e) => {
            view.status = CaseStatus::Closed.code().to_owned();
            view.close_reason = e.reason;
        }
        WireEvent::ScreeningDeadlineMissed(_) => {
            if let Some(deadline) = view.screening_deadline.as_mut() {
                deadline.missed = true;
                deadline.overdue = deadline.met_at.is_none();
            }
        }
        WireEvent::PersonalDataErased(_) => view.personal_data_erased = true,
        // On facility subjects only; the registry is read from the log.
        WireEvent::FacilityRegistered(_) => {}
        WireEvent::IdentityRead(_) => {}
        WireEvent::AssessmentDeadlineMissed(_) => {
            if let Some(deadline) = view.assessment_deadline.as_mut() {
                deadline.missed = true;
                deadline.overdue = deadline.met_at.is_none();
            }
        }
        // Minors, detention and follow-up: `protection_view`.
        WireEvent::AgeAssessed(_)
        | WireEvent::GuardianAppointed(_)
        | WireEvent::VulnerablePersonDetained(_)
        | WireEvent::FirstReceptionLimitExceeded(_)
        | WireEvent::FollowUpScheduled(_)
        | WireEvent::FollowUpRecorded(_)
        | WireEvent::FollowUpMissed(_)
        | WireEvent::LostToFollowUp(_) => {}
    }
}

fn assessment_deadline(application_date: &str) -> Option<wire::Deadline> {
    let date = crate::codec::parse_date(application_date).ok()?;
    let start = date.with_time(time::Time::MIDNIGHT).assume_utc();
    Some(wire::Deadline {
        due_at: Some(timestamp(start + case_screening::ASSESSMENT_DEADLINE)),
        ..Default::default()
    })
}

fn category_mut<'a>(view: &'a mut wire::CaseView, category: &str) -> &'a mut wire::CategoryState {
    let index = match view.categories.iter().position(|c| c.category == category) {
        Some(index) => index,
        None => {
            view.categories.push(wire::CategoryState {
                category: category.to_owned(),
                ..Default::default()
            });
            view.categories.sort_by(|a, b| a.category.cmp(&b.category));
            view.categories
                .iter()
                .position(|c| c.category == category)
                .unwrap_or_default()
        }
    };
    &mut view.categories[index]
}

/// Same rule as the domain: new or ruled-out categories become suspected; confirmed stay.
fn suspect(view: &mut wire::CaseView, category: &str, change: wire::CategoryStatusChange) {
    let state = category_mut(view, category);
    if state.status.is_empty() || state.status == CategoryStatus::RuledOut.code() {
        state.status = change.status.clone();
        state.history.push(change);
    }
}

fn set_status(view: &mut wire::CaseView, category: &str, change: wire::CategoryStatusChange) {
    let state = category_mut(view, category);
    state.status = change.status.clone();
    state.history.push(change);
}

/// Keeps the most urgent urgency seen.
fn raise_urgency(view: &mut wire::CaseView, urgency: &str) {
    let Ok(new) = Urgency::from_code(urgency) else {
        return;
    };
    match Urgency::from_code(&view.current_urgency) {
        Ok(current) if current <= new => {}
        _ => view.current_urgency = new.code().to_owned(),
    }
}

/// Reads one case view; a view that does not decode is an error, never "not found".
pub fn case(store: &ProjectionStore, case_id: &str) -> Result<Option<wire::CaseView>, StoreError> {
    store.get_decoded(CASES, case_id.as_bytes(), |b| wire::CaseView::decode(b))
}

/// Reads every case view; one that does not decode fails the read.
pub fn all_cases(store: &ProjectionStore) -> Result<Vec<wire::CaseView>, StoreError> {
    store.scan_decoded(CASES, b"", |b| wire::CaseView::decode(b))
}
