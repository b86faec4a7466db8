//! The safe-space service's projection: the index its watcher and its
//! queries start from. Which allocators exist, which allocators each case
//! has a request open in, each hold's deadline, and the cases screening
//! closed or erased or with a referral that ended (for the watcher's
//! candidates); the allocator commits a case's own record does not mirror
//! yet; who occupies which space since which commit, each space's manager
//! and each case's last placement by screening (transfers); the spaces
//! registered but not yet in their allocator. The figures themselves (occupancy, the waiting list, where
//! a case stands) are folded from the allocator's own history when asked,
//! so an answer is never behind the log's last commit on that allocator.

use case_log_jetstream::{Producer, RecordedCommit, RootKind};
use projection_sled::{ApplyError, Consumes, Projection, ProjectionStore, Rows};
use service_runtime::ServiceError;
use time::OffsetDateTime;

use case_log_jetstream::contract::is;
use contracts::referral::v1 as referral;
use contracts::screening::v1 as screening;

use crate::codec::WireEvent;

const ALLOCATORS: &str = "allocators";
const CASE_ALLOCATORS: &str = "case_allocators";
const HOLDS: &str = "holds";
const ENDED: &str = "ended_cases";
/// Cases whose screening urgency may have changed, with the sequence of the
/// last such screening commit (the watcher compares each with its waiting
/// entry once per change).
const URGENCY: &str = "urgency_changed";
/// `case/allocator`: requests with places to avoid whose needs key is not
/// yet recorded destroyed (for the watcher, when the case is erased).
const AVOID_KEPT: &str = "avoid_kept";
/// `<case>/<allocator>/<sequence, 20 digits>`: an allocator commit that
/// concerns the case, until the case's record mirrors it.
const MIRRORS: &str = "mirrors_due";
/// `<case>/<allocator>` -> `<arrival's allocator sequence>/<space>`: the case occupies that space.
const ARRIVALS: &str = "arrivals";
/// `<space>` -> its managing organisation (from the allocator's `SpaceAdded`).
const MANAGERS: &str = "space_managers";
/// `<case>` -> `<log sequence>/<facility>` of screening's last placement of the case.
const PLACED: &str = "placed";
/// `<allocator>/<space>`: registered in the registry, not yet in its allocator.
const REGISTERED: &str = "registered_not_added";

pub struct SafeSpaceProjection;

