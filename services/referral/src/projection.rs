//! The referral projection: the directory, each case's consents, refusals and
//! referrals with their timelines, the case facts from screening, each
//! receiving organisation's inbox feed (one row per change, keyed by a
//! cursor), and the index of the cases the watcher must react to (closed with
//! referrals to cancel or receivers to tell, placed elsewhere than their open
//! referrals know, more urgent than a referral's deadlines follow).

use case_log_jetstream::{Producer, RecordedCommit, RootKind};
use case_referral::{CancelReason, ReferralState};
use contracts::referral::v1 as wire;
use projection_sled::{ApplyError, Consumes, Projection, ProjectionStore, Rows, StoreError};
use prost::Message;

use case_log_jetstream::contract::is;
use contracts::screening::v1 as screening;

use crate::case_facts::{CaseFacts, Recorded, ReferralFacts as _};
use crate::codec::WireEvent;

pub const ORGANISATIONS: &str = "referral.organisation";
pub const CASES: &str = "referral.case";
pub const CASE_FACTS: &str = "referral.case_facts";
pub const INBOX: &str = "referral.inbox";
pub const INBOX_HEAD: &str = "referral.inbox_head";
pub const PATHWAY_RULES: &str = "referral.pathway_rules";
/// Each referral's minimum dataset, still sealed with the person's key
/// (`case_id/referral_id`): opened only when read, unreadable after erasure.
pub const SEALED_DATASETS: &str = "referral.sealed_dataset";
/// The facility each referral knows its case is in (`case_id/referral_id`;
/// the view carries only the province): for the transfer rule.
pub const REFERRAL_FACILITIES: &str = "referral.referral_facility";
/// Cases with something for the watcher to react to (closure, transfer,
/// tightening), by the domain's rules on what this projection holds.
pub const REACTIONS: &str = "referral.reaction_due";
/// The referral lists' index (`list_entries`), kept in the transaction that
/// changes a referral or its case's facts.
pub const LIST_INDEX: &str = "referral.list";
const CURRENT: &[u8] = b"current";

/// Changes within one commit get consecutive cursors: `sequence * 256 + index`.
pub fn cursor(sequence: u64, index: usize) -> u64 {
    sequence * 256 + index.min(255) as u64
}

fn sealed_key(case_id: &str, referral_id: &str) -> Vec<u8> {
    format!("{case_id}/{referral_id}").into_bytes()
}

pub fn inbox_key(organisation: &str, cursor: u64) -> Vec<u8> {
    format!("{organisation}/{cursor:020}").into_bytes()
}

pub struct ReferralProjection;

fn corrupt(what: &str) -> impl Fn(prost::DecodeError) -> ApplyError + '_ {
    move |e| ApplyError::Inconsistent(format!("stored {what} cannot be decoded: {e}"))
}

impl Projection for ReferralProjection {
    fn name(&self) -> &'static str {
        "referral"
    }

    fn producer(&self) -> Option<Producer> {
        Some(Producer::Referral)
    }

    /// 2: the pathway's issue (case facts with placement, urgency since, age
    /// band and its assessment, closure; the reaction index). 3: the list
    /// index (`LIST_INDEX`, issue 14).
    fn shape(&self) -> u32 {
        3
    }

    /// The screening service's case subjects (the case facts) and all of its own.
    fn consumes(&self) -> Consumes {
        let mut subjects =
            case_log_jetstream::producer_subjects(RootKind::Case, Producer::Screening).to_vec();
        subjects.extend(case_log_jetstream::subject::producer_publish_subjects(
            Producer::Referral,
        ));
        Consumes::Subjects(subjects)
    }

    fn apply(&self, rows: &mut Rows<'_>, commit: &RecordedCommit) -> Result<(), ApplyError> {
        if service_runtime::vocabularies::apply(rows, commit, Producer::Referral)? {
            return Ok(());
        }
        match commit.aggregate() {
            Some((RootKind::Case, case_id, Producer::Screening)) => {
                apply_screening(rows, case_id, commit)
            }
            Some((RootKind::Organisation, _, Producer::Referral)) => apply_directory(rows, commit),
            Some((RootKind::Case, case_id, Producer::Referral)) => {
                apply_case(rows, case_id, commit)
            }
            Some((RootKind::Configuration, _, Producer::Referral)) => {
                apply_configuration(rows, commit)
            }
            _ => Ok(()),
        }
    }
}

