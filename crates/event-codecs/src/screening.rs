//! The screening events between the domain and the wire: domain events become
//! `approdo.screening.v1` messages in a commit, and back when state is rebuilt.

use case_log_jetstream::DecodeError;
use case_log_jetstream::envelope::{from_timestamp, timestamp};
use case_screening::*;
use contracts::log::v1 as log;
use contracts::screening::v1 as wire;
use pathway::{AgeBand, Category, Urgency};
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
        NeedIdentifiedAfterAssessment,
        NeedAssessmentDeadlineMissed,
        FormalIdentificationRecorded,
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
/// domain: sealed with the person's key (by the screening service, which
/// holds it) before it reaches the log.
#[derive(Debug, Clone, Default)]
pub struct PersonalParts {
    pub identity: Option<wire::case_opened::Identity>,
    pub special_category: Option<wire::case_opened::SpecialCategory>,
}

/// What the sealed messages of `CaseOpened` are, in their seal context.
pub const IDENTITY: &str = "identity";
pub const SPECIAL_CATEGORY: &str = "special_category";

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
        other_need: code_to_wire(s.other_need.as_ref()),
    }
}

fn code_to_wire(code: Option<&Code>) -> String {
    code.map(ToString::to_string).unwrap_or_default()
}

/// An optional code: empty is none.
fn optional_code(raw: &str) -> Result<Option<Code>, &'static str> {
    if raw.is_empty() {
        Ok(None)
    } else {
        Code::parse(raw).map(Some).map_err(|_| "bad code")
    }
}

