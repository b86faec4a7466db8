//! The screening events between the domain and the wire: domain events become
//! `approdo.screening.v1` messages in a commit, and back when state is rebuilt.

use case_log_jetstream::DecodeError;
use case_log_jetstream::envelope::{from_timestamp, timestamp};
use case_screening::*;
use contracts::log::v1 as log;
use contracts::person::v1 as person;
use contracts::screening::v1 as wire;
use pathway::{Category, Urgency};
use time::{Date, OffsetDateTime};

case_log_jetstream::event_contract! {
    /// A screening event as stored in the log: the one declaration of the
    /// screening service's events (type names come from `proto/`).
    pub enum WireEvent: wire, schema 1 {
        CaseOpened,
        PreliminaryCheckRecorded,
        VulnerabilitySignalRaised,
        AssessmentRecorded,
        ApplicationRecorded,
        CasePlaced,
        CaseClosed,
        ScreeningDeadlineMissed,
        AssessmentDeadlineMissed,
        PersonalDataErased,
        IdentityRead,
        FacilityRegistered,
        // Minors, detention and follow-up (`protection_codec`).
        AgeAssessed,
        GuardianAppointed,
        VulnerablePersonDetained,
        FirstReceptionLimitExceeded,
        FollowUpScheduled,
        FollowUpRecorded,
        FollowUpMissed,
        LostToFollowUp,
    }
}

/// Personal data carried beside the domain's `CaseOpened`, never inside the
/// domain: sealed with the person's key before it reaches the log.
#[derive(Debug, Clone, Default)]
pub struct PersonalParts {
    pub identity: Option<wire::case_opened::Identity>,
    pub special_category: Option<wire::case_opened::SpecialCategory>,
}

/// What the sealed messages of `CaseOpened` are, in their seal context.
pub const IDENTITY: &str = "identity";
pub const SPECIAL_CATEGORY: &str = "special_category";

impl PersonalParts {
    /// Seals the request's personal data with the person's key.
    pub fn sealed(
        key: &person_crypto::DataKey,
        case_id: &str,
        personal_data: Option<&person::PersonalData>,
        special: Option<&person::SpecialCategoryDetails>,
    ) -> Result<PersonalParts, service_runtime::ServiceError> {
        use service_runtime::person_keys::seal;
        Ok(PersonalParts {
            identity: personal_data
                .map(|p| seal(key, case_id, IDENTITY, p))
                .transpose()?
                .map(wire::case_opened::Identity::EncryptedPersonalData),
            special_category: special
                .map(|s| seal(key, case_id, SPECIAL_CATEGORY, s))
                .transpose()?
                .map(wire::case_opened::SpecialCategory::EncryptedSpecialCategoryDetails),
        })
    }
}

pub fn date_to_wire(date: Option<Date>) -> String {
    date.map(|d| d.to_string()).unwrap_or_default()
}

pub fn parse_date(raw: &str) -> Result<Date, &'static str> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(raw, &format).map_err(|_| "must be a date YYYY-MM-DD")
}

fn ts(at: OffsetDateTime) -> Option<prost_types::Timestamp> {
    Some(timestamp(at))
}

fn suspicion_to_wire(s: &Suspicion) -> wire::SuspectedCategory {
    wire::SuspectedCategory {
        category: s.category.code().to_owned(),
        indicators: s.indicators.iter().map(|c| c.to_string()).collect(),
    }
}

