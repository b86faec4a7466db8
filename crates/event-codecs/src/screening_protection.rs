//! The wire form of the events of minors, detention and follow-up (age
//! assessed, guardian appointed, vulnerable person detained, the 45-day limit,
//! follow-ups, lost to follow-up), and of the parts they add to `CaseOpened`
//! (age band) and `CasePlaced` (arrival due, detention grounds). Empty fields
//! of events recorded before them read as the old meaning.

use case_log_jetstream::DecodeError;
use case_log_jetstream::envelope::{from_timestamp, timestamp};
use case_screening::*;
use contracts::log::v1 as log;
use contracts::screening::v1 as wire;
use pathway::Category;
use time::OffsetDateTime;

use crate::screening::{WireEvent, date_to_wire, parse_date};

fn ts(at: OffsetDateTime) -> Option<prost_types::Timestamp> {
    Some(timestamp(at))
}

/// An empty string is `None`.
fn optional(raw: &str) -> Option<&str> {
    (!raw.is_empty()).then_some(raw)
}

pub fn grounds_to_wire(grounds: &DetentionGrounds) -> wire::DetentionGrounds {
    wire::DetentionGrounds {
        justification: grounds.justification.code().to_owned(),
        decided_by_organisation: grounds.decided_by_organisation.clone(),
        authority: grounds
            .authority
            .map(|a| a.code().to_owned())
            .unwrap_or_default(),
    }
}

/// An age band on the wire: empty (events before age bands) is `unknown`.
pub fn age_band(event: &log::Event, raw: &str) -> Result<AgeBand, DecodeError> {
    optional(raw).map_or(Ok(AgeBand::Unknown), |code| {
        AgeBand::from_code(code).map_err(|_| DecodeError::new(event, "bad age band"))
    })
}

/// The arrival due and the detention grounds of a `CasePlaced` (unset in older ones).
pub fn placement_parts(
    event: &log::Event,
    placed: &wire::CasePlaced,
) -> Result<(Option<OffsetDateTime>, Option<DetentionGrounds>), DecodeError> {
    let arrival_due_at = placed
        .arrival_due_at
        .as_ref()
        .map(|t| from_timestamp(t).ok_or_else(|| DecodeError::new(event, "bad time")))
        .transpose()?;
    let detention = placed
        .detention
        .as_ref()
        .map(|g| grounds(event, g))
        .transpose()?;
    Ok((arrival_due_at, detention))
}

fn grounds(
    event: &log::Event,
    g: &wire::DetentionGrounds,
) -> Result<DetentionGrounds, DecodeError> {
    let bad = |reason: &str| DecodeError::new(event, reason);
    Ok(DetentionGrounds {
        justification: DetentionJustification::from_code(&g.justification)
            .map_err(|_| bad("bad justification"))?,
        decided_by_organisation: g.decided_by_organisation.clone(),
        authority: optional(&g.authority)
            .map(DetentionAuthority::from_code)
            .transpose()
            .map_err(|_| bad("bad authority"))?,
    })
}

/// Encodes an event of minors, detention or follow-up; `None` for the others.
pub fn encode(event: &Event) -> Option<WireEvent> {
    Some(match event {
        Event::AgeAssessed(a) => WireEvent::AgeAssessed(wire::AgeAssessed {
            age_band: a.age_band.code().to_owned(),
            assessed_by_organisation: a.assessed_by_organisation.clone(),
            assessed_at: ts(a.assessed_at),
        }),
        Event::GuardianAppointed(g) => WireEvent::GuardianAppointed(wire::GuardianAppointed {
            guardian_kind: g.guardian_kind.code().to_owned(),
            guardian_organisation_id: g.guardian_organisation_id.clone().unwrap_or_default(),
            appointed_by_organisation: g.appointed_by_organisation.clone(),
            appointed_at: ts(g.appointed_at),
        }),
        Event::VulnerablePersonDetained {
            facility_id,
            categories,
            age_band,
            grounds,
            detained_at,
        } => WireEvent::VulnerablePersonDetained(wire::VulnerablePersonDetained {
            facility_id: facility_id.to_string(),
            categories: categories.iter().map(|c| c.code().to_owned()).collect(),
            age_band: age_band.code().to_owned(),
            grounds: Some(grounds_to_wire(grounds)),
            detained_at: ts(*detained_at),
        }),
        Event::FirstReceptionLimitExceeded {
            facility_id,
            entered_on,
            due_at,
            detected_at,
        } => WireEvent::FirstReceptionLimitExceeded(wire::FirstReceptionLimitExceeded {
            facility_id: facility_id.to_string(),
            entered_on: date_to_wire(Some(*entered_on)),
            due_at: ts(*due_at),
            detected_at: ts(*detected_at),
        }),
        Event::FollowUpScheduled(s) => WireEvent::FollowUpScheduled(wire::FollowUpScheduled {
            follow_up_id: s.follow_up_id.to_string(),
            due_on: date_to_wire(Some(s.due_on)),
            purpose: s.purpose.code().to_owned(),
            scheduled_by_organisation: s.scheduled_by_organisation.clone(),
        }),
        Event::FollowUpRecorded(r) => WireEvent::FollowUpRecorded(wire::FollowUpRecorded {
            follow_up_id: r
                .follow_up_id
                .as_ref()
                .map(|id| id.to_string())
                .unwrap_or_default(),
            outcome: r.outcome.code().to_owned(),
            at: ts(r.at),
            recorded_by_organisation: r.recorded_by_organisation.clone(),
        }),
        Event::FollowUpMissed {
            follow_up_id,
            due_on,
            detected_at,
        } => WireEvent::FollowUpMissed(wire::FollowUpMissed {
            follow_up_id: follow_up_id.to_string(),
            due_on: date_to_wire(Some(*due_on)),
            detected_at: ts(*detected_at),
        }),
        Event::LostToFollowUp {
            facility_id,
            placed_at,
            due_at,
            detected_at,
        } => WireEvent::LostToFollowUp(wire::LostToFollowUp {
            facility_id: facility_id.to_string(),
            placed_at: ts(*placed_at),
            due_at: ts(*due_at),
            detected_at: ts(*detected_at),
        }),
        _ => return None,
    })
}