fn apply_screening(
    rows: &mut Rows<'_>,
    case_id: &str,
    commit: &RecordedCommit,
) -> Result<(), ApplyError> {
    let mut facts = stored_facts(rows, case_id)?;
    let listed = list_entries(case_id, facts.as_ref(), &stored_case(rows, case_id)?);
    let at = Recorded::commit(commit);
    for event in &commit.commit.events {
        CaseFacts::apply(&mut facts, at, &event.event_type, &event.payload);
        if is::<screening::PersonalDataErased>(&event.event_type) {
            drop_personal_data(rows, case_id)?;
        }
    }
    if let Some(facts) = facts {
        let bytes =
            serde_json::to_vec(&facts).map_err(|e| ApplyError::Inconsistent(e.to_string()))?;
        rows.put(CASE_FACTS, case_id.as_bytes(), &bytes)?;
        let case = stored_case(rows, case_id)?;
        index_reactions(rows, case_id, &facts, &case)?;
        // The case moved, or was placed: its referrals' list entries follow.
        rows.reindex(
            LIST_INDEX,
            &listed,
            &list_entries(case_id, Some(&facts), &case),
        )?;
    }
    Ok(())
}

/// The case's referrals and consents as stored (empty before any).
fn stored_case(
    rows: &Rows<'_>,
    case_id: &str,
) -> Result<wire::GetCaseReferralsResponse, ApplyError> {
    Ok(match rows.get(CASES, case_id.as_bytes())? {
        Some(bytes) => wire::GetCaseReferralsResponse::decode(bytes.as_slice())
            .map_err(corrupt("case referrals"))?,
        None => wire::GetCaseReferralsResponse::default(),
    })
}

/// Keeps the case in the watcher's index of reactions exactly while the
/// domain's rules say one is due on what this projection holds: the watcher
/// then decides on the log itself.
fn index_reactions(
    rows: &mut Rows<'_>,
    case_id: &str,
    facts: &CaseFacts,
    case: &wire::GetCaseReferralsResponse,
) -> Result<(), ApplyError> {
    let domain = facts.domain();
    let mut due = false;
    for view in &case.referrals {
        let Ok(state) = ReferralState::from_code(&view.state) else {
            continue;
        };
        due |= if domain.is_closed() {
            let notified = !view.case_closure_reason.is_empty();
            case_referral::closure_reaction_due(state, notified)
        } else {
            let facility =
                rows.get(REFERRAL_FACILITIES, &sealed_key(case_id, &view.referral_id))?;
            let known = facility.and_then(|facility| {
                Some(case_referral::Place {
                    province: case_referral::Province::parse(&view.province).ok()?,
                    facility_id: case_referral::FacilityId::parse(
                        std::str::from_utf8(&facility).ok()?,
                    )
                    .ok()?,
                })
            });
            let follows = pathway::Urgency::from_code(&view.urgency).ok();
            case_referral::transfer_due(state, known.as_ref(), domain.place.as_ref())
                || case_referral::tightening_due(state, follows, domain.urgency())
        };
    }
    if due {
        rows.put(REACTIONS, case_id.as_bytes(), b"")?;
    } else {
        rows.delete(REACTIONS, case_id.as_bytes())?;
    }
    Ok(())
}

/// The case's facts as stored; a row that does not decode stops the projection.
fn stored_facts(rows: &Rows<'_>, case_id: &str) -> Result<Option<CaseFacts>, ApplyError> {
    rows.get(CASE_FACTS, case_id.as_bytes())?
        .map(|bytes| {
            serde_json::from_slice(&bytes).map_err(|e| {
                ApplyError::Inconsistent(format!("stored case facts cannot be decoded: {e}"))
            })
        })
        .transpose()
}