/// Encodes a domain event (with the personal parts for `CaseOpened`).
pub fn encode(event: &Event, personal: &PersonalParts) -> WireEvent {
    match event {
        Event::CaseOpened(open) => WireEvent::CaseOpened(wire::CaseOpened {
            case_id: open.case_id.to_string(),
            arrival: Some(wire::Arrival {
                place: open.arrival_place.to_string(),
                arrived_at: ts(open.arrived_at),
            }),
            province: open.province.to_string(),
            facility_id: open.facility_id.to_string(),
            family_links: open
                .family_links
                .iter()
                .map(|l| wire::FamilyLink {
                    case_id: l.case_id.to_string(),
                    relation: l.relation.code().to_owned(),
                })
                .collect(),
            application_date: date_to_wire(open.application_date),
            identity: personal.identity.clone(),
            special_category: personal.special_category.clone(),
            facility_kind: open
                .facility_kind
                .map(|kind| kind.code().to_owned())
                .unwrap_or_default(),
            age_band: open.age_band.code().to_owned(),
        }),
        Event::PreliminaryCheckRecorded(check) => {
            WireEvent::PreliminaryCheckRecorded(wire::PreliminaryCheckRecorded {
                suspected: check.suspected.iter().map(suspicion_to_wire).collect(),
                urgent_care_needed: check.urgent_care_needed,
                health_flags: check.health_flags.iter().map(|c| c.to_string()).collect(),
                urgency: check.urgency.code().to_owned(),
                place: check.place.to_string(),
                checked_at: ts(check.checked_at),
            })
        }
        Event::VulnerabilitySignalRaised(signal) => {
            WireEvent::VulnerabilitySignalRaised(wire::VulnerabilitySignalRaised {
                suspected: Some(suspicion_to_wire(&signal.suspected)),
                urgency: signal.urgency.code().to_owned(),
                raised_by_role: signal.raised_by_role.to_string(),
                raised_by_organisation: signal.raised_by_organisation.clone(),
                raised_at: ts(signal.raised_at),
                gbv_disclosure: signal.gbv_disclosure,
            })
        }
        Event::AssessmentRecorded {
            assessment,
            reassessment,
        } => WireEvent::AssessmentRecorded(wire::AssessmentRecorded {
            outcomes: assessment
                .outcomes
                .iter()
                .map(|(category, outcome)| wire::CategoryOutcome {
                    category: category.code().to_owned(),
                    status: outcome.code().to_owned(),
                })
                .collect(),
            special_reception_needs: assessment.special_reception_needs,
            special_procedural_guarantees: assessment.special_procedural_guarantees,
            assessed_at: ts(assessment.assessed_at),
            reassessment: *reassessment,
            assessor_role: assessment.assessor_role.to_string(),
            // The domain's assessment states no urgency here: empty leaves it as it was.
            urgency: String::new(),
        }),
        Event::ApplicationRecorded { application_date } => {
            WireEvent::ApplicationRecorded(wire::ApplicationRecorded {
                application_date: application_date.to_string(),
            })
        }
        Event::CasePlaced(placement) => WireEvent::CasePlaced(wire::CasePlaced {
            facility_id: placement.facility_id.to_string(),
            province: placement.province.to_string(),
            facility_kind: placement.facility_kind.code().to_owned(),
            placed_at: ts(placement.placed_at),
            arrival_due_at: placement.arrival_due_at.and_then(ts),
            detention: placement
                .detention
                .as_ref()
                .map(crate::protection_codec::grounds_to_wire),
        }),
        Event::CaseClosed { reason, closed_at } => WireEvent::CaseClosed(wire::CaseClosed {
            reason: reason.code().to_owned(),
            closed_at: ts(*closed_at),
        }),
        Event::ScreeningDeadlineMissed {
            due_at,
            detected_at,
        } => WireEvent::ScreeningDeadlineMissed(wire::ScreeningDeadlineMissed {
            due_at: ts(*due_at),
            detected_at: ts(*detected_at),
        }),
        Event::PersonalDataErased { reason, erased_at } => {
            WireEvent::PersonalDataErased(wire::PersonalDataErased {
                reason: reason.code().to_owned(),
                erased_at: ts(*erased_at),
            })
        }
        Event::IdentityRead { purpose, read_at } => WireEvent::IdentityRead(wire::IdentityRead {
            purpose: purpose.code().to_owned(),
            read_at: ts(*read_at),
        }),
        Event::AssessmentDeadlineMissed {
            due_at,
            detected_at,
        } => WireEvent::AssessmentDeadlineMissed(wire::AssessmentDeadlineMissed {
            due_at: ts(*due_at),
            detected_at: ts(*detected_at),
        }),
        Event::AgeAssessed(_)
        | Event::GuardianAppointed(_)
        | Event::VulnerablePersonDetained { .. }
        | Event::FirstReceptionLimitExceeded { .. }
        | Event::FollowUpScheduled(_)
        | Event::FollowUpRecorded(_)
        | Event::FollowUpMissed { .. }
        | Event::LostToFollowUp { .. } => crate::protection_codec::encode(event)
            .unwrap_or_else(|| unreachable!("protection_codec encodes its own events")),
    }
}

