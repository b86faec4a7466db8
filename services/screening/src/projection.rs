//! The screening projection: one `CaseView` per case (ids, codes and dates; no
//! identity), kept in sled from the screening events of the case log.

use case_log_jetstream::RecordedCommit;
use case_log_jetstream::envelope::timestamp;
use contracts::screening::v1 as wire;
use pathway::{CaseUrgency, Category, Urgency};
use projection_sled::{ApplyError, Consumes, Projection, ProjectionStore, Rows, StoreError};
use prost::Message;

use case_log_jetstream::{Producer, RootKind};
use case_screening::{CaseStatus, Identification};
use pathway::CategoryStatus;

use crate::codec::WireEvent;

/// Table of case views, keyed by case id.
pub const CASES: &str = "screening.case";

/// Cases whose safe-space record holds an arrival screening has not placed
/// yet (`safe_space_arrivals`), keyed by case id: the watcher's candidates.
const ARRIVALS: &str = "screening.safe_space_arrival";

pub struct ScreeningProjection;

impl Projection for ScreeningProjection {
    fn name(&self) -> &'static str {
        "screening"
    }

    fn producer(&self) -> Option<Producer> {
        Some(Producer::Screening)
    }

    /// 2: the pathway's issue (age band, minority presumed until assessed,
    /// deadlines in Rome days, follow-ups, current urgency). 3: the safe-space arrivals to place (issue 12).
    /// 4: the list index (`queries::INDEX`, issue 14).
    fn shape(&self) -> u32 {
        4
    }

    /// Its own case subjects, and its vocabularies.
    fn consumes(&self) -> Consumes {
        let mut subjects =
            case_log_jetstream::producer_subjects(RootKind::Case, Producer::Screening).to_vec();
        subjects.push(format!(
            "approdo.configuration.{}.screening",
            service_runtime::vocabularies::AGGREGATE_ID
        ));
        // The cases' safe-space records: an arrival becomes a placement.
        subjects.extend(case_log_jetstream::producer_subjects(
            RootKind::Case,
            Producer::SafeSpace,
        ));
        Consumes::Subjects(subjects)
    }

    fn apply(&self, rows: &mut Rows<'_>, commit: &RecordedCommit) -> Result<(), ApplyError> {
        if service_runtime::vocabularies::apply(rows, commit, Producer::Screening)? {
            return Ok(());
        }
        if let Some((RootKind::Case, case_id, Producer::SafeSpace)) = commit.aggregate() {
            return apply_safe_space_record(rows, case_id, commit);
        }
        let Some((RootKind::Case, case_id, Producer::Screening)) = commit.aggregate() else {
            return Ok(());
        };
        // The arrival's placement recorded, or the case closed or erased: nothing left to place.
        let ends_arrival = commit
            .request_id()
            .starts_with(crate::safe_space_arrivals::PREFIX)
            || commit.commit.events.iter().any(|e| {
                case_log_jetstream::contract::is::<wire::CaseClosed>(&e.event_type)
                    || case_log_jetstream::contract::is::<wire::PersonalDataErased>(&e.event_type)
            });
        if ends_arrival {
            rows.delete(ARRIVALS, case_id.as_bytes())?;
        }
        let row_key = case_id;
        let case_id = case_id.as_bytes();
        let (mut view, indexed) = match rows.get(CASES, case_id)? {
            Some(bytes) => {
                let view = wire::CaseView::decode(bytes.as_slice()).map_err(|e| {
                    ApplyError::Inconsistent(format!("stored case view cannot be decoded: {e}"))
                })?;
                let indexed = crate::queries::index_entries(row_key, &view);
                (view, indexed)
            }
            None => (wire::CaseView::default(), Vec::new()),
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
            apply_event(&mut view, decoded, &who, commit.commit.occurred_at);
        }
        crate::protection_view::refresh(&mut view);
        view.last_log_sequence = commit.sequence;
        rows.put(CASES, case_id, &view.encode_to_vec())?;
        // The case's list entries move with it (status, place, urgency, order).
        rows.reindex(
            crate::queries::INDEX,
            &indexed,
            &crate::queries::index_entries(row_key, &view),
        )?;
        Ok(())
    }
}

