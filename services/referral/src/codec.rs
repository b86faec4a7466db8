//! Referral events between the domain and the wire (`approdo.referral.v1`).

use case_log_jetstream::DecodeError;
use case_log_jetstream::envelope::{from_timestamp, timestamp};
use case_referral::directory::OrganisationProfile;
use case_referral::*;
use contracts::log::v1 as log;
use contracts::referral::v1 as wire;
use pathway::{AgeBand, Category, Urgency};
use time::OffsetDateTime;

case_log_jetstream::event_contract! {
    /// A referral event as stored in the log: the one declaration of the
    /// referral service's events (type names come from `proto/`).
    pub enum WireEvent: wire, schema 1 {
        OrganisationRegistered,
        OrganisationUpdated,
        ConsentGiven,
        ConsentWithdrawn,
        ConsentRefused,
        ConsentWithdrawnDuringCare,
        ReferralDrafted,
        ReferralSent,
        DeadlinesTightened,
        ReferralReceived,
        ReferralAccepted,
        ReferralDeclined,
        TakenIntoCare,
        PutOnHold,
        Resumed,
        ReferralCompleted,
        ReferralCancelled,
        ReferralRevoked,
        ReferralExpired,
        ReferralFailed,
        CaseClosureNotified,
        ReferralCaseTransferred,
        ReferralDeadlineMissed,
        PathwayRulesPublished,
        ReferralDatasetRead,
        ReferralDatasetsRead,
    }
}

fn ts(at: OffsetDateTime) -> Option<prost_types::Timestamp> {
    Some(timestamp(at))
}

pub fn recipient_to_wire(recipient: &Recipient) -> wire::Recipient {
    wire::Recipient {
        recipient: Some(match recipient {
            Recipient::Organisation(org) => {
                wire::recipient::Recipient::OrganisationId(org.to_string())
            }
            Recipient::ServiceType(t) => {
                wire::recipient::Recipient::ServiceType(t.code().to_owned())
            }
        }),
    }
}

pub fn dataset_to_wire(dataset: &Dataset) -> wire::MinimumDataset {
    wire::MinimumDataset {
        categories: dataset
            .categories
            .iter()
            .map(|c| c.code().to_owned())
            .collect(),
        urgency: dataset
            .urgency
            .map(|u| u.code().to_owned())
            .unwrap_or_default(),
        languages: dataset
            .languages
            .iter()
            .map(|l| l.as_str().to_owned())
            .collect(),
        communication_needs: dataset
            .communication_needs
            .iter()
            .map(|c| c.to_string())
            .collect(),
        safety_instructions: dataset
            .safety_instructions
            .iter()
            .map(|c| c.to_string())
            .collect(),
    }
}

/// The person's referral datasets key for one case (never their own key):
/// `key` is `None` once their data is erased (or when the caller does not need
/// the datasets opened: they read as `None`).
pub struct CaseKey {
    pub case_id: String,
    pub key: Option<person_crypto::DataKey>,
}

/// Whether a sealed dataset was sealed with the person's own key (its key id
/// is the case id), before datasets had their own key (`<case>/datasets`).
/// This service may not read the person's key: it reads such a dataset as
/// withheld (ARCHITECTURE.md, per-person encryption, migration).
pub fn sealed_with_the_persons_key(
    case_id: &str,
    sealed: &contracts::person::v1::EncryptedMessage,
) -> bool {
    sealed.key_id == case_id
}

/// What a referral's sealed dataset is, in its seal context.
pub fn dataset_kind(referral_id: &str) -> String {
    format!("referral_dataset/{referral_id}")
}

/// A domain event that needs the person's key to be recorded, after erasure.
#[derive(Debug)]
pub struct PersonalDataErased;

