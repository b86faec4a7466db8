//! The screening record's reaction to an arrival in a safe space: when the
//! case's safe-space record (`approdo.case.<case>.safe-space`, read from the
//! log and trusted only as the safe-space service's on its own subject)
//! says the person arrived in a space and still occupies it, screening's
//! watcher records the move as screening's own `CasePlaced` (request id
//! `safe-space-arrival.<case>.<space>.<record sequence>`), decided by the
//! screening domain like any placement (a closed case is refused; the
//! detention rule does not apply to a shelter), so that jurisdiction follows
//! the person and the old facility loses access.
//!
//! Where the person is placed: if the space's managing organisation (from
//! the safe-space registry's `SafeSpaceRegistered` in the log) is a facility
//! registered in screening's facility registry (a reception centre running a
//! women-only area or room), into that facility, with its registered
//! province and kind; otherwise into the space's opaque public id, kind
//! `shelter`, in the space's province. Never the space's name or address.
//! A placement recorded after the arrival supersedes it (nothing is placed);
//! a person already in that facility is not placed again.
//!
//! *Decision*: screening records it; the safe-space service does not call
//! screening's `PlaceCase` (it would publish on screening's subjects, or act
//! as a reception operator it is not).

use case_log_jetstream::contract::is;
use case_log_jetstream::{Producer, RecordedCommit, RootKind};
use case_screening::{Command, FacilityId, FacilityKind, Placement, Province, State};
use contracts::safe_space::v1 as safe_space;
use prost::Message;
use service_runtime::kernel::fold;
use service_runtime::{Kernel, ServiceError};
use time::OffsetDateTime;

use crate::facilities::FacilityRegistration;

/// The request ids of these placements start with this.
pub const PREFIX: &str = "safe-space-arrival.";

/// `safe-space-arrival.<case>.<space>.<log sequence of the record's arrival>`.
pub fn request_id(case: &str, space: &str, sequence: u64) -> String {
    format!("{PREFIX}{case}.{space}.{sequence}")
}

/// An arrival the case's safe-space record holds and has not ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    pub space_id: String,
    pub sequence: u64,
    pub at: OffsetDateTime,
}

/// The arrival the case's record says is current: the last confirmed in an
/// allocator, unless that allocator released the place since.
pub fn current_arrival(record: &[RecordedCommit]) -> Option<Arrival> {
    let mut current: Option<(String, Arrival)> = None;
    for commit in record {
        for event in &commit.commit.events {
            let (t, payload) = (event.event_type.as_str(), event.payload.as_slice());
            if is::<safe_space::CaseArrivalConfirmed>(t) {
                if let Ok(e) = safe_space::CaseArrivalConfirmed::decode(payload) {
                    let allocator = e.mirrors.map(|m| m.allocator_id).unwrap_or_default();
                    let at =
                        e.at.as_ref()
                            .and_then(case_log_jetstream::envelope::from_timestamp);
                    if let Some(at) = at {
                        current = Some((
                            allocator,
                            Arrival {
                                space_id: e.space_id,
                                sequence: commit.sequence,
                                at,
                            },
                        ));
                    }
                }
            } else if is::<safe_space::CasePlaceReleased>(t)
                && let Ok(e) = safe_space::CasePlaceReleased::decode(payload)
            {
                let allocator = e.mirrors.map(|m| m.allocator_id).unwrap_or_default();
                if current.as_ref().is_some_and(|(a, _)| *a == allocator) {
                    current = None;
                }
            }
        }
    }
    current.map(|(_, arrival)| arrival)
}

