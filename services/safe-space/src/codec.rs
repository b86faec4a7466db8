//! The safe-space service's event contract (domain <-> wire): the registry's
//! events on a space's subject, the allocator's on its own. Ids and codes
//! only; a space's real name and address travel only sealed with the space's
//! key (`SafeSpaceRegistered.sealed_location`, sealed by the API before the
//! kernel runs, carried here by the aggregate's context); a request's places
//! to avoid travel only sealed with the case's needs key
//! (`PlaceRequested.sealed_avoid`, sealed and opened by `needs::AvoidCodec`).

use case_log_jetstream::DecodeError;
use case_log_jetstream::envelope::{from_timestamp, timestamp};
use contracts::log::v1 as log;
use contracts::person::v1::EncryptedMessage;
use contracts::safe_space::v1 as wire;
use pathway::{AgeBand, Urgency};
use safe_space_allocation::allocator::Event as AllocatorEvent;
use safe_space_allocation::space::Event as SpaceEvent;
use safe_space_allocation::{
    Capacity, CaseId, DisclosurePurpose, Eligibility, Language, Needs, OrganisationId, Province,
    ReferralId, ReleaseReason, ReservationReason, Sex, SpaceId, SpaceKind, SpaceProfile, Unit,
};
use service_runtime::ServiceError;
use time::OffsetDateTime;

use crate::needs::AvoidCodec;

case_log_jetstream::event_contract! {
    /// A safe-space event as stored in the log: the one declaration of the
    /// safe-space service's events (type names come from `proto/`).
    pub enum WireEvent: wire, schema 1 {
        SafeSpaceRegistered,
        SafeSpaceCapacityChanged,
        SafeSpaceClosed,
        SpaceAdded,
        SpaceCapacityChanged,
        SpaceClosed,
        PlaceRequested,
        PlaceReserved,
        ReturnedToWaitingList,
        ArrivalConfirmed,
        RequestCancelled,
        PlaceReleased,
        HoldExpired,
        LocationDisclosed,
        UrgencyRefreshed,
        AvoidListDestroyed,
        CasePlaceRequested,
        CasePlaceReserved,
        CaseReturnedToWaitingList,
        CaseArrivalConfirmed,
        CaseRequestCancelled,
        CasePlaceReleased,
        CaseHoldExpired,
    }
}

fn ts(at: OffsetDateTime) -> Option<prost_types::Timestamp> {
    Some(timestamp(at))
}

pub fn capacity_to_wire(capacity: Capacity) -> wire::Capacity {
    wire::Capacity {
        beds: capacity.beds,
        family_rooms: capacity.family_rooms,
    }
}

pub fn capacity_from_wire(capacity: Option<&wire::Capacity>) -> Capacity {
    capacity
        .map(|c| Capacity {
            beds: c.beds,
            family_rooms: c.family_rooms,
        })
        .unwrap_or_default()
}

pub fn eligibility_to_wire(eligibility: &Eligibility) -> wire::Eligibility {
    wire::Eligibility {
        sexes: eligibility
            .sexes
            .iter()
            .map(|s| s.code().to_owned())
            .collect(),
        age_bands: eligibility
            .age_bands
            .iter()
            .map(|b| b.code().to_owned())
            .collect(),
        families_with_children: eligibility.families_with_children,
        accessible: eligibility.accessible,
        languages: eligibility
            .languages
            .iter()
            .map(|l| l.as_str().to_owned())
            .collect(),
        family_room_persons: u32::from(eligibility.family_room_persons),
    }
}

/// A wire eligibility, each code checked (the field named on failure).
pub fn eligibility_from_wire(
    eligibility: Option<&wire::Eligibility>,
) -> Result<Eligibility, &'static str> {
    let Some(e) = eligibility else {
        return Ok(Eligibility::default());
    };
    Ok(Eligibility {
        sexes: e
            .sexes
            .iter()
            .map(|s| Sex::from_code(s).map_err(|_| "eligibility.sexes"))
            .collect::<Result<_, _>>()?,
        age_bands: e
            .age_bands
            .iter()
            .map(|b| AgeBand::from_code(b).map_err(|_| "eligibility.age_bands"))
            .collect::<Result<_, _>>()?,
        families_with_children: e.families_with_children,
        accessible: e.accessible,
        languages: e
            .languages
            .iter()
            .map(|l| Language::parse(l).map_err(|_| "eligibility.languages"))
            .collect::<Result<_, _>>()?,
        family_room_persons: u8::try_from(e.family_room_persons)
            .map_err(|_| "eligibility.family_room_persons")?,
    })
}