/// Encodes a domain event. `province` is the case's province, recorded with
/// escalations so that the prefecture that must act is in the event itself.
/// A referral's minimum dataset is sealed with the person's key.
pub fn encode(
    event: &Event,
    province: &str,
    key: &CaseKey,
) -> Result<WireEvent, service_runtime::EncodeError<PersonalDataErased>> {
    Ok(match event {
        Event::ConsentGiven {
            consent_id,
            recipient,
            basis,
            given_at,
            age_band,
        } => WireEvent::ConsentGiven(wire::ConsentGiven {
            consent_id: consent_id.to_string(),
            recipient: Some(recipient_to_wire(recipient)),
            basis: Some(match basis {
                Basis::Consent {
                    purpose,
                    scopes,
                    valid_until,
                    grantor,
                } => {
                    // A person's own consent is recorded only when the age
                    // band let them consent alone.
                    let (grantor, child_assent, of_consent_age) = match grantor {
                        Grantor::Person => ("person", false, true),
                        Grantor::Guardian { child_assent } => ("guardian", *child_assent, false),
                    };
                    wire::consent_given::Basis::Consent(wire::ConsentBasis {
                        purpose: purpose.to_string(),
                        scopes: scopes.iter().map(|s| s.code().to_owned()).collect(),
                        valid_until: ts(*valid_until),
                        grantor: grantor.to_owned(),
                        child_assent,
                        of_consent_age,
                    })
                }
                Basis::Exception { reason, authority } => {
                    wire::consent_given::Basis::Exception(wire::ExceptionBasis {
                        reason: reason.code().to_owned(),
                        authority: authority.to_string(),
                    })
                }
            }),
            given_at: ts(*given_at),
            age_band: age_band.code().to_owned(),
        }),
        Event::ConsentWithdrawn {
            consent_id,
            withdrawn_at,
        } => WireEvent::ConsentWithdrawn(wire::ConsentWithdrawn {
            consent_id: consent_id.to_string(),
            withdrawn_at: ts(*withdrawn_at),
        }),
        Event::ConsentRefused {
            consent_id,
            recipient,
            purpose,
            refused_at,
        } => WireEvent::ConsentRefused(wire::ConsentRefused {
            consent_id: consent_id.to_string(),
            recipient: Some(recipient_to_wire(recipient)),
            purpose: purpose.to_string(),
            refused_at: ts(*refused_at),
        }),
        Event::ConsentWithdrawnDuringCare {
            referral_id,
            consent_id,
            at,
        } => WireEvent::ConsentWithdrawnDuringCare(wire::ConsentWithdrawnDuringCare {
            referral_id: referral_id.to_string(),
            consent_id: consent_id.to_string(),
            at: ts(*at),
        }),
        Event::ReferralDrafted {
            referral_id,
            referrer,
            receiver,
            service_type,
            consent_id,
            dataset,
            place,
            rules_version,
        } => WireEvent::ReferralDrafted(wire::ReferralDrafted {
            referral_id: referral_id.to_string(),
            referrer_organisation_id: referrer.to_string(),
            receiver_organisation_id: receiver.to_string(),
            service_type: service_type.code().to_owned(),
            consent_id: consent_id.to_string(),
            dataset: match (dataset, &key.key) {
                (Some(dataset), Some(data_key)) => {
                    Some(wire::referral_drafted::Dataset::EncryptedMinimumDataset(
                        service_runtime::person_keys::seal(
                            data_key,
                            &service_runtime::person_keys::dataset_key_id(&key.case_id),
                            &dataset_kind(referral_id.as_str()),
                            &dataset_to_wire(dataset),
                        )
                        .map_err(service_runtime::EncodeError::Internal)?,
                    ))
                }
                _ => return Err(PersonalDataErased.into()),
            },
            province: place
                .as_ref()
                .map(|p| p.province.to_string())
                .unwrap_or_default(),
            facility_id: place
                .as_ref()
                .map(|p| p.facility_id.to_string())
                .unwrap_or_default(),
            pathway_rules_version: *rules_version,
        }),
        Event::ReferralSent {
            referral_id,
            sent_at,
            acknowledge_by,
            answer_by,
            urgency,
            policy_version,
        } => WireEvent::ReferralSent(wire::ReferralSent {
            referral_id: referral_id.to_string(),
            sent_at: ts(*sent_at),
            acknowledge_by: ts(*acknowledge_by),
            answer_by: ts(*answer_by),
            urgency: urgency.map(|u| u.code().to_owned()).unwrap_or_default(),
            deadline_policy_version: *policy_version,
        }),
        Event::DeadlinesTightened {
            referral_id,
            urgency,
            acknowledge_by,
            answer_by,
            at,
        } => WireEvent::DeadlinesTightened(wire::DeadlinesTightened {
            referral_id: referral_id.to_string(),
            urgency: urgency.code().to_owned(),
            acknowledge_by: ts(*acknowledge_by),
            answer_by: ts(*answer_by),
            at: ts(*at),
        }),
        Event::ReferralReceived { referral_id, at } => {
            WireEvent::ReferralReceived(wire::ReferralReceived {
                referral_id: referral_id.to_string(),
                at: ts(*at),
            })
        }
        Event::ReferralAccepted {
            referral_id,
            at,
            take_charge_by,
        } => WireEvent::ReferralAccepted(wire::ReferralAccepted {
            referral_id: referral_id.to_string(),
            at: ts(*at),
            take_charge_by: ts(*take_charge_by),
        }),
        Event::ReferralDeclined {
            referral_id,
            at,
            reason,
            redirect_to,
        } => WireEvent::ReferralDeclined(wire::ReferralDeclined {
            referral_id: referral_id.to_string(),
            at: ts(*at),
            reason: reason.code().to_owned(),
            redirect_to_organisation_id: redirect_to
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        }),
        Event::TakenIntoCare { referral_id, at } => WireEvent::TakenIntoCare(wire::TakenIntoCare {
            referral_id: referral_id.to_string(),
            at: ts(*at),
        }),
        Event::PutOnHold { referral_id, at } => WireEvent::PutOnHold(wire::PutOnHold {
            referral_id: referral_id.to_string(),
            at: ts(*at),
        }),
        Event::Resumed { referral_id, at } => WireEvent::Resumed(wire::Resumed {
            referral_id: referral_id.to_string(),
            at: ts(*at),
        }),
        Event::ReferralCompleted {
            referral_id,
            at,
            outcome,
        } => WireEvent::ReferralCompleted(wire::ReferralCompleted {
            referral_id: referral_id.to_string(),
            at: ts(*at),
            outcome: outcome.code().to_owned(),
        }),
        Event::ReferralCancelled {
            referral_id,
            at,
            reason,
        } => WireEvent::ReferralCancelled(wire::ReferralCancelled {
            referral_id: referral_id.to_string(),
            at: ts(*at),
            reason: reason.code().to_owned(),
        }),
        Event::ReferralRevoked {
            referral_id,
            at,
            consent_id,
        } => WireEvent::ReferralRevoked(wire::ReferralRevoked {
            referral_id: referral_id.to_string(),
            at: ts(*at),
            consent_id: consent_id.to_string(),
        }),
        Event::ReferralExpired { referral_id, at } => {
            WireEvent::ReferralExpired(wire::ReferralExpired {
                referral_id: referral_id.to_string(),
                at: ts(*at),
            })
        }
        Event::ReferralFailed {
            referral_id,
            at,
            reason,
        } => WireEvent::ReferralFailed(wire::ReferralFailed {
            referral_id: referral_id.to_string(),
            at: ts(*at),
            reason: reason.map(|r| r.code().to_owned()).unwrap_or_default(),
        }),
        Event::CaseClosureNotified {
            referral_id,
            reason,
            at,
        } => WireEvent::CaseClosureNotified(wire::CaseClosureNotified {
            referral_id: referral_id.to_string(),
            reason: reason.to_string(),
            at: ts(*at),
        }),
        Event::ReferralCaseTransferred {
            referral_id,
            place,
            at,
        } => WireEvent::ReferralCaseTransferred(wire::ReferralCaseTransferred {
            referral_id: referral_id.to_string(),
            province: place.province.to_string(),
            facility_id: place.facility_id.to_string(),
            at: ts(*at),
        }),
        Event::DatasetRead {
            referral_ids,
            read_at,
        } => WireEvent::ReferralDatasetRead(wire::ReferralDatasetRead {
            referral_ids: referral_ids.iter().map(ToString::to_string).collect(),
            read_at: ts(*read_at),
        }),
        Event::DeadlineMissed {
            referral_id,
            kind,
            due_at,
            detected_at,
        } => WireEvent::ReferralDeadlineMissed(wire::ReferralDeadlineMissed {
            referral_id: referral_id.to_string(),
            deadline: kind.code().to_owned(),
            due_at: ts(*due_at),
            detected_at: ts(*detected_at),
            escalated_to_province: province.to_owned(),
        }),
    })
}