/// The person's data was erased: their referrals' sealed datasets go, and the
/// views say so.
fn drop_personal_data(rows: &mut Rows<'_>, case_id: &str) -> Result<(), ApplyError> {
    let Some(bytes) = rows.get(CASES, case_id.as_bytes())? else {
        return Ok(());
    };
    let mut case = wire::GetCaseReferralsResponse::decode(bytes.as_slice())
        .map_err(corrupt("case referrals"))?;
    for referral in &mut case.referrals {
        rows.delete(SEALED_DATASETS, &sealed_key(case_id, &referral.referral_id))?;
        referral.dataset = None;
        referral.personal_data_erased = true;
    }
    rows.put(CASES, case_id.as_bytes(), &case.encode_to_vec())?;
    Ok(())
}

fn decode(event: &contracts::log::v1::Event) -> Result<WireEvent, ApplyError> {
    WireEvent::decode(event).map_err(|e| ApplyError::Decode {
        event_type: e.event_type,
        reason: e.reason,
    })
}

fn apply_configuration(rows: &mut Rows<'_>, commit: &RecordedCommit) -> Result<(), ApplyError> {
    for event in &commit.commit.events {
        if let WireEvent::PathwayRulesPublished(published) = decode(event)? {
            rows.put(PATHWAY_RULES, CURRENT, &published.encode_to_vec())?;
        }
    }
    Ok(())
}

fn apply_directory(rows: &mut Rows<'_>, commit: &RecordedCommit) -> Result<(), ApplyError> {
    // The organisation's subjects also carry the access log's refusals: not the directory's.
    for event in commit
        .commit
        .events
        .iter()
        .filter(|e| !is::<contracts::access::v1::AccessRefused>(&e.event_type))
    {
        let profile = match decode(event)? {
            WireEvent::OrganisationRegistered(e) => e.profile,
            WireEvent::OrganisationUpdated(e) => e.profile,
            _ => None,
        };
        if let Some(profile) = profile {
            rows.put(
                ORGANISATIONS,
                profile.organisation_id.as_bytes(),
                &profile.encode_to_vec(),
            )?;
        }
    }
    Ok(())
}

fn apply_case(
    rows: &mut Rows<'_>,
    case_id: &str,
    commit: &RecordedCommit,
) -> Result<(), ApplyError> {
    let mut case = stored_case(rows, case_id)?;
    let facts = stored_facts(rows, case_id)?;
    let listed = list_entries(case_id, facts.as_ref(), &case);
    let province = facts
        .as_ref()
        .map(|f| f.province.clone())
        .unwrap_or_default();
    let closure = facts
        .as_ref()
        .and_then(|f| f.closed.clone())
        .unwrap_or_default();
    let (organisation_id, role) = commit.author();
    let entry = |state: &str, at: Option<prost_types::Timestamp>| wire::TimelineEntry {
        state: state.to_owned(),
        at,
        organisation_id: organisation_id.clone(),
        role: role.clone(),
        log_sequence: commit.sequence,
    };
    let mut changed: Vec<String> = Vec::new();
    for event in &commit.commit.events {
        let event = decode(event)?;
        if let WireEvent::ReferralDrafted(drafted) = &event
            && let Some(wire::referral_drafted::Dataset::EncryptedMinimumDataset(sealed)) =
                &drafted.dataset
        {
            rows.put(
                SEALED_DATASETS,
                &sealed_key(case_id, &drafted.referral_id),
                &sealed.encode_to_vec(),
            )?;
        }
        // Where each referral knows its case is (the facility; the view has the province).
        let known = match &event {
            WireEvent::ReferralDrafted(e) if !e.facility_id.is_empty() => {
                Some((&e.referral_id, &e.facility_id))
            }
            WireEvent::ReferralCaseTransferred(e) => Some((&e.referral_id, &e.facility_id)),
            _ => None,
        };
        if let Some((referral_id, facility_id)) = known {
            rows.put(
                REFERRAL_FACILITIES,
                &sealed_key(case_id, referral_id),
                facility_id.as_bytes(),
            )?;
        }
        let touched = apply_case_event(&mut case, event, case_id, &province, &closure, &entry);
        for id in touched {
            if !changed.contains(&id) {
                changed.push(id);
            }
        }
    }
    for referral in &mut case.referrals {
        if changed.contains(&referral.referral_id) {
            referral.last_log_sequence = commit.sequence;
        }
    }
    // Each change addressed to a receiver goes to its inbox feed (drafts are the referrer's own).
    for (index, referral_id) in changed.iter().enumerate() {
        let Some(view) = case
            .referrals
            .iter()
            .find(|r| &r.referral_id == referral_id)
        else {
            continue;
        };
        if view.state == ReferralState::Draft.code() {
            continue;
        }
        let at = cursor(commit.sequence, index);
        rows.put(
            INBOX,
            &inbox_key(&view.receiver_organisation_id, at),
            &view.encode_to_vec(),
        )?;
        rows.put(
            INBOX_HEAD,
            view.receiver_organisation_id.as_bytes(),
            &at.to_be_bytes(),
        )?;
    }
    // A withdrawn consent takes the datasets shared under it.
    for referral in case.referrals.iter().filter(|r| r.dataset_access_revoked) {
        rows.delete(SEALED_DATASETS, &sealed_key(case_id, &referral.referral_id))?;
    }
    rows.put(CASES, case_id.as_bytes(), &case.encode_to_vec())?;
    rows.reindex(
        LIST_INDEX,
        &listed,
        &list_entries(case_id, facts.as_ref(), &case),
    )?;
    if let Some(facts) = &facts {
        index_reactions(rows, case_id, facts, &case)?;
    }
    Ok(())
}