pub fn profile_to_wire(profile: &SpaceProfile) -> wire::SpaceProfile {
    wire::SpaceProfile {
        kind: profile.kind.code().to_owned(),
        organisation_id: profile.organisation.to_string(),
        province: profile.province.to_string(),
        capacity: Some(capacity_to_wire(profile.capacity)),
        eligibility: Some(eligibility_to_wire(&profile.eligibility)),
    }
}

pub fn profile_from_wire(
    profile: Option<&wire::SpaceProfile>,
) -> Result<SpaceProfile, &'static str> {
    let p = profile.ok_or("profile")?;
    Ok(SpaceProfile {
        kind: SpaceKind::from_code(&p.kind).map_err(|_| "profile.kind")?,
        organisation: OrganisationId::parse(&p.organisation_id)
            .map_err(|_| "profile.organisation_id")?,
        province: Province::parse(&p.province).map_err(|_| "profile.province")?,
        capacity: capacity_from_wire(p.capacity.as_ref()),
        eligibility: eligibility_from_wire(p.eligibility.as_ref())?,
    })
}

pub fn needs_to_wire(needs: &Needs) -> wire::Needs {
    wire::Needs {
        children: u32::from(needs.children),
        accessibility: needs.accessibility,
        languages: needs
            .languages
            .iter()
            .map(|l| l.as_str().to_owned())
            .collect(),
        preferred_provinces: needs
            .preferred_provinces
            .iter()
            .map(ToString::to_string)
            .collect(),
    }
}

pub fn needs_from_wire(needs: Option<&wire::Needs>) -> Result<Needs, &'static str> {
    let Some(n) = needs else {
        return Ok(Needs::default());
    };
    Ok(Needs {
        children: u8::try_from(n.children).map_err(|_| "needs.children")?,
        accessibility: n.accessibility,
        languages: n
            .languages
            .iter()
            .map(|l| Language::parse(l).map_err(|_| "needs.languages"))
            .collect::<Result<_, _>>()?,
        preferred_provinces: n
            .preferred_provinces
            .iter()
            .map(|p| Province::parse(p).map_err(|_| "needs.preferred_provinces"))
            .collect::<Result<_, _>>()?,
        avoid: Default::default(),
    })
}

/// A registry event on the wire; a registration carries `sealed_location`
/// (the name and address already sealed with the space's key), if given.
pub fn encode_space(
    space: &SpaceId,
    sealed_location: Option<&EncryptedMessage>,
    event: &SpaceEvent,
) -> WireEvent {
    let space_id = space.to_string();
    match event {
        SpaceEvent::SpaceRegistered { profile, at } => {
            WireEvent::SafeSpaceRegistered(wire::SafeSpaceRegistered {
                space_id,
                profile: Some(profile_to_wire(profile)),
                registered_at: ts(*at),
                sealed_location: sealed_location.cloned(),
            })
        }
        SpaceEvent::CapacityChanged { capacity, at } => {
            WireEvent::SafeSpaceCapacityChanged(wire::SafeSpaceCapacityChanged {
                space_id,
                capacity: Some(capacity_to_wire(*capacity)),
                changed_at: ts(*at),
            })
        }
        SpaceEvent::SpaceClosed { at } => WireEvent::SafeSpaceClosed(wire::SafeSpaceClosed {
            space_id,
            closed_at: ts(*at),
        }),
    }
}

fn time_of(
    event: &log::Event,
    at: &Option<prost_types::Timestamp>,
) -> Result<OffsetDateTime, DecodeError> {
    at.as_ref()
        .and_then(from_timestamp)
        .ok_or_else(|| DecodeError::new(event, "missing time"))
}

/// A registry event read back; `None` for the allocator's events.
pub fn decode_space(event: &log::Event) -> Result<Option<SpaceEvent>, DecodeError> {
    Ok(match WireEvent::decode(event)? {
        WireEvent::SafeSpaceRegistered(e) => Some(SpaceEvent::SpaceRegistered {
            profile: profile_from_wire(e.profile.as_ref())
                .map_err(|r| DecodeError::new(event, r))?,
            at: time_of(event, &e.registered_at)?,
        }),
        WireEvent::SafeSpaceCapacityChanged(e) => Some(SpaceEvent::CapacityChanged {
            capacity: capacity_from_wire(e.capacity.as_ref()),
            at: time_of(event, &e.changed_at)?,
        }),
        WireEvent::SafeSpaceClosed(e) => Some(SpaceEvent::SpaceClosed {
            at: time_of(event, &e.closed_at)?,
        }),
        _ => None,
    })
}