/// What the record's current arrival calls for, read from the log: the
/// request id and the placement, unless screening already recorded it.
pub async fn due_placement(
    kernel: &Kernel,
    case_id: &str,
) -> Result<Option<(String, Placement)>, ServiceError> {
    let record = kernel
        .history_of(RootKind::Case, case_id, Producer::SafeSpace)
        .await?;
    let Some(arrival) = current_arrival(&record) else {
        return Ok(None);
    };
    let request_id = request_id(case_id, &arrival.space_id, arrival.sequence);
    let screening = kernel
        .history_of(RootKind::Case, case_id, Producer::Screening)
        .await?;
    if screening.iter().any(|c| c.request_id() == request_id) {
        return Ok(None);
    }
    // A placement recorded after the arrival (the person moved on before
    // this reaction ran) supersedes it: the safe-space service releases the
    // place on that transfer.
    let placed_since = screening.iter().any(|c| {
        c.sequence > arrival.sequence
            && c.commit
                .events
                .iter()
                .any(|e| is::<contracts::screening::v1::CasePlaced>(&e.event_type))
    });
    if placed_since {
        return Ok(None);
    }
    // The space as the registry recorded it (no name, no address).
    let registry = kernel
        .history_of(RootKind::Facility, &arrival.space_id, Producer::SafeSpace)
        .await?;
    let Some(profile) = registry
        .iter()
        .flat_map(|c| c.commit.events.iter())
        .filter(|e| is::<safe_space::SafeSpaceRegistered>(&e.event_type))
        .find_map(|e| safe_space::SafeSpaceRegistered::decode(e.payload.as_slice()).ok())
        .and_then(|registered| registered.profile)
    else {
        return Ok(None);
    };
    // A manager registered as a reception facility: the person is placed there.
    let manager = match FacilityId::parse(&profile.organisation_id) {
        Ok(id) => {
            let history = kernel.history::<FacilityRegistration>(id.as_str()).await?;
            fold::<FacilityRegistration>(&(), &history)
                .map_err(|e| {
                    ServiceError::internal(format_args!("a facility's registration: {e}"))
                })?
                .facility
        }
        Err(_) => None,
    };
    let placement = match manager {
        Some(facility) => Placement {
            facility_id: facility.facility_id,
            province: facility.province,
            facility_kind: facility.kind,
            placed_at: arrival.at,
            arrival_due_at: None,
            detention: None,
        },
        None => {
            let (Ok(facility_id), Ok(province)) = (
                FacilityId::parse(&arrival.space_id),
                Province::parse(&profile.province),
            ) else {
                return Ok(None);
            };
            Placement {
                facility_id,
                province,
                facility_kind: FacilityKind::Shelter,
                placed_at: arrival.at,
                arrival_due_at: None,
                detention: None,
            }
        }
    };
    Ok(Some((request_id, placement)))
}

/// The placement due on the case as it is now: none for a closed case or a
/// person already there; placed no earlier than the case's opening and no
/// later than now.
pub fn due_command(
    state: &State,
    arrival: Option<&(String, Placement)>,
    now: OffsetDateTime,
) -> Option<(String, Command)> {
    let (request_id, placement) = arrival?;
    let opened = state.opened.as_ref()?;
    if state.closed {
        return None;
    }
    let current = state
        .placement
        .as_ref()
        .map_or(&opened.facility_id, |p| &p.facility_id);
    if *current == placement.facility_id {
        return None;
    }
    let mut placement = placement.clone();
    placement.placed_at = placement.placed_at.max(opened.arrived_at).min(now);
    Some((request_id.clone(), Command::Place(placement)))
}

#[cfg(test)]
mod tests {
    use case_screening::{AgeBand, CaseId, Event, OpenCase, PlaceCode, Sex};
    use contracts::log::v1 as log;
    use time::macros::datetime;

    use super::*;

    const ARRIVED: OffsetDateTime = datetime!(2026-06-19 10:00 UTC);
    const NOW: OffsetDateTime = datetime!(2026-06-20 10:00 UTC);

    fn commit(sequence: u64, event: (String, Vec<u8>)) -> RecordedCommit {
        RecordedCommit {
            sequence,
            subject: "approdo.case.c.safe-space".to_owned(),
            recorded_at: OffsetDateTime::UNIX_EPOCH,
            commit: log::Commit {
                events: vec![log::Event {
                    event_type: event.0,
                    schema_version: 1,
                    payload: event.1,
                    ..Default::default()
                }],
                ..Default::default()
            },
        }
    }

    fn mirrors(allocator: &str) -> Option<safe_space::AllocatorCommit> {
        Some(safe_space::AllocatorCommit {
            allocator_id: allocator.to_owned(),
            ..Default::default()
        })
    }