/// The list index's entries of a case's referrals:
/// `<scope>\0s=<state>\0<case_id>/<referral_id>` (the lists' order and
/// page token), for each scope a caller lists in (`*` everyone's; `r=` the
/// receiver's, drafts left out; `f=` and `p=` the facility and province the
/// case is in, when screening's facts are known), under the referral's
/// state: a list of several states merges their ranges. The value is the
/// case's province as its facts say, `\0`, then what the filters read of
/// the referral (a trimmed `ReferralView`).
pub fn list_entries(
    case_id: &str,
    facts: Option<&CaseFacts>,
    case: &wire::GetCaseReferralsResponse,
) -> Vec<projection_sled::store::IndexEntry> {
    let mut entries = Vec::new();
    for view in &case.referrals {
        let mut scopes = vec!["*".to_owned()];
        if view.state != ReferralState::Draft.code() {
            scopes.push(format!("r={}", view.receiver_organisation_id));
        }
        if let Some(facts) = facts {
            scopes.push(format!("f={}", facts.facility_id));
            scopes.push(format!("p={}", facts.province));
        }
        let state = format!("s={}", view.state);
        let mut value = facts
            .map_or("", |f| f.province.as_str())
            .as_bytes()
            .to_vec();
        value.push(0);
        value.extend(
            wire::ReferralView {
                case_id: case_id.to_owned(),
                referral_id: view.referral_id.clone(),
                province: view.province.clone(),
                service_type: view.service_type.clone(),
                state: view.state.clone(),
                missed_deadlines: view.missed_deadlines.iter().take(1).cloned().collect(),
                ..Default::default()
            }
            .encode_to_vec(),
        );
        for scope in &scopes {
            let key = list_key(scope, &state, &format!("{case_id}/{}", view.referral_id));
            entries.push((key, value.clone()));
        }
    }
    entries
}

fn list_key(scope: &str, state: &str, order: &str) -> Vec<u8> {
    format!("{scope}\0{state}\0{order}").into_bytes()
}

/// What a list page cost: index entries walked and case rows read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListCost {
    pub entries: u64,
    pub rows: u64,
}