/// Reads an event of minors, detention or follow-up back into the domain.
pub fn decode(wire_event: WireEvent, event: &log::Event) -> Result<Event, DecodeError> {
    let bad = |reason: &str| DecodeError::new(event, reason);
    let time = |t: &Option<prost_types::Timestamp>| {
        t.as_ref()
            .and_then(from_timestamp)
            .ok_or_else(|| bad("missing time"))
    };
    let facility = |raw: &str| FacilityId::parse(raw).map_err(|_| bad("bad facility"));
    let follow_up_id = |raw: &str| FollowUpId::parse(raw).map_err(|_| bad("bad follow-up id"));
    let date = |raw: &str| parse_date(raw).map_err(bad);
    Ok(match wire_event {
        WireEvent::AgeAssessed(e) => Event::AgeAssessed(AgeAssessment {
            age_band: AgeBand::from_code(&e.age_band).map_err(|_| bad("bad age band"))?,
            assessed_by_organisation: e.assessed_by_organisation,
            assessed_at: time(&e.assessed_at)?,
        }),
        WireEvent::GuardianAppointed(e) => Event::GuardianAppointed(GuardianAppointment {
            guardian_kind: GuardianKind::from_code(&e.guardian_kind)
                .map_err(|_| bad("bad guardian kind"))?,
            guardian_organisation_id: optional(&e.guardian_organisation_id).map(str::to_owned),
            appointed_by_organisation: e.appointed_by_organisation,
            appointed_at: time(&e.appointed_at)?,
        }),
        WireEvent::VulnerablePersonDetained(e) => Event::VulnerablePersonDetained {
            facility_id: facility(&e.facility_id)?,
            categories: e
                .categories
                .iter()
                .map(|c| Category::from_code(c).map_err(|_| bad("bad category")))
                .collect::<Result<_, _>>()?,
            age_band: age_band(event, &e.age_band)?,
            grounds: grounds(
                event,
                e.grounds.as_ref().ok_or_else(|| bad("missing grounds"))?,
            )?,
            detained_at: time(&e.detained_at)?,
        },
        WireEvent::FirstReceptionLimitExceeded(e) => Event::FirstReceptionLimitExceeded {
            facility_id: facility(&e.facility_id)?,
            entered_on: date(&e.entered_on)?,
            due_at: time(&e.due_at)?,
            detected_at: time(&e.detected_at)?,
        },
        WireEvent::FollowUpScheduled(e) => Event::FollowUpScheduled(FollowUpSchedule {
            follow_up_id: follow_up_id(&e.follow_up_id)?,
            due_on: date(&e.due_on)?,
            purpose: FollowUpPurpose::from_code(&e.purpose).map_err(|_| bad("bad purpose"))?,
            scheduled_by_organisation: e.scheduled_by_organisation,
        }),
        WireEvent::FollowUpRecorded(e) => Event::FollowUpRecorded(FollowUpRecord {
            follow_up_id: optional(&e.follow_up_id).map(follow_up_id).transpose()?,
            outcome: FollowUpOutcome::from_code(&e.outcome).map_err(|_| bad("bad outcome"))?,
            at: time(&e.at)?,
            recorded_by_organisation: e.recorded_by_organisation,
        }),
        WireEvent::FollowUpMissed(e) => Event::FollowUpMissed {
            follow_up_id: follow_up_id(&e.follow_up_id)?,
            due_on: date(&e.due_on)?,
            detected_at: time(&e.detected_at)?,
        },
        WireEvent::LostToFollowUp(e) => Event::LostToFollowUp {
            facility_id: facility(&e.facility_id)?,
            placed_at: time(&e.placed_at)?,
            due_at: time(&e.due_at)?,
            detected_at: time(&e.detected_at)?,
        },
        _ => return Err(bad("not an event of minors, detention or follow-up")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn round_trip(event: Event) {
        let wire_event = encode(&event).expect("an event of this contract");
        let stored = wire_event.encode();
        let log_event = log::Event {
            event_id: "e".to_owned(),
            event_type: stored.event_type.clone(),
            schema_version: stored.schema_version,
            payload: stored.payload.clone(),
        };
        assert_eq!(
            crate::screening::decode(&log_event).expect("decodes"),
            event,
            "{}",
            stored.event_type
        );
    }

    #[test]
    fn every_event_of_minors_detention_and_follow_up_round_trips() {
        let at = datetime!(2026-03-04 12:00 UTC);
        let facility_id = FacilityId::parse("cpr-trapani").expect("id");
        let grounds = DetentionGrounds {
            justification: DetentionJustification::PublicOrder,
            decided_by_organisation: "questura-tp".to_owned(),
            authority: None,
        };
        let id = FollowUpId::parse("f-1").expect("id");
        for event in [
            Event::AgeAssessed(AgeAssessment {
                age_band: AgeBand::From14To15,
                assessed_by_organisation: "tribunale-minorenni".to_owned(),
                assessed_at: at,
            }),
            Event::GuardianAppointed(GuardianAppointment {
                guardian_kind: GuardianKind::Relative,
                guardian_organisation_id: None,
                appointed_by_organisation: "tribunale-minorenni".to_owned(),
                appointed_at: at,
            }),
            Event::VulnerablePersonDetained {
                facility_id: facility_id.clone(),
                categories: vec![Category::Torture, Category::Disability],
                age_band: AgeBand::Adult,
                grounds: grounds.clone(),
                detained_at: at,
            },
            Event::FirstReceptionLimitExceeded {
                facility_id: facility_id.clone(),
                entered_on: date!(2026 - 01 - 02),
                due_at: at,
                detected_at: at,
            },
            Event::FollowUpScheduled(FollowUpSchedule {
                follow_up_id: id.clone(),
                due_on: date!(2026 - 03 - 10),
                purpose: FollowUpPurpose::ArrivalCheck,
                scheduled_by_organisation: "cas-1".to_owned(),
            }),
            Event::FollowUpRecorded(FollowUpRecord {
                follow_up_id: None,
                outcome: FollowUpOutcome::Found,
                at,
                recorded_by_organisation: "cas-1".to_owned(),
            }),
            Event::FollowUpRecorded(FollowUpRecord {
                follow_up_id: Some(id.clone()),
                outcome: FollowUpOutcome::NotFound,
                at,
                recorded_by_organisation: "cav-1".to_owned(),
            }),
            Event::FollowUpMissed {
                follow_up_id: id,
                due_on: date!(2026 - 03 - 10),
                detected_at: at,
            },
            Event::LostToFollowUp {
                facility_id: facility_id.clone(),
                placed_at: at,
                due_at: at,
                detected_at: at,
            },
            Event::CasePlaced(Placement {
                facility_id,
                province: Province::parse("TP").expect("province"),
                facility_kind: FacilityKind::Detention,
                placed_at: at,
                arrival_due_at: Some(at + time::Duration::hours(72)),
                detention: Some(grounds),
            }),
        ] {
            if encode(&event).is_some() {
                round_trip(event);
            } else {
                let stored = crate::screening::encode(&event, &Default::default()).encode();
                let log_event = log::Event {
                    event_id: "e".to_owned(),
                    event_type: stored.event_type,
                    schema_version: stored.schema_version,
                    payload: stored.payload,
                };
                assert_eq!(
                    crate::screening::decode(&log_event).expect("decodes"),
                    event
                );
            }
        }
    }

    #[test]
    fn events_recorded_before_age_bands_kinds_and_arrivals_read_as_before() {
        use prost::Message;
        let opened = wire::CaseOpened {
            case_id: "c-1".to_owned(),
            arrival: Some(wire::Arrival {
                place: "LAMPEDUSA".to_owned(),
                arrived_at: ts(datetime!(2026-03-02 08:30 UTC)),
            }),
            province: "AG".to_owned(),
            facility_id: "hotspot-lampedusa".to_owned(),
            ..Default::default()
        };
        let placed = wire::CasePlaced {
            facility_id: "cas-1".to_owned(),
            province: "AG".to_owned(),
            facility_kind: "cas".to_owned(),
            placed_at: ts(datetime!(2026-03-03 08:30 UTC)),
            ..Default::default()
        };
        let stored = |event_type: String, payload: Vec<u8>| log::Event {
            event_id: "e".to_owned(),
            event_type,
            schema_version: 1,
            payload,
        };
        let Event::CaseOpened(open) = crate::screening::decode(&stored(
            case_log_jetstream::contract::event_type::<wire::CaseOpened>(),
            opened.encode_to_vec(),
        ))
        .expect("an old opening decodes") else {
            panic!("not an opening");
        };
        assert_eq!(
            (open.age_band, open.facility_kind),
            (AgeBand::Unknown, None)
        );
        let Event::CasePlaced(placement) = crate::screening::decode(&stored(
            case_log_jetstream::contract::event_type::<wire::CasePlaced>(),
            placed.encode_to_vec(),
        ))
        .expect("an old placement decodes") else {
            panic!("not a placement");
        };
        assert_eq!(
            (placement.arrival_due_at, placement.detention),
            (None, None)
        );
    }
}