/// An allocator event for the log: a request's places to avoid sealed with
/// the case's needs key, never in clear.
pub fn encode_allocator(
    codec: &AvoidCodec,
    event: &AllocatorEvent,
) -> Result<WireEvent, ServiceError> {
    codec.check_complete()?;
    Ok(match event {
        AllocatorEvent::SpaceAdded {
            space,
            organisation,
            capacity,
            eligibility,
        } => WireEvent::SpaceAdded(wire::SpaceAdded {
            space_id: space.to_string(),
            organisation_id: organisation.to_string(),
            capacity: Some(capacity_to_wire(*capacity)),
            eligibility: Some(eligibility_to_wire(eligibility)),
        }),
        AllocatorEvent::SpaceCapacityChanged { space, capacity } => {
            WireEvent::SpaceCapacityChanged(wire::SpaceCapacityChanged {
                space_id: space.to_string(),
                capacity: Some(capacity_to_wire(*capacity)),
            })
        }
        AllocatorEvent::SpaceClosed { space } => WireEvent::SpaceClosed(wire::SpaceClosed {
            space_id: space.to_string(),
        }),
        AllocatorEvent::PlaceRequested {
            case,
            requested_by,
            referral,
            needs,
            urgency,
            sex,
            age_band,
            requested_at,
        } => WireEvent::PlaceRequested(wire::PlaceRequested {
            case_id: case.to_string(),
            requested_by: requested_by.to_string(),
            referral_id: referral
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            needs: Some(needs_to_wire(needs)),
            urgency: urgency.map(|u| u.code().to_owned()).unwrap_or_default(),
            sex: sex.code().to_owned(),
            age_band: age_band.code().to_owned(),
            requested_at: ts(*requested_at),
            sealed_avoid: if needs.avoid.is_empty() {
                None
            } else {
                Some(codec.seal(case, &needs.avoid)?)
            },
        }),
        AllocatorEvent::PlaceReserved {
            case,
            space,
            unit,
            reserved_at,
            held_until,
            reason,
        } => WireEvent::PlaceReserved(wire::PlaceReserved {
            case_id: case.to_string(),
            space_id: space.to_string(),
            unit: unit.code().to_owned(),
            reserved_at: ts(*reserved_at),
            held_until: ts(*held_until),
            reason: reason.code().to_owned(),
        }),
        AllocatorEvent::ReturnedToWaitingList { case, space } => {
            WireEvent::ReturnedToWaitingList(wire::ReturnedToWaitingList {
                case_id: case.to_string(),
                space_id: space.to_string(),
            })
        }
        AllocatorEvent::ArrivalConfirmed {
            case,
            space,
            unit,
            at,
        } => WireEvent::ArrivalConfirmed(wire::ArrivalConfirmed {
            case_id: case.to_string(),
            space_id: space.to_string(),
            unit: unit.code().to_owned(),
            arrived_at: ts(*at),
        }),
        AllocatorEvent::RequestCancelled { case, at } => {
            WireEvent::RequestCancelled(wire::RequestCancelled {
                case_id: case.to_string(),
                cancelled_at: ts(*at),
            })
        }
        AllocatorEvent::PlaceReleased { case, reason, at } => {
            WireEvent::PlaceReleased(wire::PlaceReleased {
                case_id: case.to_string(),
                reason: reason.code().to_owned(),
                released_at: ts(*at),
            })
        }
        AllocatorEvent::HoldExpired { case, space, at } => {
            WireEvent::HoldExpired(wire::HoldExpired {
                case_id: case.to_string(),
                space_id: space.to_string(),
                expired_at: ts(*at),
            })
        }
        AllocatorEvent::LocationDisclosed {
            case,
            space,
            to,
            purpose,
            at,
        } => WireEvent::LocationDisclosed(wire::LocationDisclosed {
            case_id: case.to_string(),
            space_id: space.to_string(),
            disclosed_to_organisation: to.to_string(),
            purpose: purpose.code().to_owned(),
            at: ts(*at),
        }),
        AllocatorEvent::UrgencyRefreshed { case, urgency, at } => {
            WireEvent::UrgencyRefreshed(wire::UrgencyRefreshed {
                case_id: case.to_string(),
                urgency: urgency.map(|u| u.code().to_owned()).unwrap_or_default(),
                refreshed_at: ts(*at),
            })
        }
        AllocatorEvent::AvoidListDestroyed { case, at } => {
            WireEvent::AvoidListDestroyed(wire::AvoidListDestroyed {
                case_id: case.to_string(),
                destroyed_at: ts(*at),
            })
        }
    })
}