/// A list page read from the index: the referrals of one scope in
/// `states` (their ranges merged) whose keys (`<case_id>/<referral_id>`) come
/// after `after`, that `admits` (the facts' province, the trimmed view), at
/// most `size` of them; the key of the last when more follow.
pub fn list_page(
    store: &ProjectionStore,
    scope: &str,
    states: &[&str],
    after: Option<&str>,
    size: usize,
    admits: impl Fn(&str, &wire::ReferralView) -> bool,
) -> Result<(Vec<wire::ReferralView>, Option<String>, ListCost), StoreError> {
    let ranges = states
        .iter()
        .map(|state| {
            let state = format!("s={state}");
            let base = list_key(scope, &state, "");
            let from = list_key(scope, &state, after.unwrap_or_default());
            (base.clone(), base, from)
        })
        .collect();
    let corrupt = |key: &[u8], reason: String| StoreError::CorruptRow {
        table: LIST_INDEX.to_owned(),
        key: String::from_utf8_lossy(key).into_owned(),
        reason,
    };
    let mut merged = store.merge_after(LIST_INDEX, ranges);
    let mut found: Vec<(String, String)> = Vec::new();
    while found.len() <= size {
        let Some(row) = merged.next() else { break };
        let (order, value) = row?;
        let (province, view) = value
            .iter()
            .position(|b| *b == 0)
            .map(|at| value.split_at(at))
            .ok_or_else(|| corrupt(&order, "no province".to_owned()))?;
        let view =
            wire::ReferralView::decode(&view[1..]).map_err(|e| corrupt(&order, e.to_string()))?;
        if admits(&String::from_utf8_lossy(province), &view) {
            found.push((String::from_utf8_lossy(&order).into_owned(), view.case_id));
        }
    }
    let entries = merged.read;
    let more = found.len() > size;
    found.truncate(size);
    let mut cost = ListCost { entries, rows: 0 };
    let mut case: Option<(String, wire::GetCaseReferralsResponse)> = None;
    let mut referrals = Vec::with_capacity(found.len());
    for (order, case_id) in &found {
        if case.as_ref().is_none_or(|(id, _)| id != case_id) {
            let read = case_referrals(store, case_id)?
                .ok_or_else(|| corrupt(order.as_bytes(), "an entry of no case".to_owned()))?;
            cost.rows += 1;
            case = Some((case_id.clone(), read));
        }
        let referral_id = &order[case_id.len() + 1..];
        let view = case
            .as_ref()
            .and_then(|(_, c)| c.referrals.iter().find(|r| r.referral_id == referral_id))
            .ok_or_else(|| corrupt(order.as_bytes(), "an entry of no referral".to_owned()))?;
        referrals.push(view.clone());
    }
    let next = if more {
        found.last().map(|(order, _)| order.clone())
    } else {
        None
    };
    Ok((referrals, next, cost))
}

/// The referral `id` of the case's views, if there.
fn view<'a>(
    referrals: &'a mut [wire::ReferralView],
    id: &str,
) -> Option<&'a mut wire::ReferralView> {
    referrals.iter_mut().find(|r| r.referral_id == id)
}

/// Records on one referral what happened without a transition (a timeline
/// entry named `what`); returns its id if found.
fn noted(
    referrals: &mut [wire::ReferralView],
    entry: &dyn Fn(&str, Option<prost_types::Timestamp>) -> wire::TimelineEntry,
    id: &str,
    what: &str,
    at: Option<prost_types::Timestamp>,
) -> Vec<String> {
    match view(referrals, id) {
        Some(view) => {
            view.timeline.push(entry(what, at));
            vec![id.to_owned()]
        }
        None => Vec::new(),
    }
}

/// Moves one referral to `state`, recording who and when; returns its id if found.
fn transition(
    referrals: &mut [wire::ReferralView],
    entry: &dyn Fn(&str, Option<prost_types::Timestamp>) -> wire::TimelineEntry,
    id: &str,
    state: ReferralState,
    at: Option<prost_types::Timestamp>,
) -> Vec<String> {
    match referrals.iter_mut().find(|r| r.referral_id == id) {
        Some(view) => {
            view.state = state.code().to_owned();
            view.timeline.push(entry(state.code(), at));
            vec![id.to_owned()]
        }
        None => Vec::new(),
    }
}