pub fn recipient_from_wire(raw: Option<&wire::Recipient>) -> Result<Recipient, &'static str> {
    match raw.and_then(|r| r.recipient.as_ref()) {
        Some(wire::recipient::Recipient::OrganisationId(id)) => OrganisationId::parse(id)
            .map(Recipient::Organisation)
            .map_err(|e| e.0),
        Some(wire::recipient::Recipient::ServiceType(t)) => ServiceType::from_code(t)
            .map(Recipient::ServiceType)
            .map_err(|_| "unknown service type"),
        None => Err("is required"),
    }
}

pub fn dataset_from_wire(raw: &wire::MinimumDataset) -> Result<Dataset, (String, &'static str)> {
    let field = |name: &str, i: usize| format!("dataset.{name}[{i}]");
    Ok(Dataset {
        categories: raw
            .categories
            .iter()
            .enumerate()
            .map(|(i, c)| {
                Category::from_code(c)
                    .map_err(|_| (field("categories", i), "unknown category code"))
            })
            .collect::<Result<_, _>>()?,
        urgency: if raw.urgency.is_empty() {
            None
        } else {
            Some(
                Urgency::from_code(&raw.urgency)
                    .map_err(|_| ("dataset.urgency".to_owned(), "unknown urgency code"))?,
            )
        },
        languages: raw
            .languages
            .iter()
            .enumerate()
            .map(|(i, l)| Language::parse(l).map_err(|e| (field("languages", i), e.0)))
            .collect::<Result<_, _>>()?,
        communication_needs: raw
            .communication_needs
            .iter()
            .enumerate()
            .map(|(i, c)| Code::parse(c).map_err(|e| (field("communication_needs", i), e.0)))
            .collect::<Result<_, _>>()?,
        safety_instructions: raw
            .safety_instructions
            .iter()
            .enumerate()
            .map(|(i, c)| Code::parse(c).map_err(|e| (field("safety_instructions", i), e.0)))
            .collect::<Result<_, _>>()?,
    })
}

