//! The monitoring projection: every case's pathway ([`CasePathway`]) and the
//! safe spaces' places over time, folded from the whole log.
//!
//! **Consume safely**: it reads only the event types of an explicit
//! allowlist ([`allowlist`], built from the `contracts` messages' proto type
//! names, `prost::Name`). Any other event type, from any producer, present
//! or future, is skipped and counted (table `monitoring.skipped`, by type),
//! never an error: a new event elsewhere cannot stop it. An allowed event
//! that does not decode is another producer's bad commit: the runner parks
//! it (architecture invariant 13).

use std::sync::LazyLock;

use case_facts::Recorded;
use case_log_jetstream::contract::event_type;
use case_log_jetstream::{Producer, RecordedCommit, RootKind};
use contracts::monitoring::v1 as monitoring;
use contracts::referral::v1 as referral;
use contracts::safe_space::v1 as safe_space;
use contracts::screening::v1 as screening;
use projection_sled::{ApplyError, Consumes, Projection, ProjectionStore, Rows};
use service_runtime::ServiceError;

use crate::pathway::{CasePathway, SpaceRecord};

pub const CASES: &str = "monitoring.case";
pub const SPACES: &str = "monitoring.space";
pub const SKIPPED: &str = "monitoring.skipped";
/// Each facility's visits: `<facility_id>/<visit_id>` -> the `VisitRecorded` message.
pub const VISITS: &str = "monitoring.visit";
/// Each training session: `<facility or organisation id>/<session_id>` -> the
/// `TrainingSessionRecorded` message.
pub const TRAINING: &str = "monitoring.training";
/// Each facility's province, from screening's registry: `<facility_id>` -> province.
pub const FACILITIES: &str = "monitoring.facility";
/// The cases' index (`case_index_keys`), kept in the transaction that writes
/// the case: `t\0<opened>\0<case>` (every case with its facts and opening
/// time, by that time), `tp\0<province>\0<opened>\0<case>` (the same by the
/// province it is in), `p\0<province>\0<case>` (each province any part of
/// its pathway was recorded in). Values are empty.
pub const CASE_INDEX: &str = "monitoring.case_index";
/// The index keys each case holds now (`<case>` -> the keys, each preceded
/// by its length as two bytes), so that a change moves them.
pub const CASE_INDEXED: &str = "monitoring.case_indexed";

/// The event types the projection reads; every other type is skipped and counted.
pub fn allowlist() -> &'static [String] {
    static LIST: LazyLock<Vec<String>> = LazyLock::new(|| {
        vec![
            // screening: the facility registry, and the case's record
            event_type::<screening::FacilityRegistered>(),
            event_type::<screening::CaseOpened>(),
            event_type::<screening::ApplicationRecorded>(),
            event_type::<screening::PreliminaryCheckRecorded>(),
            event_type::<screening::VulnerabilitySignalRaised>(),
            event_type::<screening::AssessmentRecorded>(),
            event_type::<screening::AgeAssessed>(),
            event_type::<screening::ScreeningDeadlineMissed>(),
            event_type::<screening::AssessmentDeadlineMissed>(),
            event_type::<screening::NeedIdentifiedAfterAssessment>(),
            event_type::<screening::CasePlaced>(),
            event_type::<screening::VulnerablePersonDetained>(),
            event_type::<screening::GuardianAppointed>(),
            event_type::<screening::FirstReceptionLimitExceeded>(),
            event_type::<screening::FollowUpScheduled>(),
            event_type::<screening::FollowUpRecorded>(),
            event_type::<screening::FollowUpMissed>(),
            event_type::<screening::LostToFollowUp>(),
            event_type::<screening::CaseClosed>(),
            event_type::<screening::PersonalDataErased>(),
            // referral: the case's consents and referrals
            event_type::<referral::ConsentGiven>(),
            event_type::<referral::ConsentWithdrawn>(),
            event_type::<referral::ConsentRefused>(),
            event_type::<referral::ConsentWithdrawnDuringCare>(),
            event_type::<referral::ReferralDrafted>(),
            event_type::<referral::ReferralSent>(),
            event_type::<referral::ReferralReceived>(),
            event_type::<referral::ReferralAccepted>(),
            event_type::<referral::ReferralDeclined>(),
            event_type::<referral::TakenIntoCare>(),
            event_type::<referral::ReferralExpired>(),
            // safe-space: the registry and the allocators
            event_type::<safe_space::SafeSpaceRegistered>(),
            event_type::<safe_space::SafeSpaceCapacityChanged>(),
            event_type::<safe_space::SafeSpaceClosed>(),
            event_type::<safe_space::PlaceRequested>(),
            event_type::<safe_space::PlaceReserved>(),
            event_type::<safe_space::ReturnedToWaitingList>(),
            event_type::<safe_space::RequestCancelled>(),
            event_type::<safe_space::PlaceReleased>(),
            event_type::<safe_space::HoldExpired>(),
            // monitoring: its own visits and training sessions
            event_type::<monitoring::VisitRecorded>(),
            event_type::<monitoring::TrainingSessionRecorded>(),
        ]
    });
    &LIST
}