/// Applies one event to a case's referrals and consents; returns the referral ids it changed.
fn apply_case_event(
    case: &mut wire::GetCaseReferralsResponse,
    event: WireEvent,
    case_id: &str,
    province: &str,
    closure: &str,
    entry: &dyn Fn(&str, Option<prost_types::Timestamp>) -> wire::TimelineEntry,
) -> Vec<String> {
    match event {
        WireEvent::ConsentGiven(e) => {
            let mut view = wire::ConsentView {
                consent_id: e.consent_id,
                recipient: e.recipient,
                given_at: e.given_at,
                ..Default::default()
            };
            match e.basis {
                Some(contracts::referral::v1::consent_given::Basis::Consent(c)) => {
                    view.kind = "consent".to_owned();
                    view.scopes = c.scopes;
                    view.valid_until = c.valid_until;
                }
                Some(contracts::referral::v1::consent_given::Basis::Exception(x)) => {
                    view.kind = "exception".to_owned();
                    view.exception_reason = x.reason;
                    view.authority = x.authority;
                }
                None => {}
            }
            case.consents.push(view);
            Vec::new()
        }
        WireEvent::ConsentRefused(e) => {
            case.refusals.push(wire::ConsentRefusalView {
                consent_id: e.consent_id,
                recipient: e.recipient,
                purpose: e.purpose,
                refused_at: e.refused_at,
            });
            Vec::new()
        }
        // The dataset went with the withdrawal (above); the care goes on.
        WireEvent::ConsentWithdrawnDuringCare(e) => noted(
            &mut case.referrals,
            entry,
            &e.referral_id,
            "consent_withdrawn_during_care",
            e.at,
        ),
        WireEvent::ConsentWithdrawn(e) => {
            if let Some(consent) = case
                .consents
                .iter_mut()
                .find(|c| c.consent_id == e.consent_id)
            {
                consent.withdrawn_at = e.withdrawn_at;
            }
            // The receiver loses access to what was shared under it.
            let mut touched = Vec::new();
            for referral in case
                .referrals
                .iter_mut()
                .filter(|r| r.consent_id == e.consent_id)
            {
                referral.dataset = None;
                referral.dataset_access_revoked = true;
                touched.push(referral.referral_id.clone());
            }
            touched
        }
        WireEvent::ReferralDrafted(e) => {
            let dataset = match e.dataset {
                Some(contracts::referral::v1::referral_drafted::Dataset::MinimumDataset(d)) => {
                    Some(d)
                }
                _ => None,
            };
            // Drafted before referrals recorded their province: the case's then.
            let province = if e.province.is_empty() {
                province.to_owned()
            } else {
                e.province
            };
            case.referrals.push(wire::ReferralView {
                referral_id: e.referral_id.clone(),
                case_id: case_id.to_owned(),
                province,
                pathway_rules_version: e.pathway_rules_version,
                referrer_organisation_id: e.referrer_organisation_id,
                receiver_organisation_id: e.receiver_organisation_id,
                service_type: e.service_type,
                consent_id: e.consent_id,
                state: ReferralState::Draft.code().to_owned(),
                dataset,
                timeline: vec![entry(ReferralState::Draft.code(), None)],
                ..Default::default()
            });
            vec![e.referral_id]
        }
        WireEvent::ReferralSent(e) => {
            if let Some(view) = case
                .referrals
                .iter_mut()
                .find(|r| r.referral_id == e.referral_id)
            {
                view.acknowledge_by = e.acknowledge_by;
                view.answer_by = e.answer_by;
                view.urgency = e.urgency.clone();
                view.deadline_policy_version = e.deadline_policy_version;
            }
            transition(
                &mut case.referrals,
                entry,
                &e.referral_id,
                ReferralState::Sent,
                e.sent_at,
            )
        }
        WireEvent::DeadlinesTightened(e) => {
            if let Some(view) = view(&mut case.referrals, &e.referral_id) {
                view.acknowledge_by = e.acknowledge_by;
                view.answer_by = e.answer_by;
                view.urgency = e.urgency.clone();
            }
            let what = format!("deadlines_tightened:{}", e.urgency);
            noted(&mut case.referrals, entry, &e.referral_id, &what, e.at)
        }
        WireEvent::ReferralReceived(e) => transition(
            &mut case.referrals,
            entry,
            &e.referral_id,
            ReferralState::Received,
            e.at,
        ),
        WireEvent::ReferralAccepted(e) => {
            if let Some(view) = case
                .referrals
                .iter_mut()
                .find(|r| r.referral_id == e.referral_id)
            {
                view.take_charge_by = e.take_charge_by;
            }
            transition(
                &mut case.referrals,
                entry,
                &e.referral_id,
                ReferralState::Accepted,
                e.at,
            )
        }
        WireEvent::ReferralDeclined(e) => {
            let state = if e.redirect_to_organisation_id.is_empty() {
                ReferralState::Declined
            } else {
                ReferralState::Redirected
            };
            if let Some(view) = case
                .referrals
                .iter_mut()
                .find(|r| r.referral_id == e.referral_id)
            {
                view.decline_reason = e.reason.clone();
                view.redirect_to_organisation_id = e.redirect_to_organisation_id.clone();
            }
            transition(&mut case.referrals, entry, &e.referral_id, state, e.at)
        }
        WireEvent::TakenIntoCare(e) => transition(
            &mut case.referrals,
            entry,
            &e.referral_id,
            ReferralState::InCare,
            e.at,
        ),
        WireEvent::PutOnHold(e) => transition(
            &mut case.referrals,
            entry,
            &e.referral_id,
            ReferralState::OnHold,
            e.at,
        ),
        WireEvent::Resumed(e) => transition(
            &mut case.referrals,
            entry,
            &e.referral_id,
            ReferralState::InCare,
            e.at,
        ),
        WireEvent::ReferralCompleted(e) => {
            if let Some(view) = case
                .referrals
                .iter_mut()
                .find(|r| r.referral_id == e.referral_id)
            {
                view.outcome = e.outcome.clone();
            }
            transition(
                &mut case.referrals,
                entry,
                &e.referral_id,
                ReferralState::Completed,
                e.at,
            )
        }
        WireEvent::ReferralCancelled(e) => {
            // Recorded before reasons were: the referrer's decision.
            let reason = if e.reason.is_empty() {
                CancelReason::ReferrerDecision.code().to_owned()
            } else {
                e.reason.clone()
            };
            if let Some(view) = view(&mut case.referrals, &e.referral_id) {
                if reason == CancelReason::CaseClosed.code() {
                    view.case_closure_reason = closure.to_owned();
                }
                view.cancel_reason = reason;
            }
            transition(
                &mut case.referrals,
                entry,
                &e.referral_id,
                ReferralState::Cancelled,
                e.at,
            )
        }
        WireEvent::CaseClosureNotified(e) => {
            if let Some(view) = view(&mut case.referrals, &e.referral_id) {
                view.case_closure_reason = e.reason.clone();
            }
            let what = format!("case_closure_notified:{}", e.reason);
            noted(&mut case.referrals, entry, &e.referral_id, &what, e.at)
        }
        WireEvent::ReferralCaseTransferred(e) => {
            if let Some(view) = view(&mut case.referrals, &e.referral_id) {
                view.province = e.province.clone();
            }
            let what = format!("case_transferred:{}", e.province);
            noted(&mut case.referrals, entry, &e.referral_id, &what, e.at)
        }
        WireEvent::ReferralRevoked(e) => transition(
            &mut case.referrals,
            entry,
            &e.referral_id,
            ReferralState::Revoked,
            e.at,
        ),
        WireEvent::ReferralExpired(e) => transition(
            &mut case.referrals,
            entry,
            &e.referral_id,
            ReferralState::Expired,
            e.at,
        ),
        WireEvent::ReferralFailed(e) => {
            if let Some(view) = view(&mut case.referrals, &e.referral_id) {
                view.failure_reason = e.reason.clone();
            }
            transition(
                &mut case.referrals,
                entry,
                &e.referral_id,
                ReferralState::Failed,
                e.at,
            )
        }
        WireEvent::ReferralDeadlineMissed(e) => {
            if let Some(view) = case
                .referrals
                .iter_mut()
                .find(|r| r.referral_id == e.referral_id)
            {
                view.missed_deadlines.push(e.deadline.clone());
                view.timeline.push(entry(
                    &format!("deadline_missed:{}", e.deadline),
                    e.detected_at,
                ));
                return vec![e.referral_id];
            }
            Vec::new()
        }
        // Reads change no view; they stay in the log as the access log.
        WireEvent::ReferralDatasetRead(_) | WireEvent::ReferralDatasetsRead(_) => Vec::new(),
        WireEvent::OrganisationRegistered(_)
        | WireEvent::OrganisationUpdated(_)
        | WireEvent::PathwayRulesPublished(_) => Vec::new(),
    }
}