/// Reads a stored event back into the domain (to rebuild an aggregate's state).
pub fn decode(event: &log::Event) -> Result<Event, DecodeError> {
    let bad = |reason: &str| DecodeError::new(event, reason);
    let time = |t: &Option<prost_types::Timestamp>| {
        t.as_ref()
            .and_then(from_timestamp)
            .ok_or_else(|| bad("missing time"))
    };
    let code = |raw: &str| Code::parse(raw).map_err(|_| bad("bad code"));
    let category = |raw: &str| Category::from_code(raw).map_err(|_| bad("bad category"));
    let urgency = |raw: &str| Urgency::from_code(raw).map_err(|_| bad("bad urgency"));
    let suspicion = |s: &wire::SuspectedCategory| -> Result<Suspicion, DecodeError> {
        Ok(Suspicion {
            category: category(&s.category)?,
            indicators: s
                .indicators
                .iter()
                .map(|i| code(i))
                .collect::<Result<_, _>>()?,
        })
    };
    let optional_date = |raw: &str| {
        if raw.is_empty() {
            Ok(None)
        } else {
            parse_date(raw).map(Some).map_err(bad)
        }
    };
    Ok(match WireEvent::decode(event)? {
        WireEvent::CaseOpened(e) => {
            let arrival = e.arrival.as_ref().ok_or_else(|| bad("missing arrival"))?;
            Event::CaseOpened(OpenCase {
                case_id: CaseId::parse(&e.case_id).map_err(|_| bad("bad case id"))?,
                arrival_place: PlaceCode::parse(&arrival.place).map_err(|_| bad("bad place"))?,
                arrived_at: time(&arrival.arrived_at)?,
                province: Province::parse(&e.province).map_err(|_| bad("bad province"))?,
                facility_id: FacilityId::parse(&e.facility_id).map_err(|_| bad("bad facility"))?,
                family_links: e
                    .family_links
                    .iter()
                    .map(|l| {
                        Ok(FamilyLink {
                            case_id: CaseId::parse(&l.case_id).map_err(|_| bad("bad link"))?,
                            relation: Relation::from_code(&l.relation)
                                .map_err(|_| bad("bad relation"))?,
                        })
                    })
                    .collect::<Result<_, DecodeError>>()?,
                application_date: optional_date(&e.application_date)?,
                facility_kind: crate::protection_codec::opening_kind(event, &e.facility_kind)?,
                age_band: crate::protection_codec::age_band(event, &e.age_band)?,
            })
        }
        WireEvent::PreliminaryCheckRecorded(e) => {
            Event::PreliminaryCheckRecorded(PreliminaryCheck {
                suspected: e
                    .suspected
                    .iter()
                    .map(suspicion)
                    .collect::<Result<_, _>>()?,
                urgent_care_needed: e.urgent_care_needed,
                health_flags: e
                    .health_flags
                    .iter()
                    .map(|f| code(f))
                    .collect::<Result<_, _>>()?,
                urgency: urgency(&e.urgency)?,
                place: PlaceCode::parse(&e.place).map_err(|_| bad("bad place"))?,
                checked_at: time(&e.checked_at)?,
            })
        }
        WireEvent::VulnerabilitySignalRaised(e) => Event::VulnerabilitySignalRaised(Signal {
            suspected: suspicion(
                e.suspected
                    .as_ref()
                    .ok_or_else(|| bad("missing category"))?,
            )?,
            urgency: urgency(&e.urgency)?,
            raised_by_role: code(&e.raised_by_role)?,
            raised_by_organisation: e.raised_by_organisation.clone(),
            raised_at: time(&e.raised_at)?,
            gbv_disclosure: e.gbv_disclosure,
        }),
        WireEvent::AssessmentRecorded(e) => Event::AssessmentRecorded {
            assessment: Assessment {
                outcomes: e
                    .outcomes
                    .iter()
                    .map(|o| {
                        Ok((
                            category(&o.category)?,
                            Outcome::from_code(&o.status).map_err(|_| bad("bad outcome"))?,
                        ))
                    })
                    .collect::<Result<_, DecodeError>>()?,
                special_reception_needs: e.special_reception_needs,
                special_procedural_guarantees: e.special_procedural_guarantees,
                assessed_at: time(&e.assessed_at)?,
                assessor_role: code(&e.assessor_role)?,
            },
            reassessment: e.reassessment,
        },
        WireEvent::ApplicationRecorded(e) => Event::ApplicationRecorded {
            application_date: parse_date(&e.application_date).map_err(bad)?,
        },
        WireEvent::CasePlaced(e) => {
            let (arrival_due_at, detention) = crate::protection_codec::placement_parts(event, &e)?;
            Event::CasePlaced(Placement {
                facility_id: FacilityId::parse(&e.facility_id).map_err(|_| bad("bad facility"))?,
                province: Province::parse(&e.province).map_err(|_| bad("bad province"))?,
                facility_kind: FacilityKind::from_code(&e.facility_kind)
                    .map_err(|_| bad("bad kind"))?,
                placed_at: time(&e.placed_at)?,
                arrival_due_at,
                detention,
            })
        }
        WireEvent::CaseClosed(e) => Event::CaseClosed {
            reason: CloseReason::from_code(&e.reason).map_err(|_| bad("bad reason"))?,
            closed_at: time(&e.closed_at)?,
        },
        WireEvent::ScreeningDeadlineMissed(e) => Event::ScreeningDeadlineMissed {
            due_at: time(&e.due_at)?,
            detected_at: time(&e.detected_at)?,
        },
        WireEvent::AssessmentDeadlineMissed(e) => Event::AssessmentDeadlineMissed {
            due_at: time(&e.due_at)?,
            detected_at: time(&e.detected_at)?,
        },
        WireEvent::PersonalDataErased(e) => Event::PersonalDataErased {
            reason: ErasureReason::from_code(&e.reason).map_err(|_| bad("bad reason"))?,
            erased_at: time(&e.erased_at)?,
        },
        WireEvent::FacilityRegistered(_) => return Err(bad("a facility's event, not a case's")),
        WireEvent::IdentityRead(e) => Event::IdentityRead {
            purpose: ReadPurpose::from_code(&e.purpose).map_err(|_| bad("bad purpose"))?,
            read_at: time(&e.read_at)?,
        },
        protection @ (WireEvent::AgeAssessed(_)
        | WireEvent::GuardianAppointed(_)
        | WireEvent::VulnerablePersonDetained(_)
        | WireEvent::FirstReceptionLimitExceeded(_)
        | WireEvent::FollowUpScheduled(_)
        | WireEvent::FollowUpRecorded(_)
        | WireEvent::FollowUpMissed(_)
        | WireEvent::LostToFollowUp(_)) => crate::protection_codec::decode(protection, event)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use prost::Message;

    proptest! {
        /// Stored bytes that are not what they claim: decoding answers an error, never panics.
        #[test]
        fn decoding_malformed_events_never_panics(
            kind in 0..WireEvent::event_types().len(),
            version in 0_u32..3,
            payload in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            let event = log::Event {
                event_id: "e".to_owned(),
                event_type: WireEvent::event_types()[kind].clone(),
                schema_version: version,
                payload,
            };
            let _ = decode(&event);
            let _ = WireEvent::decode(&event);
        }

        /// Well-formed messages with arbitrary field contents are refused cleanly when invalid.
        #[test]
        fn decoding_events_with_arbitrary_fields_never_panics(
            category in ".{0,12}", urgency in ".{0,10}", seconds in any::<i64>(), nanos in any::<i32>(),
        ) {
            let message = wire::VulnerabilitySignalRaised {
                suspected: Some(wire::SuspectedCategory { category, indicators: vec![] }),
                urgency,
                raised_by_role: "operator".to_owned(),
                raised_by_organisation: "org".to_owned(),
                raised_at: Some(prost_types::Timestamp { seconds, nanos }),
                gbv_disclosure: false,
            };
            let event = log::Event {
                event_id: "e".to_owned(),
                event_type: case_log_jetstream::contract::event_type::<wire::VulnerabilitySignalRaised>(),
                schema_version: 1,
                payload: message.encode_to_vec(),
            };
            let _ = decode(&event);
        }
    }
}