    fn arrived(allocator: &str, space: &str) -> (String, Vec<u8>) {
        (
            <safe_space::CaseArrivalConfirmed as prost::Name>::full_name(),
            safe_space::CaseArrivalConfirmed {
                case_id: "c".to_owned(),
                mirrors: mirrors(allocator),
                space_id: space.to_owned(),
                at: Some(case_log_jetstream::envelope::timestamp(NOW)),
                ..Default::default()
            }
            .encode_to_vec(),
        )
    }

    fn released(allocator: &str) -> (String, Vec<u8>) {
        (
            <safe_space::CasePlaceReleased as prost::Name>::full_name(),
            safe_space::CasePlaceReleased {
                case_id: "c".to_owned(),
                mirrors: mirrors(allocator),
                reason: "discharge".to_owned(),
                ..Default::default()
            }
            .encode_to_vec(),
        )
    }

    /// The last arrival holds until its allocator releases it.
    #[test]
    fn the_current_arrival_is_the_last_one_not_released() {
        let first = commit(4, arrived("allocator-ag-gbv-shelter", "space-a"));
        assert_eq!(
            current_arrival(std::slice::from_ref(&first)),
            Some(Arrival {
                space_id: "space-a".to_owned(),
                sequence: 4,
                at: NOW
            })
        );
        // Another allocator's release ends nothing here.
        let other = commit(6, released("allocator-ag-trafficking-shelter"));
        assert!(current_arrival(&[first.clone(), other]).is_some());
        let ended = commit(7, released("allocator-ag-gbv-shelter"));
        assert_eq!(current_arrival(&[first.clone(), ended.clone()]), None);
        let again = commit(9, arrived("allocator-ag-gbv-shelter", "space-b"));
        assert_eq!(
            current_arrival(&[first, ended, again]).map(|a| (a.space_id, a.sequence)),
            Some(("space-b".to_owned(), 9))
        );
    }

    fn opened() -> State {
        State::default().evolve(&Event::CaseOpened(OpenCase {
            case_id: CaseId::parse("c").expect("id"),
            arrival_place: PlaceCode::parse("LAMPEDUSA").expect("place"),
            arrived_at: ARRIVED,
            province: Province::parse("AG").expect("province"),
            facility_id: FacilityId::parse("hotspot-lampedusa").expect("facility"),
            facility_kind: Some(FacilityKind::Hotspot),
            opened_at: Some(ARRIVED),
            family_links: vec![],
            application_date: None,
            age_band: AgeBand::Unknown,
            sex: Sex::Female,
        }))
    }

    fn into_shelter(at: OffsetDateTime) -> (String, Placement) {
        (
            request_id("c", "space-a", 4),
            Placement {
                facility_id: FacilityId::parse("space-a").expect("id"),
                province: Province::parse("AG").expect("province"),
                facility_kind: FacilityKind::Shelter,
                placed_at: at,
                arrival_due_at: None,
                detention: None,
            },
        )
    }

    /// A placement due once, never for a closed case or a person already
    /// there, never before the case's opening or after now.
    #[test]
    fn an_arrival_is_placed_once_on_an_open_case_within_its_times() {
        let state = opened();
        let due = due_command(
            &state,
            Some(&into_shelter(NOW + time::Duration::hours(1))),
            NOW,
        );
        let Some((request_id, Command::Place(placement))) = due else {
            panic!("a placement is due: {due:?}");
        };
        assert_eq!(request_id, "safe-space-arrival.c.space-a.4");
        assert_eq!(placement.placed_at, NOW, "never after now");
        let early = due_command(
            &state,
            Some(&into_shelter(ARRIVED - time::Duration::days(3))),
            NOW,
        );
        assert!(matches!(early, Some((_, Command::Place(p))) if p.placed_at == ARRIVED));
        assert_eq!(due_command(&state, None, NOW), None);
        let placed = state
            .clone()
            .evolve(&Event::CasePlaced(into_shelter(NOW).1));
        assert_eq!(
            due_command(&placed, Some(&into_shelter(NOW)), NOW),
            None,
            "already there"
        );
        let closed = State {
            closed: true,
            ..state
        };
        assert_eq!(due_command(&closed, Some(&into_shelter(NOW)), NOW), None);
    }
}