/// Where a case is, from an event's codes.
fn place(province: &str, facility_id: &str) -> Result<Place, &'static str> {
    Ok(Place {
        province: Province::parse(province).map_err(|_| "bad province")?,
        facility_id: FacilityId::parse(facility_id).map_err(|_| "bad facility id")?,
    })
}

/// A cancellation's reason; empty (recorded before reasons were) reads as the
/// referrer's decision.
pub fn cancel_reason(raw: &str) -> Result<CancelReason, &'static str> {
    if raw.is_empty() {
        return Ok(CancelReason::ReferrerDecision);
    }
    CancelReason::from_code(raw).map_err(|_| "bad cancel reason")
}

/// A failure's reason; empty reads as not stated.
pub fn failure_reason(raw: &str) -> Result<Option<FailureReason>, &'static str> {
    if raw.is_empty() {
        return Ok(None);
    }
    FailureReason::from_code(raw)
        .map(Some)
        .map_err(|_| "bad failure reason")
}

/// Reads a stored case-referral event back into the domain, opening sealed
/// datasets with the person's key (a dataset is `None` once they are erased).
pub fn decode(event: &log::Event, key: &CaseKey) -> Result<Option<Event>, DecodeError> {
    let bad = |reason: &str| DecodeError::new(event, reason);
    let time = |t: &Option<prost_types::Timestamp>| {
        t.as_ref()
            .and_then(from_timestamp)
            .ok_or_else(|| bad("missing time"))
    };
    let rid = |raw: &str| ReferralId::parse(raw).map_err(|_| bad("bad referral id"));
    let cid = |raw: &str| ConsentId::parse(raw).map_err(|_| bad("bad consent id"));
    let org = |raw: &str| OrganisationId::parse(raw).map_err(|_| bad("bad organisation id"));
    Ok(Some(match WireEvent::decode(event)? {
        WireEvent::OrganisationRegistered(_)
        | WireEvent::OrganisationUpdated(_)
        | WireEvent::PathwayRulesPublished(_)
        | WireEvent::ReferralDatasetsRead(_) => {
            return Ok(None);
        }
        WireEvent::ConsentGiven(e) => Event::ConsentGiven {
            consent_id: cid(&e.consent_id)?,
            recipient: recipient_from_wire(e.recipient.as_ref()).map_err(bad)?,
            basis: match e.basis.ok_or_else(|| bad("missing basis"))? {
                wire::consent_given::Basis::Consent(c) => Basis::Consent {
                    purpose: Code::parse(&c.purpose).map_err(|_| bad("bad purpose"))?,
                    scopes: c
                        .scopes
                        .iter()
                        .map(|s| DataScope::from_code(s).map_err(|_| bad("bad scope")))
                        .collect::<Result<_, _>>()?,
                    valid_until: time(&c.valid_until)?,
                    grantor: if c.grantor == "guardian" {
                        Grantor::Guardian {
                            child_assent: c.child_assent,
                        }
                    } else {
                        Grantor::Person
                    },
                },
                wire::consent_given::Basis::Exception(x) => Basis::Exception {
                    reason: ExceptionReason::from_code(&x.reason).map_err(|_| bad("bad reason"))?,
                    authority: Code::parse(&x.authority).map_err(|_| bad("bad authority"))?,
                },
            },
            given_at: time(&e.given_at)?,
            age_band: if e.age_band.is_empty() {
                AgeBand::Unknown
            } else {
                AgeBand::from_code(&e.age_band).map_err(|_| bad("bad age band"))?
            },
        },
        WireEvent::ConsentWithdrawn(e) => Event::ConsentWithdrawn {
            consent_id: cid(&e.consent_id)?,
            withdrawn_at: time(&e.withdrawn_at)?,
        },
        WireEvent::ConsentRefused(e) => Event::ConsentRefused {
            consent_id: cid(&e.consent_id)?,
            recipient: recipient_from_wire(e.recipient.as_ref()).map_err(bad)?,
            purpose: Code::parse(&e.purpose).map_err(|_| bad("bad purpose"))?,
            refused_at: time(&e.refused_at)?,
        },
        WireEvent::ConsentWithdrawnDuringCare(e) => Event::ConsentWithdrawnDuringCare {
            referral_id: rid(&e.referral_id)?,
            consent_id: cid(&e.consent_id)?,
            at: time(&e.at)?,
        },
        WireEvent::ReferralDrafted(e) => Event::ReferralDrafted {
            referral_id: rid(&e.referral_id)?,
            referrer: org(&e.referrer_organisation_id)?,
            receiver: org(&e.receiver_organisation_id)?,
            service_type: ServiceType::from_code(&e.service_type)
                .map_err(|_| bad("bad service type"))?,
            consent_id: cid(&e.consent_id)?,
            dataset: match (&e.dataset, &key.key) {
                // Sealed with the person's own key, before datasets had theirs.
                (Some(wire::referral_drafted::Dataset::EncryptedMinimumDataset(sealed)), _)
                    if sealed_with_the_persons_key(&key.case_id, sealed) =>
                {
                    None
                }
                (
                    Some(wire::referral_drafted::Dataset::EncryptedMinimumDataset(sealed)),
                    Some(data_key),
                ) => {
                    // The case's datasets key id, not the message's claim: a
                    // dataset moved from another case does not open.
                    let opened: wire::MinimumDataset = service_runtime::person_keys::open(
                        data_key,
                        &service_runtime::person_keys::dataset_key_id(&key.case_id),
                        &dataset_kind(&e.referral_id),
                        sealed,
                    )
                    .map_err(|_| bad("sealed dataset does not open with the person's key"))?;
                    Some(dataset_from_wire(&opened).map_err(|(_, r)| bad(r))?)
                }
                (Some(wire::referral_drafted::Dataset::EncryptedMinimumDataset(_)), None) => None,
                // Written before datasets were sealed.
                (Some(wire::referral_drafted::Dataset::MinimumDataset(d)), _) => {
                    Some(dataset_from_wire(d).map_err(|(_, r)| bad(r))?)
                }
                (None, _) => return Err(bad("missing dataset")),
            },
            // Recorded before places were: none.
            place: if e.province.is_empty() && e.facility_id.is_empty() {
                None
            } else {
                Some(place(&e.province, &e.facility_id).map_err(bad)?)
            },
            rules_version: e.pathway_rules_version,
        },
        WireEvent::ReferralSent(e) => Event::ReferralSent {
            referral_id: rid(&e.referral_id)?,
            sent_at: time(&e.sent_at)?,
            acknowledge_by: time(&e.acknowledge_by)?,
            answer_by: time(&e.answer_by)?,
            // Recorded before the urgency was: none.
            urgency: if e.urgency.is_empty() {
                None
            } else {
                Some(Urgency::from_code(&e.urgency).map_err(|_| bad("bad urgency"))?)
            },
            policy_version: e.deadline_policy_version,
        },
        WireEvent::DeadlinesTightened(e) => Event::DeadlinesTightened {
            referral_id: rid(&e.referral_id)?,
            urgency: Urgency::from_code(&e.urgency).map_err(|_| bad("bad urgency"))?,
            acknowledge_by: time(&e.acknowledge_by)?,
            answer_by: time(&e.answer_by)?,
            at: time(&e.at)?,
        },
        WireEvent::ReferralReceived(e) => Event::ReferralReceived {
            referral_id: rid(&e.referral_id)?,
            at: time(&e.at)?,
        },
        WireEvent::ReferralAccepted(e) => Event::ReferralAccepted {
            referral_id: rid(&e.referral_id)?,
            at: time(&e.at)?,
            take_charge_by: time(&e.take_charge_by)?,
        },
        WireEvent::ReferralDeclined(e) => Event::ReferralDeclined {
            referral_id: rid(&e.referral_id)?,
            at: time(&e.at)?,
            reason: DeclineReason::from_code(&e.reason).map_err(|_| bad("bad reason"))?,
            redirect_to: if e.redirect_to_organisation_id.is_empty() {
                None
            } else {
                Some(org(&e.redirect_to_organisation_id)?)
            },
        },
        WireEvent::TakenIntoCare(e) => Event::TakenIntoCare {
            referral_id: rid(&e.referral_id)?,
            at: time(&e.at)?,
        },
        WireEvent::PutOnHold(e) => Event::PutOnHold {
            referral_id: rid(&e.referral_id)?,
            at: time(&e.at)?,
        },
        WireEvent::Resumed(e) => Event::Resumed {
            referral_id: rid(&e.referral_id)?,
            at: time(&e.at)?,
        },
        WireEvent::ReferralCompleted(e) => Event::ReferralCompleted {
            referral_id: rid(&e.referral_id)?,
            at: time(&e.at)?,
            outcome: CareOutcome::from_code(&e.outcome).map_err(|_| bad("bad outcome"))?,
        },
        WireEvent::ReferralCancelled(e) => Event::ReferralCancelled {
            referral_id: rid(&e.referral_id)?,
            at: time(&e.at)?,
            reason: cancel_reason(&e.reason).map_err(bad)?,
        },
        WireEvent::ReferralRevoked(e) => Event::ReferralRevoked {
            referral_id: rid(&e.referral_id)?,
            at: time(&e.at)?,
            consent_id: cid(&e.consent_id)?,
        },
        WireEvent::ReferralExpired(e) => Event::ReferralExpired {
            referral_id: rid(&e.referral_id)?,
            at: time(&e.at)?,
        },
        WireEvent::ReferralFailed(e) => Event::ReferralFailed {
            referral_id: rid(&e.referral_id)?,
            at: time(&e.at)?,
            reason: failure_reason(&e.reason).map_err(bad)?,
        },
        WireEvent::CaseClosureNotified(e) => Event::CaseClosureNotified {
            referral_id: rid(&e.referral_id)?,
            reason: Code::parse(&e.reason).map_err(|_| bad("bad closure reason"))?,
            at: time(&e.at)?,
        },
        WireEvent::ReferralCaseTransferred(e) => Event::ReferralCaseTransferred {
            referral_id: rid(&e.referral_id)?,
            place: place(&e.province, &e.facility_id).map_err(bad)?,
            at: time(&e.at)?,
        },
        WireEvent::ReferralDatasetRead(e) => Event::DatasetRead {
            referral_ids: e
                .referral_ids
                .iter()
                .map(|id| rid(id))
                .collect::<Result<_, _>>()?,
            read_at: time(&e.read_at)?,
        },
        WireEvent::ReferralDeadlineMissed(e) => Event::DeadlineMissed {
            referral_id: rid(&e.referral_id)?,
            kind: DeadlineKind::from_code(&e.deadline).map_err(|_| bad("bad deadline"))?,
            due_at: time(&e.due_at)?,
            detected_at: time(&e.detected_at)?,
        },
    }))
}

