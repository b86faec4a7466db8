//! The state of a case as each service saw it at a point of the log: the
//! domain crates' own `State::evolve` over the events decoded by the shared
//! codecs (`event_codecs`), rendered without personal data (categories that
//! are special categories are counted, not named; referral datasets are never
//! opened).

use case_log_jetstream::envelope::timestamp;
use case_log_jetstream::{Producer, RecordedCommit};
use contracts::monitoring::v1 as api;
use service_runtime::ServiceError;

use super::render::{special_category, special_service_type};

/// Both states folded from the same commits.
#[derive(Debug, Default)]
pub struct Folded {
    pub screening: case_screening::State,
    pub referral: case_referral::State,
}

/// Folds the commits of one case, screening's and referral's, in log order.
/// Event types a newer version of a service added are skipped (the explicit
/// allowlist is each contract's list): they must not stop a replay. An event
/// of a known type that does not decode is an error.
pub fn fold(case_id: &str, commits: &[RecordedCommit]) -> Result<Folded, ServiceError> {
    let screening_types = event_codecs::screening::WireEvent::event_types();
    let referral_types = event_codecs::referral::WireEvent::event_types();
    let mut folded = Folded::default();
    for commit in commits {
        match commit.producer() {
            Some(Producer::Screening) => {
                for event in &commit.commit.events {
                    if !screening_types.contains(&event.event_type) {
                        continue;
                    }
                    let event = event_codecs::screening::decode(event).map_err(|e| {
                        ServiceError::internal(format!(
                            "replay: screening event at {} does not decode: {e}",
                            commit.sequence
                        ))
                    })?;
                    folded.screening = std::mem::take(&mut folded.screening).evolve(&event);
                }
            }
            Some(Producer::Referral) => {
                for event in &commit.commit.events {
                    if !referral_types.contains(&event.event_type) {
                        continue;
                    }
                    // Replay never opens a dataset: it reads as withheld.
                    let decoded =
                        event_codecs::referral::decode_with(event, case_id, |_, _| Ok(None))
                            .map_err(|e| {
                                ServiceError::internal(format!(
                                    "replay: referral event at {} does not decode: {e}",
                                    commit.sequence
                                ))
                            })?;
                    if let Some(event) = decoded {
                        folded.referral = std::mem::take(&mut folded.referral).evolve(&event);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(folded)
}

/// The province the case is in (where it was last placed, or opened).
pub fn province(state: &case_screening::State) -> Option<String> {
    state
        .placement
        .as_ref()
        .map(|p| p.province.to_string())
        .or_else(|| state.opened.as_ref().map(|o| o.province.to_string()))
}

pub fn screening_view(state: &case_screening::State) -> api::ScreeningStateAsOf {
    let Some(opened) = &state.opened else {
        return api::ScreeningStateAsOf::default();
    };
    let (facility_id, facility_kind) = match &state.placement {
        Some(p) => (p.facility_id.to_string(), p.facility_kind.code().to_owned()),
        None => (
            opened.facility_id.to_string(),
            opened
                .facility_kind
                .map(|k| k.code().to_owned())
                .unwrap_or_default(),
        ),
    };
    let mut categories = Vec::new();
    let mut withheld = 0;
    for (category, status) in &state.categories {
        if special_category(category.code()) {
            withheld += 1;
        } else {
            categories.push(api::CategoryAsOf {
                category: category.code().to_owned(),
                status: status.code().to_owned(),
            });
        }
    }
    api::ScreeningStateAsOf {
        opened: true,
        status: if state.closed { "closed" } else { "open" }.to_owned(),
        province: province(state).unwrap_or_default(),
        facility_id,
        facility_kind,
        current_urgency: state
            .urgency
            .current()
            .map(|u| u.code().to_owned())
            .unwrap_or_default(),
        categories,
        age_band: state.minor.age_band.code().to_owned(),
        application_date: state
            .application_date
            .map(|d| d.to_string())
            .unwrap_or_default(),
        screening_due_at: state.screening_due_at().map(timestamp),
        preliminary_check_at: state.preliminary_check_at.map(timestamp),
        assessment_due_at: state.assessment_due_at().map(timestamp),
        assessment_completed_at: state.assessment_completed_at.map(timestamp),
        screening_deadline_missed: state.screening_deadline_missed,
        assessment_deadline_missed: state.assessment_deadline_missed,
        personal_data_erased: state.personal_data_erased,
        special_categories_withheld: withheld,
    }
}

pub fn referral_view(state: &case_referral::State) -> api::ReferralStateAsOf {
    let referrals = state
        .referrals
        .iter()
        .map(|(id, r)| {
            let service_type = r.service_type.code();
            api::ReferralAsOf {
                referral_id: id.to_string(),
                referrer_organisation_id: r.referrer.to_string(),
                receiver_organisation_id: r.receiver.to_string(),
                service_type: if special_service_type(service_type) {
                    super::render::SPECIAL_CATEGORY.to_owned()
                } else {
                    service_type.to_owned()
                },
                consent_id: r.consent_id.to_string(),
                state: r.state.code().to_owned(),
                urgency: r.urgency.map(|u| u.code().to_owned()).unwrap_or_default(),
                sent_at: r.sent_at.map(timestamp),
                acknowledge_by: r.acknowledge_by.map(timestamp),
                answer_by: r.answer_by.map(timestamp),
                take_charge_by: r.take_charge_by.map(timestamp),
                missed_deadlines: r.missed.iter().map(|k| k.code().to_owned()).collect(),
            }
        })
        .collect();
    let consents = state
        .consents
        .iter()
        .map(|(id, c)| {
            let (organisation, service_type) = match &c.recipient {
                case_referral::Recipient::Organisation(org) => (org.to_string(), String::new()),
                case_referral::Recipient::ServiceType(t) => (
                    String::new(),
                    if special_service_type(t.code()) {
                        super::render::SPECIAL_CATEGORY.to_owned()
                    } else {
                        t.code().to_owned()
                    },
                ),
            };
            let (kind, valid_until) = match &c.basis {
                case_referral::Basis::Consent { valid_until, .. } => {
                    ("consent", Some(timestamp(*valid_until)))
                }
                case_referral::Basis::Exception { .. } => ("exception", None),
            };
            api::ConsentAsOf {
                consent_id: id.to_string(),
                recipient_organisation_id: organisation,
                recipient_service_type: service_type,
                kind: kind.to_owned(),
                given_at: Some(timestamp(c.given_at)),
                withdrawn_at: c.withdrawn_at.map(timestamp),
                valid_until,
            }
        })
        .collect();
    api::ReferralStateAsOf {
        referrals,
        consents,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::log::v1 as log;

    fn commit(sequence: u64, subject: &str, event: log::Event) -> RecordedCommit {
        RecordedCommit {
            sequence,
            subject: subject.to_owned(),
            recorded_at: time::OffsetDateTime::UNIX_EPOCH,
            commit: log::Commit {
                events: vec![event],
                ..Default::default()
            },
        }
    }

    #[test]
    fn an_event_type_added_later_is_skipped_and_a_known_one_that_does_not_decode_is_an_error() {
        let newer = log::Event {
            event_id: "e1".to_owned(),
            event_type: "approdo.screening.v1.SomethingAddedLater".to_owned(),
            schema_version: 1,
            payload: vec![0xff, 0xff],
        };
        let folded = fold(
            "case-1",
            &[commit(1, "approdo.case.case-1.screening", newer.clone())],
        )
        .expect("skipped");
        assert!(folded.screening.opened.is_none());
        let broken = log::Event {
            event_type: case_log_jetstream::contract::event_type::<
                contracts::screening::v1::CaseOpened,
            >(),
            ..newer
        };
        assert!(
            fold(
                "case-1",
                &[commit(1, "approdo.case.case-1.screening", broken)]
            )
            .is_err()
        );
    }
}