/// Reads of the projection: a row that does not decode is an error the
/// caller and the log see, never "not found" or a shorter list.
pub fn organisation(
    store: &ProjectionStore,
    id: &str,
) -> Result<Option<wire::OrganisationProfile>, StoreError> {
    store.get_decoded(ORGANISATIONS, id.as_bytes(), |b| {
        wire::OrganisationProfile::decode(b)
    })
}

pub fn organisations(
    store: &ProjectionStore,
) -> Result<Vec<wire::OrganisationProfile>, StoreError> {
    store.scan_decoded(ORGANISATIONS, b"", |b| wire::OrganisationProfile::decode(b))
}

pub fn case_referrals(
    store: &ProjectionStore,
    case_id: &str,
) -> Result<Option<wire::GetCaseReferralsResponse>, StoreError> {
    store.get_decoded(CASES, case_id.as_bytes(), |b| {
        wire::GetCaseReferralsResponse::decode(b)
    })
}

pub fn all_referrals(store: &ProjectionStore) -> Result<Vec<wire::ReferralView>, StoreError> {
    Ok(store
        .scan_decoded(CASES, b"", |b| wire::GetCaseReferralsResponse::decode(b))?
        .into_iter()
        .flat_map(|case| case.referrals)
        .collect())
}

/// A referral's minimum dataset, sealed with the person's key, if it may still be read.
pub fn sealed_dataset(
    store: &ProjectionStore,
    case_id: &str,
    referral_id: &str,
) -> Result<Option<contracts::person::v1::EncryptedMessage>, StoreError> {
    store.get_decoded(SEALED_DATASETS, &sealed_key(case_id, referral_id), |b| {
        contracts::person::v1::EncryptedMessage::decode(b)
    })
}