/// A case's opening as the domain knows it, from its event: what the codec
/// decodes, and what the projection reads the screening deadline from.
/// Events recorded before the facility kind and the opening time existed
/// read them as none (the screening deadline runs from arrival).
pub fn opening(e: &wire::CaseOpened) -> Result<OpenCase, &'static str> {
    let arrival = e.arrival.as_ref().ok_or("missing arrival")?;
    let time = |t: &Option<prost_types::Timestamp>| t.as_ref().and_then(from_timestamp);
    Ok(OpenCase {
        case_id: CaseId::parse(&e.case_id).map_err(|_| "bad case id")?,
        arrival_place: PlaceCode::parse(&arrival.place).map_err(|_| "bad place")?,
        arrived_at: time(&arrival.arrived_at).ok_or("missing time")?,
        province: Province::parse(&e.province).map_err(|_| "bad province")?,
        facility_id: FacilityId::parse(&e.facility_id).map_err(|_| "bad facility")?,
        facility_kind: if e.facility_kind.is_empty() {
            None
        } else {
            Some(FacilityKind::from_code(&e.facility_kind).map_err(|_| "bad kind")?)
        },
        opened_at: match &e.opened_at {
            None => None,
            Some(t) => Some(from_timestamp(t).ok_or("bad time")?),
        },
        // Empty in events recorded before the age band existed: not known.
        age_band: if e.age_band.is_empty() {
            AgeBand::Unknown
        } else {
            AgeBand::from_code(&e.age_band).map_err(|_| "bad age band")?
        },
        // Empty in events recorded before the sex was recorded in clear.
        sex: if e.sex.is_empty() {
            Sex::Unknown
        } else {
            Sex::from_code(&e.sex).map_err(|_| "bad sex")?
        },
        family_links: e
            .family_links
            .iter()
            .map(|l| {
                Ok(FamilyLink {
                    case_id: CaseId::parse(&l.case_id).map_err(|_| "bad link")?,
                    relation: Relation::from_code(&l.relation).map_err(|_| "bad relation")?,
                })
            })
            .collect::<Result<_, &'static str>>()?,
        application_date: if e.application_date.is_empty() {
            None
        } else {
            Some(parse_date(&e.application_date)?)
        },
    })
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
            opened_at: open.opened_at.map(timestamp),
            age_band: open.age_band.code().to_owned(),
            sex: open.sex.code().to_owned(),
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
            still_to_assess,
        } => WireEvent::AssessmentRecorded(wire::AssessmentRecorded {
            outcomes: assessment
                .outcomes
                .iter()
                .map(|(category, outcome)| wire::CategoryOutcome {
                    category: category.code().to_owned(),
                    status: outcome.code().to_owned(),
                    // The assessment's code for OTHER travels on OTHER's outcome.
                    other_need: if *category == Category::Other {
                        code_to_wire(assessment.other_need.as_ref())
                    } else {
                        String::new()
                    },
                })
                .collect(),
            special_reception_needs: assessment.special_reception_needs,
            special_procedural_guarantees: assessment.special_procedural_guarantees,
            assessed_at: ts(assessment.assessed_at),
            reassessment: *reassessment,
            assessor_role: assessment.assessor_role.to_string(),
            urgency: assessment
                .urgency
                .map(|u| u.code().to_owned())
                .unwrap_or_default(),
            still_to_assess: still_to_assess
                .iter()
                .map(|c| c.code().to_owned())
                .collect(),
        }),
        Event::NeedIdentifiedAfterAssessment {
            category,
            raised_at,
            due_at,
        } => WireEvent::NeedIdentifiedAfterAssessment(wire::NeedIdentifiedAfterAssessment {
            category: category.code().to_owned(),
            raised_at: ts(*raised_at),
            due_at: ts(*due_at),
        }),
        Event::NeedAssessmentDeadlineMissed {
            category,
            raised_at,
            due_at,
            detected_at,
        } => WireEvent::NeedAssessmentDeadlineMissed(wire::NeedAssessmentDeadlineMissed {
            category: category.code().to_owned(),
            raised_at: ts(*raised_at),
            due_at: ts(*due_at),
            detected_at: ts(*detected_at),
        }),
        Event::FormalIdentificationRecorded(identification) => {
            WireEvent::FormalIdentificationRecorded(wire::FormalIdentificationRecorded {
                category: identification.category.code().to_owned(),
                identified_by_organisation: identification.identified_by_organisation.clone(),
                identified_at: ts(identification.identified_at),
            })
        }
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
                .map(crate::screening_protection::grounds_to_wire),
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
        | Event::LostToFollowUp { .. } => crate::screening_protection::encode(event)
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
            other_need: optional_code(&s.other_need).map_err(bad)?,
        })
    };
    Ok(match WireEvent::decode(event)? {
        WireEvent::CaseOpened(e) => Event::CaseOpened(opening(&e).map_err(bad)?),
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
                urgency: if e.urgency.is_empty() {
                    None
                } else {
                    Some(urgency(&e.urgency)?)
                },
                other_need: e
                    .outcomes
                    .iter()
                    .find(|o| o.category == Category::Other.code())
                    .map(|o| optional_code(&o.other_need).map_err(bad))
                    .transpose()?
                    .flatten(),
            },
            reassessment: e.reassessment,
            still_to_assess: e
                .still_to_assess
                .iter()
                .map(|c| category(c))
                .collect::<Result<_, _>>()?,
        },
        WireEvent::NeedIdentifiedAfterAssessment(e) => Event::NeedIdentifiedAfterAssessment {
            category: category(&e.category)?,
            raised_at: time(&e.raised_at)?,
            due_at: time(&e.due_at)?,
        },
        WireEvent::NeedAssessmentDeadlineMissed(e) => Event::NeedAssessmentDeadlineMissed {
            category: category(&e.category)?,
            raised_at: time(&e.raised_at)?,
            due_at: time(&e.due_at)?,
            detected_at: time(&e.detected_at)?,
        },
        WireEvent::FormalIdentificationRecorded(e) => {
            Event::FormalIdentificationRecorded(FormalIdentification {
                category: category(&e.category)?,
                identified_by_organisation: e.identified_by_organisation.clone(),
                identified_at: time(&e.identified_at)?,
            })
        }
        WireEvent::ApplicationRecorded(e) => Event::ApplicationRecorded {
            application_date: parse_date(&e.application_date).map_err(bad)?,
        },
        WireEvent::CasePlaced(e) => {
            let (arrival_due_at, detention) =
                crate::screening_protection::placement_parts(event, &e)?;
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
        | WireEvent::LostToFollowUp(_)) => crate::screening_protection::decode(protection, event)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use prost::Message;
    use time::macros::datetime;

    fn stored(event: WireEvent) -> log::Event {
        let new = event.encode();
        log::Event {
            event_id: "e".to_owned(),
            event_type: new.event_type,
            schema_version: new.schema_version,
            payload: new.payload,
        }
    }

    fn code(raw: &str) -> Code {
        Code::parse(raw).expect("code")
    }

    #[test]
    fn the_new_screening_events_round_trip() {
        let at = datetime!(2026-03-04 12:00 UTC);
        let events = [
            Event::CaseOpened(OpenCase {
                case_id: CaseId::parse("case-1").expect("id"),
                arrival_place: PlaceCode::parse("LAMPEDUSA").expect("place"),
                arrived_at: at - time::Duration::days(30),
                province: Province::parse("AG").expect("province"),
                facility_id: FacilityId::parse("cas-agrigento").expect("facility"),
                facility_kind: Some(FacilityKind::Cas),
                opened_at: Some(at),
                family_links: vec![],
                application_date: None,
                age_band: AgeBand::From14To15,
                sex: Sex::Female,
            }),
            Event::VulnerabilitySignalRaised(Signal {
                suspected: Suspicion {
                    category: Category::Other,
                    indicators: vec![],
                    other_need: Some(code("statelessness")),
                },
                urgency: Urgency::High,
                raised_by_role: code("operator"),
                raised_by_organisation: "cas-agrigento".to_owned(),
                raised_at: at,
                gbv_disclosure: false,
            }),
            Event::AssessmentRecorded {
                assessment: Assessment {
                    outcomes: vec![
                        (Category::Other, Outcome::Confirmed),
                        (Category::Torture, Outcome::RuledOut),
                    ],
                    special_reception_needs: true,
                    special_procedural_guarantees: false,
                    assessed_at: at,
                    assessor_role: code("psychologist"),
                    urgency: Some(Urgency::Standard),
                    other_need: Some(code("statelessness")),
                },
                reassessment: true,
                still_to_assess: vec![Category::Minor, Category::Pregnant],
            },
            Event::NeedIdentifiedAfterAssessment {
                category: Category::MentalHealth,
                raised_at: at,
                due_at: at + time::Duration::days(31),
            },
            Event::NeedAssessmentDeadlineMissed {
                category: Category::MentalHealth,
                raised_at: at,
                due_at: at + time::Duration::days(31),
                detected_at: at + time::Duration::days(32),
            },
            Event::FormalIdentificationRecorded(FormalIdentification {
                category: Category::Trafficking,
                identified_by_organisation: "progetto-anti-tratta-ag".to_owned(),
                identified_at: at,
            }),
        ];
        for event in events {
            let decoded = decode(&stored(encode(&event, &PersonalParts::default())));
            assert_eq!(decoded.as_ref(), Ok(&event), "{event:?}");
        }
    }

    #[test]
    fn events_recorded_before_the_new_fields_decode_with_their_old_meaning() {
        let opened = wire::CaseOpened {
            case_id: "case-1".to_owned(),
            arrival: Some(wire::Arrival {
                place: "LAMPEDUSA".to_owned(),
                arrived_at: Some(timestamp(datetime!(2026-03-02 08:30 UTC))),
            }),
            province: "AG".to_owned(),
            facility_id: "cas-agrigento".to_owned(),
            ..Default::default()
        };
        let Ok(Event::CaseOpened(open)) = decode(&stored(WireEvent::CaseOpened(opened))) else {
            panic!("an old opening decodes");
        };
        assert_eq!((open.facility_kind, open.opened_at), (None, None));
        // Its screening runs from arrival, as it did.
        assert_eq!(open.screening_due_at(), datetime!(2026-03-09 23:00 UTC));
        let assessed = wire::AssessmentRecorded {
            outcomes: vec![wire::CategoryOutcome {
                category: "GBV".to_owned(),
                status: "confirmed".to_owned(),
                ..Default::default()
            }],
            assessed_at: Some(timestamp(datetime!(2026-03-04 12:00 UTC))),
            assessor_role: "psychologist".to_owned(),
            ..Default::default()
        };
        let Ok(Event::AssessmentRecorded {
            assessment,
            still_to_assess,
            ..
        }) = decode(&stored(WireEvent::AssessmentRecorded(assessed)))
        else {
            panic!("an old assessment decodes");
        };
        assert_eq!(assessment.urgency, None);
        assert_eq!(assessment.other_need, None);
        assert!(
            still_to_assess.is_empty(),
            "the first assessment completed it"
        );
    }

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
                suspected: Some(wire::SuspectedCategory { category, indicators: vec![], other_need: String::new() }),
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