/// A directory profile as the events and the API carry it.
pub fn profile_to_wire(profile: &OrganisationProfile) -> wire::OrganisationProfile {
    let codes = |items: &[Code]| items.iter().map(ToString::to_string).collect();
    wire::OrganisationProfile {
        organisation_id: profile.organisation_id.to_string(),
        name: profile.name.to_string(),
        service_types: profile
            .service_types
            .iter()
            .map(|t| t.code().to_owned())
            .collect(),
        provinces: profile.provinces.iter().map(ToString::to_string).collect(),
        languages: profile
            .languages
            .iter()
            .map(|l| l.as_str().to_owned())
            .collect(),
        accessibility: codes(&profile.accessibility),
        opening_hours: profile.opening_hours.to_string(),
        intake_channel: profile
            .intake_channel
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        availability: profile.availability.code().to_owned(),
        active: profile.active,
    }
}

/// Reads a recorded profile back into the domain.
pub fn profile_from_wire(raw: &wire::OrganisationProfile) -> Result<OrganisationProfile, String> {
    let mut v = service_runtime::Violations::default();
    let profile = crate::requests::profile(&mut v, Some(raw));
    v.finish().map_err(|e| e.to_string())?;
    profile.ok_or_else(|| "profile lacks a field".to_owned())
}