/// An allocator event read back, a request's places to avoid opened with the
/// case's needs key (unreadable once it is destroyed); `None` for the
/// registry's events.
pub fn decode_allocator(
    codec: &AvoidCodec,
    event: &log::Event,
) -> Result<Option<AllocatorEvent>, DecodeError> {
    let bad = |reason: &'static str| DecodeError::new(event, reason);
    let case = |raw: &str| CaseId::parse(raw).map_err(|_| bad("bad case id"));
    let space = |raw: &str| SpaceId::parse(raw).map_err(|_| bad("bad space id"));
    let unit = |raw: &str| Unit::from_code(raw).map_err(|_| bad("bad unit"));
    Ok(Some(match WireEvent::decode(event)? {
        WireEvent::SpaceAdded(e) => AllocatorEvent::SpaceAdded {
            space: space(&e.space_id)?,
            organisation: OrganisationId::parse(&e.organisation_id)
                .map_err(|_| bad("bad organisation id"))?,
            capacity: capacity_from_wire(e.capacity.as_ref()),
            eligibility: eligibility_from_wire(e.eligibility.as_ref()).map_err(bad)?,
        },
        WireEvent::SpaceCapacityChanged(e) => AllocatorEvent::SpaceCapacityChanged {
            space: space(&e.space_id)?,
            capacity: capacity_from_wire(e.capacity.as_ref()),
        },
        WireEvent::SpaceClosed(e) => AllocatorEvent::SpaceClosed {
            space: space(&e.space_id)?,
        },
        WireEvent::PlaceRequested(e) => AllocatorEvent::PlaceRequested {
            needs: {
                let mut needs = needs_from_wire(e.needs.as_ref()).map_err(bad)?;
                if let Some(sealed) = &e.sealed_avoid {
                    needs.avoid = codec.open(&case(&e.case_id)?, sealed).map_err(bad)?;
                }
                needs
            },
            case: case(&e.case_id)?,
            requested_by: OrganisationId::parse(&e.requested_by)
                .map_err(|_| bad("bad organisation id"))?,
            referral: if e.referral_id.is_empty() {
                None
            } else {
                Some(ReferralId::parse(&e.referral_id).map_err(|_| bad("bad referral id"))?)
            },
            urgency: if e.urgency.is_empty() {
                None
            } else {
                Some(Urgency::from_code(&e.urgency).map_err(|_| bad("bad urgency"))?)
            },
            sex: Sex::from_code(&e.sex).map_err(|_| bad("bad sex"))?,
            age_band: AgeBand::from_code(&e.age_band).map_err(|_| bad("bad age band"))?,
            requested_at: time_of(event, &e.requested_at)?,
        },
        WireEvent::PlaceReserved(e) => AllocatorEvent::PlaceReserved {
            case: case(&e.case_id)?,
            space: space(&e.space_id)?,
            unit: unit(&e.unit)?,
            reserved_at: time_of(event, &e.reserved_at)?,
            held_until: time_of(event, &e.held_until)?,
            reason: ReservationReason::from_code(&e.reason).map_err(|_| bad("bad reason"))?,
        },
        WireEvent::ReturnedToWaitingList(e) => AllocatorEvent::ReturnedToWaitingList {
            case: case(&e.case_id)?,
            space: space(&e.space_id)?,
        },
        WireEvent::ArrivalConfirmed(e) => AllocatorEvent::ArrivalConfirmed {
            case: case(&e.case_id)?,
            space: space(&e.space_id)?,
            unit: unit(&e.unit)?,
            at: time_of(event, &e.arrived_at)?,
        },
        WireEvent::RequestCancelled(e) => AllocatorEvent::RequestCancelled {
            case: case(&e.case_id)?,
            at: time_of(event, &e.cancelled_at)?,
        },
        WireEvent::PlaceReleased(e) => AllocatorEvent::PlaceReleased {
            case: case(&e.case_id)?,
            reason: ReleaseReason::from_code(&e.reason).map_err(|_| bad("bad reason"))?,
            at: time_of(event, &e.released_at)?,
        },
        WireEvent::HoldExpired(e) => AllocatorEvent::HoldExpired {
            case: case(&e.case_id)?,
            space: space(&e.space_id)?,
            at: time_of(event, &e.expired_at)?,
        },
        WireEvent::LocationDisclosed(e) => AllocatorEvent::LocationDisclosed {
            case: case(&e.case_id)?,
            space: space(&e.space_id)?,
            to: OrganisationId::parse(&e.disclosed_to_organisation)
                .map_err(|_| bad("bad organisation id"))?,
            purpose: DisclosurePurpose::from_code(&e.purpose).map_err(|_| bad("bad purpose"))?,
            at: time_of(event, &e.at)?,
        },
        WireEvent::UrgencyRefreshed(e) => AllocatorEvent::UrgencyRefreshed {
            case: case(&e.case_id)?,
            urgency: if e.urgency.is_empty() {
                None
            } else {
                Some(Urgency::from_code(&e.urgency).map_err(|_| bad("bad urgency"))?)
            },
            at: time_of(event, &e.refreshed_at)?,
        },
        WireEvent::AvoidListDestroyed(e) => {
            let case = case(&e.case_id)?;
            codec.forget(&case);
            AllocatorEvent::AvoidListDestroyed {
                case,
                at: time_of(event, &e.destroyed_at)?,
            }
        }
        _ => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use time::macros::datetime;

    use super::*;
    use safe_space_allocation::Avoid;

    fn stored(event: case_log_jetstream::NewEvent) -> log::Event {
        log::Event {
            event_type: event.event_type,
            schema_version: event.schema_version,
            payload: event.payload,
            ..Default::default()
        }
    }

    fn id<T>(parse: fn(&str) -> Result<T, pathway::InvalidValue>, raw: &str) -> T {
        parse(raw).expect("valid id")
    }

    /// Every event of both aggregates reads back as it was written.
    #[test]
    fn every_event_reads_back_as_written() {
        let at = datetime!(2026-06-20 10:00 UTC);
        let case = id(CaseId::parse, "case-1");
        let space = id(SpaceId::parse, "space-1");
        let eligibility = Eligibility {
            sexes: [Sex::Female].into_iter().collect(),
            age_bands: [AgeBand::Adult].into_iter().collect(),
            families_with_children: true,
            accessible: true,
            languages: [Language::parse("ti").expect("code")].into_iter().collect(),
            family_room_persons: 4,
        };
        let capacity = Capacity {
            beds: 3,
            family_rooms: 1,
        };
        let allocator_events = vec![
            AllocatorEvent::SpaceAdded {
                space: space.clone(),
                organisation: id(OrganisationId::parse, "casa-1"),
                capacity,
                eligibility: eligibility.clone(),
            },
            AllocatorEvent::SpaceCapacityChanged {
                space: space.clone(),
                capacity,
            },
            AllocatorEvent::SpaceClosed {
                space: space.clone(),
            },
            AllocatorEvent::PlaceRequested {
                case: case.clone(),
                requested_by: id(OrganisationId::parse, "hotspot-1"),
                referral: Some(id(ReferralId::parse, "referral-1")),
                needs: Needs {
                    children: 2,
                    accessibility: true,
                    languages: BTreeSet::new(),
                    preferred_provinces: vec![id(Province::parse, "AG")],
                    avoid: [
                        Avoid::Space(id(SpaceId::parse, "space-9")),
                        Avoid::Organisation(id(OrganisationId::parse, "casa-9")),
                    ]
                    .into_iter()
                    .collect(),
                },
                urgency: Some(Urgency::High),
                sex: Sex::Unknown,
                age_band: AgeBand::Adult,
                requested_at: at,
            },
            AllocatorEvent::PlaceReserved {
                case: case.clone(),
                space: space.clone(),
                unit: Unit::FamilyRoom,
                reserved_at: at,
                held_until: at + time::Duration::hours(24),
                reason: ReservationReason::HoldExpired,
            },
            AllocatorEvent::ReturnedToWaitingList {
                case: case.clone(),
                space: space.clone(),
            },
            AllocatorEvent::ArrivalConfirmed {
                case: case.clone(),
                space: space.clone(),
                unit: Unit::Bed,
                at,
            },
            AllocatorEvent::RequestCancelled {
                case: case.clone(),
                at,
            },
            AllocatorEvent::PlaceReleased {
                case: case.clone(),
                reason: ReleaseReason::CaseClosed,
                at,
            },
            AllocatorEvent::HoldExpired {
                case: case.clone(),
                space: space.clone(),
                at,
            },
            AllocatorEvent::UrgencyRefreshed {
                case: case.clone(),
                urgency: Some(Urgency::Immediate),
                at,
            },
            AllocatorEvent::AvoidListDestroyed {
                case: case.clone(),
                at,
            },
            AllocatorEvent::LocationDisclosed {
                case,
                space: space.clone(),
                to: id(OrganisationId::parse, "casa-1"),
                purpose: DisclosurePurpose::Arrival,
                at,
            },
        ];
        let codec = AvoidCodec::new(std::sync::Arc::new(crate::needs::NeedsKeys::in_memory([(
            "case-1".to_owned(),
            Some(person_crypto::DataKey::generate()),
        )])));
        for event in allocator_events {
            let encoded = encode_allocator(&codec, &event).expect("encodes").encode();
            let read = decode_allocator(&codec, &stored(encoded));
            assert_eq!(read.expect("decodes"), Some(event));
        }
        let profile = SpaceProfile {
            kind: SpaceKind::GbvShelter,
            organisation: id(OrganisationId::parse, "casa-1"),
            province: id(Province::parse, "RM"),
            capacity,
            eligibility,
        };
        for event in [
            SpaceEvent::SpaceRegistered { profile, at },
            SpaceEvent::CapacityChanged { capacity, at },
            SpaceEvent::SpaceClosed { at },
        ] {
            let read = decode_space(&stored(encode_space(&space, None, &event).encode()));
            assert_eq!(read.expect("decodes"), Some(event));
        }
    }

    /// Places to avoid are in the log only sealed: no id in clear, and once
    /// the key is gone the list reads as unreadable (every space avoided).
    #[test]
    fn places_to_avoid_are_sealed_and_unreadable_without_their_key() {
        let at = datetime!(2026-06-20 10:00 UTC);
        let event = AllocatorEvent::PlaceRequested {
            case: id(CaseId::parse, "case-1"),
            requested_by: id(OrganisationId::parse, "hotspot-1"),
            referral: None,
            needs: Needs {
                avoid: [Avoid::Organisation(id(
                    OrganisationId::parse,
                    "casa-segreta",
                ))]
                .into_iter()
                .collect(),
                ..Needs::default()
            },
            urgency: None,
            sex: Sex::Female,
            age_band: AgeBand::Adult,
            requested_at: at,
        };
        let keys = crate::needs::NeedsKeys::in_memory([(
            "case-1".to_owned(),
            Some(person_crypto::DataKey::generate()),
        )]);
        let codec = AvoidCodec::new(std::sync::Arc::new(keys));
        let stored = stored(encode_allocator(&codec, &event).expect("encodes").encode());
        assert!(!stored.payload.windows(12).any(|w| w == b"casa-segreta"));
        let gone = AvoidCodec::new(std::sync::Arc::new(crate::needs::NeedsKeys::in_memory([(
            "case-1".to_owned(),
            None,
        )])));
        let Some(AllocatorEvent::PlaceRequested { needs, .. }) =
            decode_allocator(&gone, &stored).expect("decodes")
        else {
            panic!("a request");
        };
        assert_eq!(needs.avoid, [Avoid::Unreadable].into_iter().collect());
        assert!(gone.missed().is_empty());
        let unread = AvoidCodec::new(std::sync::Arc::new(crate::needs::NeedsKeys::in_memory([])));
        decode_allocator(&unread, &stored).expect("decodes");
        assert_eq!(unread.missed(), ["case-1"]);
        assert!(
            encode_allocator(&unread, &event).is_err(),
            "nothing written on a partial fold"
        );
    }

    /// Each aggregate ignores the other's events on a shared contract.
    #[test]
    fn each_aggregate_reads_only_its_own_events() {
        let space = id(SpaceId::parse, "space-1");
        let closed = stored(
            encode_space(
                &space,
                None,
                &SpaceEvent::SpaceClosed {
                    at: datetime!(2026-06-20 10:00 UTC),
                },
            )
            .encode(),
        );
        let codec = AvoidCodec::new(std::sync::Arc::new(crate::needs::NeedsKeys::in_memory([])));
        assert_eq!(decode_allocator(&codec, &closed).expect("decodes"), None);
        let added = stored(
            encode_allocator(&codec, &AllocatorEvent::SpaceClosed { space })
                .expect("encodes")
                .encode(),
        );
        assert_eq!(decode_space(&added).expect("decodes"), None);
    }
}