fn apply_event(
    view: &mut wire::CaseView,
    event: WireEvent,
    who: &dyn Fn(&str, Option<prost_types::Timestamp>) -> wire::CategoryStatusChange,
    occurred_at: Option<prost_types::Timestamp>,
) {
    match event {
        WireEvent::CaseOpened(e) => {
            // The domain's rule: from arrival at a hotspot (or for openings
            // recorded before the kind was), from the opening elsewhere.
            let screening_due = crate::codec::opening(&e)
                .ok()
                .map(|open| timestamp(open.screening_due_at()));
            view.case_id = e.case_id;
            view.province = e.province;
            view.facility_id = e.facility_id;
            view.facility_kind = e.facility_kind;
            view.arrival = e.arrival;
            view.application_date = e.application_date.clone();
            view.family_links = e.family_links;
            view.status = CaseStatus::Open.code().to_owned();
            // When the case was opened: recorded on the event, or the
            // commit's time for openings recorded before it was.
            view.opened_at = e.opened_at.or(occurred_at);
            view.screening_deadline = Some(wire::Deadline {
                due_at: screening_due,
                ..Default::default()
            });
            view.assessment_deadline = assessment_deadline(&e.application_date);
        }
        WireEvent::PreliminaryCheckRecorded(e) => {
            for suspected in &e.suspected {
                suspect(
                    view,
                    suspected,
                    who(CategoryStatus::Suspected.code(), e.checked_at),
                );
            }
            view.urgent_care_needed |= e.urgent_care_needed;
            change_urgency(view, &e.urgency, CaseUrgency::raised);
            if let Some(deadline) = view.screening_deadline.as_mut() {
                deadline.met_at = e.checked_at;
                deadline.overdue = false;
            }
        }
        WireEvent::VulnerabilitySignalRaised(e) => {
            if let Some(suspected) = &e.suspected {
                suspect(
                    view,
                    suspected,
                    who(CategoryStatus::Suspected.code(), e.raised_at),
                );
            }
            change_urgency(view, &e.urgency, CaseUrgency::raised);
            view.signals += 1;
            if e.gbv_disclosure {
                view.gbv_disclosures += 1;
            }
        }
        WireEvent::AssessmentRecorded(e) => {
            for outcome in &e.outcomes {
                set_status(view, outcome, who(&outcome.status, e.assessed_at));
                for need in view
                    .late_needs
                    .iter_mut()
                    .filter(|need| need.category == outcome.category)
                {
                    meet(&mut need.deadline, e.assessed_at);
                }
            }
            view.special_reception_needs = e.special_reception_needs;
            view.special_procedural_guarantees = e.special_procedural_guarantees;
            change_urgency(view, &e.urgency, CaseUrgency::assessed);
            // Completed by the first assessment that leaves nothing suspected
            // before the first one to assess (events before the list existed:
            // the first assessment).
            if view.assessment_completed_at.is_none() && e.still_to_assess.is_empty() {
                view.assessment_completed_at = e.assessed_at;
                meet(&mut view.assessment_deadline, e.assessed_at);
            }
        }
        WireEvent::NeedIdentifiedAfterAssessment(e) => {
            view.late_needs.push(wire::LateNeed {
                category: e.category,
                raised_at: e.raised_at,
                deadline: Some(wire::Deadline {
                    due_at: e.due_at,
                    ..Default::default()
                }),
            });
        }
        WireEvent::NeedAssessmentDeadlineMissed(e) => {
            if let Some(deadline) = view
                .late_needs
                .iter_mut()
                .filter(|need| need.category == e.category && need.raised_at == e.raised_at)
                .find_map(|need| need.deadline.as_mut())
            {
                deadline.missed = true;
                deadline.overdue = deadline.met_at.is_none();
            }
        }
        WireEvent::FormalIdentificationRecorded(e) => {
            let state = category_mut(view, &e.category);
            state.identification = Identification::FormallyIdentified.code().to_owned();
        }
        WireEvent::ApplicationRecorded(e) => {
            view.assessment_deadline = assessment_deadline(&e.application_date);
            // An assessment completed before the application meets it.
            if let Some(completed_at) = view.assessment_completed_at {
                meet(&mut view.assessment_deadline, Some(completed_at));
            }
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
    Some(wire::Deadline {
        due_at: Some(timestamp(case_screening::assessment_due_at(date))),
        ..Default::default()
    })
}

/// A deadline met at `at` (the first time only).
fn meet(deadline: &mut Option<wire::Deadline>, at: Option<prost_types::Timestamp>) {
    if let Some(deadline) = deadline.as_mut()
        && deadline.met_at.is_none()
    {
        deadline.met_at = at;
        deadline.overdue = false;
    }
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
fn suspect(
    view: &mut wire::CaseView,
    suspected: &wire::SuspectedCategory,
    change: wire::CategoryStatusChange,
) {
    let state = category_mut(view, &suspected.category);
    if !suspected.other_need.is_empty() {
        state.other_need = suspected.other_need.clone();
    }
    if state.status.is_empty() || state.status == CategoryStatus::RuledOut.code() {
        state.status = change.status.clone();
        state.history.push(change);
    }
}

fn set_status(
    view: &mut wire::CaseView,
    outcome: &wire::CategoryOutcome,
    change: wire::CategoryStatusChange,
) {
    let state = category_mut(view, &outcome.category);
    if !outcome.other_need.is_empty() {
        state.other_need = outcome.other_need.clone();
    }
    state.status = change.status.clone();
    // Trafficking confirmed by an assessment is presumed until an
    // anti-trafficking body identifies the person (no assessment rules out a
    // formally identified category).
    if state.identification != Identification::FormallyIdentified.code() {
        let presumed = Category::from_code(&outcome.category)
            .is_ok_and(case_screening::has_formal_identification)
            && state.status == CategoryStatus::Confirmed.code();
        state.identification = if presumed {
            Identification::Presumed.code().to_owned()
        } else {
            String::new()
        };
    }
    state.history.push(change);
}

/// The case's urgency now, by the pathway's rule (`CaseUrgency`): a check or
/// signal raises it, an assessment sets it (lower too); empty says nothing.
fn change_urgency(
    view: &mut wire::CaseView,
    urgency: &str,
    change: fn(CaseUrgency, Urgency) -> CaseUrgency,
) {
    let Ok(new) = Urgency::from_code(urgency) else {
        return;
    };
    let current = Urgency::from_code(&view.current_urgency).map_or(CaseUrgency::default(), |now| {
        CaseUrgency::default().assessed(now)
    });
    if let Some(urgency) = change(current, new).current() {
        view.current_urgency = urgency.code().to_owned();
    }
}

/// A case's safe-space record: an arrival makes the case a candidate of the
/// watcher, a release of the place ends that.
fn apply_safe_space_record(
    rows: &mut Rows<'_>,
    case_id: &str,
    commit: &RecordedCommit,
) -> Result<(), ApplyError> {
    use case_log_jetstream::contract::is;
    use contracts::safe_space::v1 as safe_space;
    for event in &commit.commit.events {
        if is::<safe_space::CaseArrivalConfirmed>(&event.event_type) {
            rows.put(ARRIVALS, case_id.as_bytes(), b"")?;
        } else if is::<safe_space::CasePlaceReleased>(&event.event_type) {
            rows.delete(ARRIVALS, case_id.as_bytes())?;
        }
    }
    Ok(())
}

/// The cases whose safe-space record holds an arrival not placed yet (as projected).
pub fn arrivals_due(store: &ProjectionStore) -> Result<Vec<String>, StoreError> {
    store
        .scan(ARRIVALS, b"")?
        .into_iter()
        .map(|(key, _)| {
            String::from_utf8(key).map_err(|_| StoreError::CorruptRow {
                table: ARRIVALS.to_owned(),
                key: String::new(),
                reason: "a case id that is not text".to_owned(),
            })
        })
        .collect()
}

/// Whether the case's safe-space record holds an arrival not placed yet (as projected).
pub fn arrival_due(store: &ProjectionStore, case_id: &str) -> Result<bool, StoreError> {
    Ok(store.get(ARRIVALS, case_id.as_bytes())?.is_some())
}

/// Reads one case view; a view that does not decode is an error, never "not found".
pub fn case(store: &ProjectionStore, case_id: &str) -> Result<Option<wire::CaseView>, StoreError> {
    store.get_decoded(CASES, case_id.as_bytes(), |b| wire::CaseView::decode(b))
}

/// Reads every case view; one that does not decode fails the read.
pub fn all_cases(store: &ProjectionStore) -> Result<Vec<wire::CaseView>, StoreError> {
    store.scan_decoded(CASES, b"", |b| wire::CaseView::decode(b))
}
