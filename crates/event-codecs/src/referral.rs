//! Referral events between the domain and the wire (`approdo.referral.v1`).
//! A referral's dataset is sealed and opened by the caller's closures
//! (`encode_with`, `decode_with`): this module holds no key.

use case_log_jetstream::DecodeError;
use case_log_jetstream::envelope::{from_timestamp, timestamp};
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

/// Encodes a domain event. `province` is the case's province, recorded with
/// escalations so that the prefecture that must act is in the event itself.
/// A referral's minimum dataset is sealed by `seal` (given the referral and
/// its dataset, if any), which may refuse.
pub fn encode_with<E>(
    event: &Event,
    province: &str,
    seal: impl FnOnce(&ReferralId, Option<&Dataset>) -> Result<wire::referral_drafted::Dataset, E>,
) -> Result<WireEvent, E> {
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
            dataset: Some(seal(referral_id, dataset.as_ref())?),
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

/// Reads a stored case-referral event of the case `case_id` back into the
/// domain. A sealed dataset is opened by `open` (given the referral id and
/// the sealed message): `Ok(None)` reads it as withheld (erased, or not to be
/// opened: replay), an error as a corrupt event. A dataset sealed with the
/// person's own key is withheld without asking `open`.
pub fn decode_with(
    event: &log::Event,
    case_id: &str,
    open: impl FnOnce(
        &str,
        &contracts::person::v1::EncryptedMessage,
    ) -> Result<Option<wire::MinimumDataset>, &'static str>,
) -> Result<Option<Event>, DecodeError> {
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
            dataset: match &e.dataset {
                // Sealed with the person's own key, before datasets had theirs.
                Some(wire::referral_drafted::Dataset::EncryptedMinimumDataset(sealed))
                    if sealed_with_the_persons_key(case_id, sealed) =>
                {
                    None
                }
                Some(wire::referral_drafted::Dataset::EncryptedMinimumDataset(sealed)) => {
                    match open(&e.referral_id, sealed).map_err(bad)? {
                        Some(opened) => Some(dataset_from_wire(&opened).map_err(|(_, r)| bad(r))?),
                        None => None,
                    }
                }
                // Written before datasets were sealed.
                Some(wire::referral_drafted::Dataset::MinimumDataset(d)) => {
                    Some(dataset_from_wire(d).map_err(|(_, r)| bad(r))?)
                }
                None => return Err(bad("missing dataset")),
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