impl Projection for SafeSpaceProjection {
    fn name(&self) -> &'static str {
        "safe-space"
    }

    fn producer(&self) -> Option<Producer> {
        Some(Producer::SafeSpace)
    }

    /// The screening service's case subjects (closures, erasures), the
    /// referral service's (referrals revoked, cancelled, failed) and all of its own.
    fn consumes(&self) -> Consumes {
        let mut subjects =
            case_log_jetstream::producer_subjects(RootKind::Case, Producer::Screening).to_vec();
        subjects.extend(case_log_jetstream::producer_subjects(
            RootKind::Case,
            Producer::Referral,
        ));
        subjects.extend(case_log_jetstream::subject::producer_publish_subjects(
            Producer::SafeSpace,
        ));
        Consumes::Subjects(subjects)
    }

    /// 3: the case records to repair, arrivals, placements and registrations;
    /// urgency changes and places to avoid kept (issue 12).
    fn shape(&self) -> u32 {
        3
    }

    fn apply(&self, rows: &mut Rows<'_>, commit: &RecordedCommit) -> Result<(), ApplyError> {
        let allocator = match commit.aggregate() {
            Some((RootKind::Case, case, Producer::Screening)) => {
                for event in &commit.commit.events {
                    if is::<screening::CasePlaced>(&event.event_type)
                        && let Ok(placed) = <screening::CasePlaced as prost::Message>::decode(
                            event.payload.as_slice(),
                        )
                    {
                        let value = format!("{}/{}", commit.sequence, placed.facility_id);
                        rows.put(PLACED, case.as_bytes(), value.as_bytes())?;
                    }
                }
                let ends = commit.commit.events.iter().any(|e| {
                    is::<screening::CaseClosed>(&e.event_type)
                        || is::<screening::PersonalDataErased>(&e.event_type)
                });
                if ends {
                    rows.put(ENDED, case.as_bytes(), b"")?;
                }
                let urgency = commit.commit.events.iter().any(|e| {
                    is::<screening::PreliminaryCheckRecorded>(&e.event_type)
                        || is::<screening::VulnerabilitySignalRaised>(&e.event_type)
                        || is::<screening::AssessmentRecorded>(&e.event_type)
                });
                if urgency {
                    rows.put(URGENCY, case.as_bytes(), &commit.sequence.to_be_bytes())?;
                }
                return Ok(());
            }
            Some((RootKind::Case, case, Producer::Referral)) => {
                let ends = commit.commit.events.iter().any(|e| {
                    is::<referral::ReferralRevoked>(&e.event_type)
                        || is::<referral::ReferralCancelled>(&e.event_type)
                        || is::<referral::ReferralFailed>(&e.event_type)
                });
                if ends {
                    rows.put(ENDED, case.as_bytes(), b"")?;
                }
                return Ok(());
            }
            Some((RootKind::Case, case, Producer::SafeSpace)) => {
                for event in &commit.commit.events {
                    let wire = decode(event)?;
                    if let Some(mirrors) = crate::case_record::mirrored_commit(&wire) {
                        rows.delete(
                            MIRRORS,
                            &mirror_key(case, &mirrors.allocator_id, mirrors.sequence),
                        )?;
                    }
                }
                return Ok(());
            }
            Some((RootKind::Facility, space, Producer::SafeSpace)) => {
                for event in &commit.commit.events {
                    if let WireEvent::SafeSpaceRegistered(registered) = decode(event)?
                        && let Ok(profile) =
                            crate::codec::profile_from_wire(registered.profile.as_ref())
                    {
                        let allocator =
                            crate::aggregate::allocator_id(&profile.province, profile.kind);
                        rows.put(REGISTERED, format!("{allocator}/{space}").as_bytes(), b"")?;
                    }
                }
                return Ok(());
            }
            Some((RootKind::Configuration, allocator, Producer::SafeSpace)) => allocator,
            _ => return Ok(()),
        };
        if !allocator.starts_with("allocator-") {
            return Ok(());
        }
        rows.put(ALLOCATORS, allocator.as_bytes(), b"")?;
        for event in &commit.commit.events {
            let wire = decode(event)?;
            let key = |case: &str| format!("{case}/{allocator}").into_bytes();
            let hold = |case: &str| format!("{allocator}/{case}").into_bytes();
            if let Some(case) = concerned_case(&wire) {
                rows.put(MIRRORS, &mirror_key(case, allocator, commit.sequence), b"")?;
            }
            match &wire {
                WireEvent::SpaceAdded(e) => {
                    rows.put(
                        MANAGERS,
                        e.space_id.as_bytes(),
                        e.organisation_id.as_bytes(),
                    )?;
                    rows.delete(REGISTERED, format!("{allocator}/{}", e.space_id).as_bytes())?;
                }
                WireEvent::ArrivalConfirmed(e) => {
                    let value = format!("{}/{}", commit.sequence, e.space_id);
                    rows.put(ARRIVALS, &key(&e.case_id), value.as_bytes())?;
                }
                WireEvent::PlaceReleased(e) => rows.delete(ARRIVALS, &key(&e.case_id))?,
                _ => {}
            }
            match wire {
                WireEvent::PlaceRequested(e) => {
                    rows.put(CASE_ALLOCATORS, &key(&e.case_id), allocator.as_bytes())?;
                    if e.sealed_avoid.is_some() {
                        rows.put(AVOID_KEPT, &key(&e.case_id), allocator.as_bytes())?
                    }
                }
                WireEvent::AvoidListDestroyed(e) => rows.delete(AVOID_KEPT, &key(&e.case_id))?,
                WireEvent::PlaceReserved(e) => {
                    let until = e
                        .held_until
                        .as_ref()
                        .and_then(case_log_jetstream::envelope::from_timestamp)
                        .map(|t| t.unix_timestamp())
                        .unwrap_or(i64::MAX);
                    rows.put(HOLDS, &hold(&e.case_id), &until.to_be_bytes())?
                }
                WireEvent::ArrivalConfirmed(e) => rows.delete(HOLDS, &hold(&e.case_id))?,
                WireEvent::ReturnedToWaitingList(e) => rows.delete(HOLDS, &hold(&e.case_id))?,
                WireEvent::RequestCancelled(e) => {
                    rows.delete(HOLDS, &hold(&e.case_id))?;
                    rows.delete(CASE_ALLOCATORS, &key(&e.case_id))?
                }
                WireEvent::UrgencyRefreshed(_) => {}
                WireEvent::PlaceReleased(e) => {
                    rows.delete(HOLDS, &hold(&e.case_id))?;
                    rows.delete(CASE_ALLOCATORS, &key(&e.case_id))?
                }
                WireEvent::HoldExpired(e) => {
                    rows.delete(HOLDS, &hold(&e.case_id))?;
                    rows.delete(CASE_ALLOCATORS, &key(&e.case_id))?
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn decode(event: &contracts::log::v1::Event) -> Result<WireEvent, ApplyError> {
    WireEvent::decode(event).map_err(|e| ApplyError::Decode {
        event_type: event.event_type.clone(),
        reason: e.to_string(),
    })
}

fn mirror_key(case: &str, allocator: &str, sequence: u64) -> Vec<u8> {
    format!("{case}/{allocator}/{sequence:020}").into_bytes()
}

/// The case whose standing an allocator event changes (the case's record mirrors it).
fn concerned_case(event: &WireEvent) -> Option<&str> {
    Some(match event {
        WireEvent::PlaceRequested(e) => &e.case_id,
        WireEvent::PlaceReserved(e) => &e.case_id,
        WireEvent::ReturnedToWaitingList(e) => &e.case_id,
        WireEvent::ArrivalConfirmed(e) => &e.case_id,
        WireEvent::RequestCancelled(e) => &e.case_id,
        WireEvent::PlaceReleased(e) => &e.case_id,
        WireEvent::HoldExpired(e) => &e.case_id,
        _ => return None,
    })
}

fn store_error(error: impl std::fmt::Display) -> ServiceError {
    ServiceError::internal(format_args!("the safe-space projection: {error}"))
}

/// The allocators a case has a request open in (as projected).
pub fn case_allocators(store: &ProjectionStore, case: &str) -> Result<Vec<String>, ServiceError> {
    Ok(store
        .scan(CASE_ALLOCATORS, format!("{case}/").as_bytes())
        .map_err(store_error)?
        .into_iter()
        .filter_map(|(_, value)| String::from_utf8(value).ok())
        .collect())
}

/// Allocators with a hold whose deadline passed by `now`.
pub fn holds_due(
    store: &ProjectionStore,
    now: OffsetDateTime,
) -> Result<Vec<String>, ServiceError> {
    let mut due: Vec<String> = Vec::new();
    for (key, value) in store.scan(HOLDS, b"").map_err(store_error)? {
        let until = <[u8; 8]>::try_from(value.as_slice())
            .map(i64::from_be_bytes)
            .map_err(|_| store_error("a hold row is not a time"))?;
        if until <= now.unix_timestamp() {
            let key = String::from_utf8(key).map_err(store_error)?;
            if let Some((allocator, _)) = key.split_once('/')
                && due.last().map(String::as_str) != Some(allocator)
            {
                due.push(allocator.to_owned());
            }
        }
    }
    Ok(due)
}

/// Allocators where a case whose case ended (closed, erased) still has a
/// request open, or places to avoid whose key is kept, with those cases (the
/// watcher confirms each from the log).
pub fn ended_cases(store: &ProjectionStore) -> Result<Vec<(String, String)>, ServiceError> {
    let mut found = Vec::new();
    for (case, _) in store.scan(ENDED, b"").map_err(store_error)? {
        let case = String::from_utf8(case).map_err(store_error)?;
        for allocator in case_allocators(store, &case)?
            .into_iter()
            .chain(avoid_kept(store, &case)?)
        {
            found.push((allocator, case.clone()));
        }
    }
    Ok(found)
}

/// The allocators where the case's places to avoid are kept (as projected).
pub fn avoid_kept(store: &ProjectionStore, case: &str) -> Result<Vec<String>, ServiceError> {
    Ok(store
        .scan(AVOID_KEPT, format!("{case}/").as_bytes())
        .map_err(store_error)?
        .into_iter()
        .filter_map(|(_, value)| String::from_utf8(value).ok())
        .collect())
}

/// Allocators where a case whose screening urgency changed after `checked`
/// says it was last compared has a request open (the watcher compares each
/// with the case's facts from the log).
pub fn urgency_changed(
    store: &ProjectionStore,
    checked: impl Fn(&str) -> u64,
) -> Result<Vec<String>, ServiceError> {
    let mut found = Vec::new();
    for (case, sequence) in store.scan(URGENCY, b"").map_err(store_error)? {
        let case = String::from_utf8(case).map_err(store_error)?;
        if sequence_of(&sequence)? > checked(&case) {
            found.extend(case_allocators(store, &case)?);
        }
    }
    Ok(found)
}

/// The sequence of the last screening commit that may have changed the
/// case's urgency (as projected), if any.
pub fn urgency_changed_at(
    store: &ProjectionStore,
    case: &str,
) -> Result<Option<u64>, ServiceError> {
    store
        .get(URGENCY, case.as_bytes())
        .map_err(store_error)?
        .map(|value| sequence_of(&value))
        .transpose()
}

fn sequence_of(value: &[u8]) -> Result<u64, ServiceError> {
    <[u8; 8]>::try_from(value)
        .map(u64::from_be_bytes)
        .map_err(|_| store_error("an urgency row is not a sequence"))
}

/// Whether screening ended the case (as projected).
pub fn case_ended(store: &ProjectionStore, case: &str) -> Result<bool, ServiceError> {
    Ok(store
        .get(ENDED, case.as_bytes())
        .map_err(store_error)?
        .is_some())
}

/// The cases whose record lacks an allocator commit that concerns them (as projected).
pub fn cases_to_mirror(store: &ProjectionStore) -> Result<Vec<String>, ServiceError> {
    let mut cases: Vec<String> = Vec::new();
    for (key, _) in store.scan(MIRRORS, b"").map_err(store_error)? {
        let key = String::from_utf8(key).map_err(store_error)?;
        if let Some((case, _)) = key.split_once('/')
            && cases.last().map(String::as_str) != Some(case)
        {
            cases.push(case.to_owned());
        }
    }
    Ok(cases)
}

/// The allocator commits (allocator, sequence) concerning `case` not yet in its record.
pub fn mirrors_due(
    store: &ProjectionStore,
    case: &str,
) -> Result<Vec<(String, u64)>, ServiceError> {
    let mut due = Vec::new();
    for (key, _) in store
        .scan(MIRRORS, format!("{case}/").as_bytes())
        .map_err(store_error)?
    {
        let key = String::from_utf8(key).map_err(store_error)?;
        let mut parts = key.rsplitn(2, '/');
        let sequence = parts.next().and_then(|s| s.parse::<u64>().ok());
        let allocator = parts
            .next()
            .and_then(|rest| rest.split_once('/'))
            .map(|(_, a)| a);
        if let (Some(sequence), Some(allocator)) = (sequence, allocator) {
            due.push((allocator.to_owned(), sequence));
        }
    }
    Ok(due)
}

/// Allocators where a case occupies a space and screening placed it, after
/// its arrival, in a facility that is neither the space nor its managing
/// organisation (the watcher confirms each from the log).
pub fn transfers_due(store: &ProjectionStore) -> Result<Vec<String>, ServiceError> {
    let mut due = Vec::new();
    for (case, placed) in store.scan(PLACED, b"").map_err(store_error)? {
        let case = String::from_utf8(case).map_err(store_error)?;
        let placed = String::from_utf8(placed).map_err(store_error)?;
        let Some((placed_at, facility)) = placed
            .split_once('/')
            .and_then(|(s, f)| Some((s.parse::<u64>().ok()?, f)))
        else {
            continue;
        };
        for (key, arrival) in store
            .scan(ARRIVALS, format!("{case}/").as_bytes())
            .map_err(store_error)?
        {
            let key = String::from_utf8(key).map_err(store_error)?;
            let arrival = String::from_utf8(arrival).map_err(store_error)?;
            let Some((arrived_at, space)) = arrival
                .split_once('/')
                .and_then(|(s, space)| Some((s.parse::<u64>().ok()?, space)))
            else {
                continue;
            };
            let manager = store
                .get(MANAGERS, space.as_bytes())
                .map_err(store_error)?
                .and_then(|m| String::from_utf8(m).ok());
            if placed_at > arrived_at
                && facility != space
                && manager.as_deref() != Some(facility)
                && let Some((_, allocator)) = key.split_once('/')
            {
                due.push(allocator.to_owned());
            }
        }
    }
    Ok(due)
}

/// Spaces registered but not yet in their allocator: (allocator, space).
pub fn registrations_due(store: &ProjectionStore) -> Result<Vec<(String, String)>, ServiceError> {
    let mut due = Vec::new();
    for (key, _) in store.scan(REGISTERED, b"").map_err(store_error)? {
        let key = String::from_utf8(key).map_err(store_error)?;
        if let Some((allocator, space)) = key.split_once('/') {
            due.push((allocator.to_owned(), space.to_owned()));
        }
    }
    Ok(due)
}