/// The cases with a reaction due (the watcher's candidates besides deadlines).
pub fn reactions_due(store: &ProjectionStore) -> Result<Vec<String>, StoreError> {
    Ok(store
        .scan(REACTIONS, b"")?
        .into_iter()
        .map(|(key, _)| String::from_utf8_lossy(&key).into_owned())
        .collect())
}

pub fn case_facts(store: &ProjectionStore, case_id: &str) -> Result<Option<CaseFacts>, StoreError> {
    store.get_decoded(CASE_FACTS, case_id.as_bytes(), |b| {
        serde_json::from_slice(b)
    })
}

/// The changes addressed to `organisation` after `after` (a cursor), in order.
/// At most `limit` of them: a watch sends a backlog a page at a time.
pub fn inbox_after(
    store: &ProjectionStore,
    organisation: &str,
    after: u64,
    limit: usize,
) -> Result<Vec<(u64, wire::ReferralView)>, StoreError> {
    let prefix = format!("{organisation}/");
    let corrupt = |key: &[u8], reason: &str| StoreError::CorruptRow {
        table: INBOX.to_owned(),
        key: String::from_utf8_lossy(key).into_owned(),
        reason: reason.to_owned(),
    };
    let mut changes = Vec::new();
    let from = inbox_key(organisation, after);
    for (key, bytes) in store.scan_after(INBOX, prefix.as_bytes(), &from, limit)? {
        let cursor: u64 = std::str::from_utf8(&key[prefix.len()..])
            .ok()
            .and_then(|raw| raw.parse().ok())
            .ok_or_else(|| corrupt(&key, "the key holds no cursor"))?;
        if cursor > after {
            let view = wire::ReferralView::decode(bytes.as_slice())
                .map_err(|e| corrupt(&key, &e.to_string()))?;
            changes.push((cursor, view));
        }
    }
    Ok(changes)
}

pub fn inbox_head(store: &ProjectionStore, organisation: &str) -> Result<u64, StoreError> {
    Ok(store
        .get(INBOX_HEAD, organisation.as_bytes())?
        .and_then(|bytes| bytes.try_into().ok().map(u64::from_be_bytes))
        .unwrap_or(0))
}

/// The pathway rules last published, if any.
pub fn published_rules(
    store: &ProjectionStore,
) -> Result<Option<wire::PathwayRulesPublished>, StoreError> {
    store.get_decoded(PATHWAY_RULES, CURRENT, |b| {
        wire::PathwayRulesPublished::decode(b)
    })
}