fn allowed(event_type: &str) -> bool {
    allowlist().iter().any(|t| t == event_type)
}

pub struct MonitoringProjection;

impl Projection for MonitoringProjection {
    fn name(&self) -> &'static str {
        "monitoring"
    }

    fn producer(&self) -> Option<Producer> {
        Some(Producer::Monitoring)
    }

    fn consumes(&self) -> Consumes {
        Consumes::All
    }

    /// 4: facilities' visits and training sessions, and the facilities'
    /// provinces, kept too. 5: the cases' index (`CASE_INDEX`, issue 14).
    fn shape(&self) -> u32 {
        5
    }

    fn apply(&self, rows: &mut Rows<'_>, commit: &RecordedCommit) -> Result<(), ApplyError> {
        let at = Recorded::commit(commit);
        let aggregate = commit.aggregate();
        for event in &commit.commit.events {
            let event_type = event.event_type.as_str();
            if !allowed(event_type) {
                let key = event_type.as_bytes();
                let count = rows
                    .get(SKIPPED, key)?
                    .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
                    .map_or(0, u64::from_be_bytes);
                rows.put(SKIPPED, key, &(count + 1).to_be_bytes())?;
                continue;
            }
            let decode = |error: prost::DecodeError| ApplyError::Decode {
                event_type: event_type.to_owned(),
                reason: error.to_string(),
            };
            match aggregate {
                Some((RootKind::Case, case, Producer::Screening)) => {
                    let mut pathway = case_row(rows, case)?;
                    pathway
                        .apply_screening(at, event_type, &event.payload)
                        .map_err(decode)?;
                    put_case(rows, case, &pathway)?;
                }
                Some((RootKind::Case, case, Producer::Referral)) => {
                    let mut pathway = case_row(rows, case)?;
                    pathway
                        .apply_referral(at, event_type, &event.payload)
                        .map_err(decode)?;
                    put_case(rows, case, &pathway)?;
                }
                Some((RootKind::Facility, space, Producer::SafeSpace)) => {
                    let mut record = rows
                        .get(SPACES, space.as_bytes())?
                        .map(|b| serde_json::from_slice::<SpaceRecord>(&b))
                        .transpose()
                        .map_err(|e| ApplyError::Inconsistent(format!("space row: {e}")))?;
                    SpaceRecord::apply(&mut record, at, event_type, &event.payload)
                        .map_err(decode)?;
                    if let Some(record) = record {
                        let bytes = serde_json::to_vec(&record)
                            .map_err(|e| ApplyError::Inconsistent(format!("space row: {e}")))?;
                        rows.put(SPACES, space.as_bytes(), &bytes)?;
                    }
                }
                Some((RootKind::Configuration, allocator, Producer::SafeSpace)) => {
                    let Some((province, kind)) = parse_allocator(allocator) else {
                        continue;
                    };
                    let Some(case) = allocator_case(event_type, &event.payload).map_err(decode)?
                    else {
                        continue;
                    };
                    let mut pathway = case_row(rows, &case)?;
                    pathway
                        .apply_allocator(at, &province, &kind, event_type, &event.payload)
                        .map_err(decode)?;
                    put_case(rows, &case, &pathway)?;
                }
                Some((RootKind::Facility, facility, Producer::Screening)) => {
                    use prost::Message;
                    let registered =
                        screening::FacilityRegistered::decode(event.payload.as_slice())
                            .map_err(decode)?;
                    rows.put(
                        FACILITIES,
                        facility.as_bytes(),
                        registered.province.as_bytes(),
                    )?;
                }
                Some((RootKind::Facility | RootKind::Organisation, id, Producer::Monitoring)) => {
                    use case_log_jetstream::contract::is;
                    use prost::Message;
                    if is::<monitoring::VisitRecorded>(event_type) {
                        let visit = monitoring::VisitRecorded::decode(event.payload.as_slice())
                            .map_err(decode)?;
                        let key = format!("{id}/{}", visit.visit_id);
                        rows.put(VISITS, key.as_bytes(), &event.payload)?;
                    } else if is::<monitoring::TrainingSessionRecorded>(event_type) {
                        let session =
                            monitoring::TrainingSessionRecorded::decode(event.payload.as_slice())
                                .map_err(decode)?;
                        let key = format!("{id}/{}", session.session_id);
                        rows.put(TRAINING, key.as_bytes(), &event.payload)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// The visits the projection keeps, for comparisons
/// (`visits::api::VisitIndex`): decoded with the monitoring record's codec.
pub struct Visits(pub projection_sled::ProjectionHandle);

impl crate::visits::api::VisitIndex for Visits {
    fn visits(
        &self,
        province: Option<&str>,
    ) -> Result<Vec<facility_monitoring::VisitRecorded>, ServiceError> {
        let rows = self.0.store().scan(VISITS, b"")?;
        let mut visits = Vec::with_capacity(rows.len());
        for (key, bytes) in rows {
            let event = contracts::log::v1::Event {
                event_type: case_log_jetstream::contract::event_type::<monitoring::VisitRecorded>(),
                schema_version: crate::visits::codec::WireEvent::SCHEMA_VERSION,
                payload: bytes,
                ..Default::default()
            };
            let Ok(Some(facility_monitoring::Event::VisitRecorded(visit))) =
                crate::visits::codec::decode(&event)
            else {
                return Err(ServiceError::Internal(format!(
                    "monitoring visit row {}",
                    String::from_utf8_lossy(&key)
                )));
            };
            if province.is_none_or(|p| visit.province.as_str() == p) {
                visits.push(visit);
            }
        }
        Ok(visits)
    }
}

/// Every training session recorded, with the province of its facility
/// (`none` for an organisation's own, or a facility not registered).
pub fn training(store: &ProjectionStore) -> Result<Vec<TrainingSession>, ServiceError> {
    use prost::Message;
    store
        .scan(TRAINING, b"")?
        .into_iter()
        .map(|(key, bytes)| {
            let key = String::from_utf8_lossy(&key).into_owned();
            let owner = key.split_once('/').map_or(key.as_str(), |(o, _)| o);
            let province = store.get(FACILITIES, owner.as_bytes())?.map_or_else(
                || "none".to_owned(),
                |p| String::from_utf8_lossy(&p).into_owned(),
            );
            let session =
                monitoring::TrainingSessionRecorded::decode(bytes.as_slice()).map_err(|e| {
                    ServiceError::Internal(format!("monitoring training row {key}: {e}"))
                })?;
            Ok(TrainingSession {
                province,
                topic: session.topic,
                held_on: session.held_on,
                participants: session.participants,
            })
        })
        .collect()
}

/// A staff training session as the indicators count it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingSession {
    pub province: String,
    pub topic: String,
    /// `YYYY-MM-DD`.
    pub held_on: String,
    pub participants: u32,
}

/// The province (upper case) and kind (with underscores) an allocator id
/// names: `allocator-rm-gbv-shelter` is RM, `gbv_shelter`.
pub fn parse_allocator(id: &str) -> Option<(String, String)> {
    let rest = id.strip_prefix("allocator-")?;
    let (province, kind) = rest.split_once('-')?;
    Some((province.to_ascii_uppercase(), kind.replace('-', "_")))
}

/// The case an allocator event is about (all carry `case_id` as field 1).
fn allocator_case(event_type: &str, payload: &[u8]) -> Result<Option<String>, prost::DecodeError> {
    use case_log_jetstream::contract::is;
    use prost::Message;
    let case = match event_type {
        t if is::<safe_space::PlaceRequested>(t) => {
            safe_space::PlaceRequested::decode(payload)?.case_id
        }
        t if is::<safe_space::PlaceReserved>(t) => {
            safe_space::PlaceReserved::decode(payload)?.case_id
        }
        t if is::<safe_space::ReturnedToWaitingList>(t) => {
            safe_space::ReturnedToWaitingList::decode(payload)?.case_id
        }
        t if is::<safe_space::RequestCancelled>(t) => {
            safe_space::RequestCancelled::decode(payload)?.case_id
        }
        t if is::<safe_space::PlaceReleased>(t) => {
            safe_space::PlaceReleased::decode(payload)?.case_id
        }
        t if is::<safe_space::HoldExpired>(t) => safe_space::HoldExpired::decode(payload)?.case_id,
        _ => return Ok(None),
    };
    Ok((!case.is_empty()).then_some(case))
}

fn case_row(rows: &Rows<'_>, case: &str) -> Result<CasePathway, ApplyError> {
    rows.get(CASES, case.as_bytes())?
        .map(|b| serde_json::from_slice(&b))
        .transpose()
        .map_err(|e| ApplyError::Inconsistent(format!("case row: {e}")))
        .map(Option::unwrap_or_default)
}

fn put_case(rows: &mut Rows<'_>, case: &str, pathway: &CasePathway) -> Result<(), ApplyError> {
    let bytes = serde_json::to_vec(pathway)
        .map_err(|e| ApplyError::Inconsistent(format!("case row: {e}")))?;
    rows.put(CASES, case.as_bytes(), &bytes)?;
    // The case's index entries move with it.
    let keys = case_index_keys(case, pathway)?;
    let stored = rows.get(CASE_INDEXED, case.as_bytes())?.unwrap_or_default();
    let indexed = decode_keys(&stored)
        .ok_or_else(|| ApplyError::Inconsistent(format!("case {case}'s index keys")))?;
    if indexed != keys {
        let entries = |keys: &[Vec<u8>]| -> Vec<projection_sled::store::IndexEntry> {
            keys.iter().map(|k| (k.clone(), Vec::new())).collect()
        };
        rows.reindex(CASE_INDEX, &entries(&indexed), &entries(&keys))?;
        rows.put(CASE_INDEXED, case.as_bytes(), &encode_keys(&keys))?;
    }
    Ok(())
}

/// A time as a key that sorts as the time does (nanoseconds, shifted
/// positive, fixed-width decimal).
fn time_key(at: time::OffsetDateTime) -> String {
    let shifted = at.unix_timestamp_nanos() + (1_i128 << 100);
    format!("{shifted:040}")
}

/// When a case counts as opened for exports: its opening time, or (old
/// events) its arrival.
pub fn opened_at(pathway: &CasePathway) -> Option<time::OffsetDateTime> {
    pathway
        .opened
        .as_ref()
        .and_then(|o| o.opened_at.or(o.arrived_at))
}

/// The index keys of one case (`CASE_INDEX`), sorted.
fn case_index_keys(case: &str, pathway: &CasePathway) -> Result<Vec<Vec<u8>>, ApplyError> {
    let mut keys = Vec::new();
    if let (Some(facts), Some(opened)) = (&pathway.facts, opened_at(pathway)) {
        let opened = time_key(opened);
        keys.push(format!("t\0{opened}\0{case}").into_bytes());
        keys.push(format!("tp\0{}\0{opened}\0{case}", facts.province).into_bytes());
    }
    // Every province recorded anywhere in the pathway: each observation of
    // the indicators is in one of them.
    let value = serde_json::to_value(pathway)
        .map_err(|e| ApplyError::Inconsistent(format!("case row: {e}")))?;
    let mut provinces = std::collections::BTreeSet::new();
    recorded_provinces(&value, &mut provinces);
    for province in provinces {
        keys.push(format!("p\0{province}\0{case}").into_bytes());
    }
    keys.sort();
    Ok(keys)
}

/// The values of every `province` field, at any depth (empty ones left out:
/// no filter names an empty province).
fn recorded_provinces<'a>(
    value: &'a serde_json::Value,
    into: &mut std::collections::BTreeSet<&'a str>,
) {
    match value {
        serde_json::Value::Object(fields) => {
            for (name, field) in fields {
                match field {
                    serde_json::Value::String(p) if name == "province" && !p.is_empty() => {
                        into.insert(p.as_str());
                    }
                    _ => recorded_provinces(field, into),
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                recorded_provinces(item, into);
            }
        }
        _ => {}
    }
}

fn encode_keys(keys: &[Vec<u8>]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for key in keys {
        bytes.extend_from_slice(&(key.len() as u16).to_be_bytes());
        bytes.extend_from_slice(key);
    }
    bytes
}

fn decode_keys(mut bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut keys = Vec::new();
    while let Some((len, rest)) = bytes.split_first_chunk::<2>() {
        let len = usize::from(u16::from_be_bytes(*len));
        keys.push(rest.get(..len)?.to_vec());
        bytes = &rest[len..];
    }
    bytes.is_empty().then_some(keys)
}

/// How many index entries and case rows a read of the index walked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexCost {
    pub entries: u64,
    pub rows: u64,
}

fn case_at(store: &ProjectionStore, case: &str) -> Result<(String, CasePathway), ServiceError> {
    let bytes = store
        .get(CASES, case.as_bytes())?
        .ok_or_else(|| ServiceError::Internal(format!("monitoring index names no case {case}")))?;
    serde_json::from_slice::<CasePathway>(&bytes)
        .map(|pathway| (case.to_owned(), pathway))
        .map_err(|e| ServiceError::Internal(format!("monitoring case row {case}: {e}")))
}

/// The cases opened (`opened_at`) in `[from, to)` with screening's facts,
/// in one of `provinces` (any when empty), by case id as `cases` lists them:
/// read from the index, the period's range of each province.
pub fn cases_opened(
    store: &ProjectionStore,
    provinces: &[String],
    from: Option<time::OffsetDateTime>,
    to: time::OffsetDateTime,
) -> Result<(Vec<(String, CasePathway)>, IndexCost), ServiceError> {
    let ranges: std::collections::BTreeSet<String> = if provinces.is_empty() {
        ["t\0".to_owned()].into()
    } else {
        provinces.iter().map(|p| format!("tp\0{p}\0")).collect()
    };
    let from = from.map(time_key).unwrap_or_default();
    let to = time_key(to);
    let mut ids = std::collections::BTreeSet::new();
    let mut cost = IndexCost::default();
    for within in &ranges {
        let after = format!("{within}{from}");
        cost.entries +=
            store.walk_after(CASE_INDEX, within.as_bytes(), after.as_bytes(), |key, _| {
                let rest = String::from_utf8_lossy(&key[within.len()..]).into_owned();
                let Some((opened, case)) = rest.split_once('\0') else {
                    return Ok(true);
                };
                if *opened >= *to {
                    return Ok(false);
                }
                ids.insert(case.to_owned());
                Ok(true)
            })?;
    }
    cost.rows = ids.len() as u64;
    let cases = ids
        .iter()
        .map(|case| case_at(store, case))
        .collect::<Result<_, _>>()?;
    Ok((cases, cost))
}

/// The cases any part of whose pathway was recorded in one of `provinces`
/// (every case when empty), by case id as `cases` lists them: each
/// observation of the indicators is in a province its case recorded, so
/// the indicators of these provinces computed on these cases are those
/// computed on every case.
pub fn cases_in(
    store: &ProjectionStore,
    provinces: &[String],
) -> Result<(Vec<(String, CasePathway)>, IndexCost), ServiceError> {
    if provinces.is_empty() {
        let cases = cases(store)?;
        let read = cases.len() as u64;
        return Ok((
            cases,
            IndexCost {
                entries: 0,
                rows: read,
            },
        ));
    }
    let mut ids = std::collections::BTreeSet::new();
    let mut cost = IndexCost::default();
    for province in provinces.iter().collect::<std::collections::BTreeSet<_>>() {
        let within = format!("p\0{province}\0");
        cost.entries += store.walk_after(
            CASE_INDEX,
            within.as_bytes(),
            within.as_bytes(),
            |key, _| {
                ids.insert(String::from_utf8_lossy(&key[within.len()..]).into_owned());
                Ok(true)
            },
        )?;
    }
    cost.rows = ids.len() as u64;
    let cases = ids
        .iter()
        .map(|case| case_at(store, case))
        .collect::<Result<_, _>>()?;
    Ok((cases, cost))
}

/// Every case's pathway (case id, pathway), read from the store; a row
/// that does not decode is an internal error, never a shorter list.
pub fn cases(store: &ProjectionStore) -> Result<Vec<(String, CasePathway)>, ServiceError> {
    store
        .scan(CASES, b"")?
        .into_iter()
        .map(|(key, bytes)| {
            let case = String::from_utf8_lossy(&key).into_owned();
            serde_json::from_slice::<CasePathway>(&bytes)
                .map(|pathway| (case.clone(), pathway))
                .map_err(|e| ServiceError::Internal(format!("monitoring case row {case}: {e}")))
        })
        .collect()
}

/// Every safe space's record.
pub fn spaces(store: &ProjectionStore) -> Result<Vec<SpaceRecord>, ServiceError> {
    Ok(store.scan_decoded(SPACES, b"", |bytes| {
        serde_json::from_slice::<SpaceRecord>(bytes)
    })?)
}

/// How many events of each type not on the allowlist were skipped.
pub fn skipped(store: &ProjectionStore) -> Result<Vec<(String, u64)>, projection_sled::StoreError> {
    Ok(store
        .scan(SKIPPED, b"")?
        .into_iter()
        .map(|row| {
            let count = <[u8; 8]>::try_from(row.1.as_slice()).map_or(0, u64::from_be_bytes);
            (String::from_utf8_lossy(&row.0).into_owned(), count)
        })
        .collect())
}