/// Reads published rules back (the projection keeps the wire form).
pub fn rules_from_wire(
    published: &wire::PathwayRulesPublished,
) -> Result<case_referral::pathway_rules::PathwayRules, String> {
    let rules = published
        .rules
        .iter()
        .map(|rule| {
            let category = Category::from_code(&rule.category).map_err(|e| e.to_string())?;
            let services = rule
                .service_types
                .iter()
                .map(|t| ServiceType::from_code(t).map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((category, services))
        })
        .collect::<Result<Vec<_>, String>>()?;
    case_referral::pathway_rules::PathwayRules::new(published.version, rules)
        .map_err(|e| e.to_string())
}

pub fn rules_to_wire(rules: &case_referral::pathway_rules::PathwayRules) -> Vec<wire::PathwayRule> {
    rules
        .rules
        .iter()
        .map(|(category, services)| wire::PathwayRule {
            category: category.code().to_owned(),
            service_types: services.iter().map(|s| s.code().to_owned()).collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use prost::Message;

    fn drafted(dataset: Option<wire::referral_drafted::Dataset>) -> log::Event {
        log::Event {
            event_id: "e".to_owned(),
            event_type: case_log_jetstream::contract::event_type::<wire::ReferralDrafted>(),
            schema_version: 1,
            payload: wire::ReferralDrafted {
                referral_id: "r-1".to_owned(),
                referrer_organisation_id: "cas-1".to_owned(),
                receiver_organisation_id: "cav-1".to_owned(),
                service_type: "anti_violence_centre".to_owned(),
                consent_id: "c-1".to_owned(),
                dataset,
                ..Default::default()
            }
            .encode_to_vec(),
        }
    }

    fn sealed(
        key: &person_crypto::DataKey,
        case_id: &str,
        referral_id: &str,
    ) -> wire::referral_drafted::Dataset {
        wire::referral_drafted::Dataset::EncryptedMinimumDataset(
            service_runtime::person_keys::seal(
                key,
                &service_runtime::person_keys::dataset_key_id(case_id),
                &dataset_kind(referral_id),
                &wire::MinimumDataset {
                    categories: vec!["GBV".to_owned()],
                    urgency: "high".to_owned(),
                    ..Default::default()
                },
            )
            .expect("sealed"),
        )
    }

    #[test]
    fn a_sealed_dataset_opens_with_its_key_reads_as_erased_without_and_is_corrupt_elsewhere() {
        let key = person_crypto::DataKey::generate();
        let event = drafted(Some(sealed(&key, "case-1", "r-1")));
        let other_referral = drafted(Some(sealed(&key, "case-1", "r-2")));
        let with_key = CaseKey {
            case_id: "case-1".to_owned(),
            key: Some(key),
        };
        match decode(&event, &with_key) {
            Ok(Some(Event::ReferralDrafted {
                dataset: Some(d), ..
            })) => {
                assert_eq!(d.categories, [Category::Gbv]);
            }
            other => panic!("opened: {other:?}"),
        }
        // Moved to another referral, it does not open; a draft needs its dataset.
        assert!(decode(&other_referral, &with_key).is_err());
        assert!(decode(&drafted(None), &with_key).is_err());
        let erased = CaseKey {
            case_id: "case-1".to_owned(),
            key: None,
        };
        assert!(matches!(
            decode(&event, &erased),
            Ok(Some(Event::ReferralDrafted { dataset: None, .. }))
        ));
        // Moved to another case, it does not open.
        let elsewhere = CaseKey {
            case_id: "case-2".to_owned(),
            key: with_key.key,
        };
        assert!(decode(&event, &elsewhere).is_err());
    }

    /// A dataset sealed before datasets had their own key carries the
    /// person's key id: read as withheld, never opened, never an error.
    #[test]
    fn a_dataset_sealed_with_the_persons_key_reads_as_withheld() {
        let person_key = person_crypto::DataKey::generate();
        let legacy = wire::referral_drafted::Dataset::EncryptedMinimumDataset(
            service_runtime::person_keys::seal(
                &person_key,
                "case-1",
                &dataset_kind("r-1"),
                &wire::MinimumDataset::default(),
            )
            .expect("sealed"),
        );
        let datasets_key = CaseKey {
            case_id: "case-1".to_owned(),
            key: Some(person_key.derive_referral_datasets_key().expect("derived")),
        };
        assert!(matches!(
            decode(&drafted(Some(legacy)), &datasets_key),
            Ok(Some(Event::ReferralDrafted { dataset: None, .. }))
        ));
    }

    fn event<M: prost::Name + prost::Message>(message: M) -> log::Event {
        log::Event {
            event_id: "e".to_owned(),
            event_type: case_log_jetstream::contract::event_type::<M>(),
            schema_version: 1,
            payload: message.encode_to_vec(),
        }
    }

    /// Events recorded before issue 11's fields still decode, with the old meaning.
    #[test]
    fn events_recorded_before_the_new_fields_read_with_their_old_meaning() {
        let key = CaseKey {
            case_id: "case-1".to_owned(),
            key: None,
        };
        let at = Some(prost_types::Timestamp::default());
        let decoded = |e: log::Event| decode(&e, &key).expect("decodes").expect("an event");
        assert!(matches!(
            decoded(drafted(Some(
                wire::referral_drafted::Dataset::MinimumDataset(wire::MinimumDataset {
                    categories: vec!["GBV".to_owned()],
                    ..Default::default()
                })
            ))),
            Event::ReferralDrafted {
                place: None,
                rules_version: 0,
                ..
            }
        ));
        assert!(matches!(
            decoded(event(wire::ReferralSent {
                referral_id: "r-1".to_owned(),
                sent_at: at,
                acknowledge_by: at,
                answer_by: at,
                ..Default::default()
            })),
            Event::ReferralSent {
                urgency: None,
                policy_version: 0,
                ..
            }
        ));
        assert!(matches!(
            decoded(event(wire::ReferralCancelled {
                referral_id: "r-1".to_owned(),
                at,
                ..Default::default()
            })),
            Event::ReferralCancelled {
                reason: CancelReason::ReferrerDecision,
                ..
            }
        ));
        assert!(matches!(
            decoded(event(wire::ReferralFailed {
                referral_id: "r-1".to_owned(),
                at,
                ..Default::default()
            })),
            Event::ReferralFailed { reason: None, .. }
        ));
        // A person's consent asserted "not of consent age": the age band decides now.
        assert!(matches!(
            decoded(event(wire::ConsentGiven {
                consent_id: "c-1".to_owned(),
                recipient: Some(recipient_to_wire(&Recipient::ServiceType(
                    ServiceType::Shelter
                ))),
                basis: Some(wire::consent_given::Basis::Consent(wire::ConsentBasis {
                    purpose: "protection".to_owned(),
                    scopes: vec!["categories".to_owned()],
                    valid_until: at,
                    grantor: "person".to_owned(),
                    of_consent_age: false,
                    ..Default::default()
                })),
                given_at: at,
                ..Default::default()
            })),
            Event::ConsentGiven {
                basis: Basis::Consent {
                    grantor: Grantor::Person,
                    ..
                },
                age_band: AgeBand::Unknown,
                ..
            }
        ));
    }

    proptest! {
        /// Stored bytes that are not what they claim: decoding answers an error, never panics,
        /// with or without the person's key.
        #[test]
        fn decoding_malformed_events_never_panics(
            kind in 0..WireEvent::event_types().len(),
            payload in proptest::collection::vec(any::<u8>(), 0..256),
            with_key in any::<bool>(),
        ) {
            let event = log::Event {
                event_id: "e".to_owned(),
                event_type: WireEvent::event_types()[kind].clone(),
                schema_version: 1,
                payload,
            };
            let key = CaseKey { case_id: "case-1".to_owned(), key: with_key.then(person_crypto::DataKey::generate) };
            let _ = decode(&event, &key);
            let _ = WireEvent::decode(&event);
        }

        /// A sealed dataset whose bytes were tampered with never opens and never panics.
        #[test]
        fn a_tampered_sealed_dataset_is_refused(
            flip in 0_usize..64, nonce in proptest::collection::vec(any::<u8>(), 0..30),
        ) {
            let key = person_crypto::DataKey::generate();
            let Some(wire::referral_drafted::Dataset::EncryptedMinimumDataset(mut message)) =
                Some(sealed(&key, "case-1", "r-1"))
            else {
                unreachable!("sealed() seals");
            };
            let at = flip % message.ciphertext.len();
            message.ciphertext[at] ^= 0x01;
            if nonce.len() != message.nonce.len() {
                message.nonce = nonce;
            }
            let event = drafted(Some(wire::referral_drafted::Dataset::EncryptedMinimumDataset(message)));
            let with_key = CaseKey { case_id: "case-1".to_owned(), key: Some(key) };
            prop_assert!(decode(&event, &with_key).is_err());
        }
    }
}
