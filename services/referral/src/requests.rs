//! Validation at the edge: requests become domain commands, or INVALID_ARGUMENT
//! naming every offending field (never echoing values).

use std::collections::BTreeSet;

use case_log_jetstream::envelope::from_timestamp;
use case_referral::directory::OrganisationProfile;
use case_referral::*;
use contracts::referral::v1 as api;
use service_runtime::{ServiceError, Violations};
use time::OffsetDateTime;

use pathway::vocabularies::{Vocabularies, VocabularyKind};

use crate::codec::{dataset_from_wire, recipient_from_wire};

/// A client request id (the rule is the runtime's, shared by every service).
pub fn request_id(violations: &mut Violations, raw: &str) -> String {
    violations.request_id(raw)
}

fn time(
    v: &mut Violations,
    field: &str,
    raw: &Option<prost_types::Timestamp>,
) -> Option<OffsetDateTime> {
    match raw.as_ref() {
        None => {
            v.add(field, "is required");
            None
        }
        Some(t) if (0..1_000_000_000).contains(&t.nanos) => {
            let at = from_timestamp(t);
            if at.is_none() {
                v.add(field, "is not a valid time");
            }
            at
        }
        Some(_) => {
            v.add(field, "is not a valid time");
            None
        }
    }
}

/// A case id as the screening service makes them.
pub fn case_id(v: &mut Violations, raw: &str) -> Option<String> {
    let valid = !raw.is_empty()
        && raw.len() <= 64
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Some(raw.to_owned())
    } else {
        v.add("case_id", "must be 1 to 64 characters of [a-z0-9-]");
        None
    }
}

pub fn profile(
    v: &mut Violations,
    raw: Option<&api::OrganisationProfile>,
) -> Option<OrganisationProfile> {
    let Some(p) = raw else {
        v.add("profile", "is required");
        return None;
    };
    let organisation_id = v.check(
        "profile.organisation_id",
        OrganisationId::parse(&p.organisation_id),
    );
    let name = v.check("profile.name", OrganisationName::parse(&p.name));
    if p.service_types.is_empty() {
        v.add("profile.service_types", "at least one service type");
    }
    let service_types = v.each("profile.service_types", &p.service_types, |t| {
        ServiceType::from_code(t)
    });
    if p.provinces.is_empty() {
        v.add("profile.provinces", "at least one province");
    }
    let provinces = v.each("profile.provinces", &p.provinces, Province::parse);
    let languages = v.each("profile.languages", &p.languages, Language::parse);
    let accessibility = v.each("profile.accessibility", &p.accessibility, Code::parse);
    let opening_hours = v.check(
        "profile.opening_hours",
        OpeningHours::parse(&p.opening_hours),
    );
    let intake_channel = if p.intake_channel.is_empty() {
        Some(None)
    } else {
        v.check("profile.intake_channel", Code::parse(&p.intake_channel))
            .map(Some)
    };
    let availability = v.check(
        "profile.availability",
        Availability::from_code(&p.availability).map_err(|_| "must be available, limited or full"),
    );
    Some(OrganisationProfile {
        organisation_id: organisation_id?,
        name: name?,
        service_types,
        provinces,
        languages,
        accessibility,
        opening_hours: opening_hours?,
        intake_channel: intake_channel?,
        availability: availability?,
        active: p.active,
    })
}

pub fn give_consent(
    r: &api::GiveConsentRequest,
    in_force: &Vocabularies,
    consent_id: impl FnOnce(&str) -> ConsentId,
) -> Result<(String, String, Command), ServiceError> {
    let mut v = Violations::default();
    let request_id = request_id(&mut v, &r.request_id);
    let case = case_id(&mut v, &r.case_id);
    let recipient = v.check("recipient", recipient_from_wire(r.recipient.as_ref()));
    let given_at = time(&mut v, "given_at", &r.given_at);
    let basis = match &r.basis {
        Some(api::give_consent_request::Basis::Consent(c)) => {
            let purpose = v.check(
                "consent.purpose",
                in_force.code(VocabularyKind::ConsentPurpose, &c.purpose),
            );
            let scopes: BTreeSet<DataScope> = v
                .each("consent.scopes", &c.scopes, DataScope::from_code)
                .into_iter()
                .collect();
            let valid_until = time(&mut v, "consent.valid_until", &c.valid_until);
            // `of_consent_age` is not read: whether the person may consent
            // alone is the domain's decision, from the case's age band.
            let grantor = match c.grantor.as_str() {
                "person" => Some(Grantor::Person),
                "guardian" => Some(Grantor::Guardian {
                    child_assent: c.child_assent,
                }),
                _ => {
                    v.add("consent.grantor", "must be person or guardian");
                    None
                }
            };
            (|| {
                Some(Basis::Consent {
                    purpose: purpose?,
                    scopes,
                    valid_until: valid_until?,
                    grantor: grantor?,
                })
            })()
        }
        Some(api::give_consent_request::Basis::Exception(x)) => {
            let reason = v.check("exception.reason", ExceptionReason::from_code(&x.reason));
            let authority = v.check("exception.authority", Code::parse(&x.authority));
            (|| {
                Some(Basis::Exception {
                    reason: reason?,
                    authority: authority?,
                })
            })()
        }
        None => {
            v.add("basis", "a consent or an exception is required");
            None
        }
    };
    v.finish()?;
    match (case, recipient, basis, given_at) {
        (Some(case), Some(recipient), Some(basis), Some(given_at)) => {
            let command = Command::GiveConsent {
                consent_id: consent_id(&request_id),
                recipient,
                basis,
                given_at,
            };
            Ok((request_id, case, command))
        }
        _ => Err(ServiceError::validated_without_fields()),
    }
}

pub fn withdraw_consent(
    r: &api::WithdrawConsentRequest,
) -> Result<(String, String, Command), ServiceError> {
    let mut v = Violations::default();
    let request_id = request_id(&mut v, &r.request_id);
    let case = case_id(&mut v, &r.case_id);
    let consent_id = v.check("consent_id", ConsentId::parse(&r.consent_id));
    v.finish()?;
    match (case, consent_id) {
        (Some(case), Some(consent_id)) => {
            Ok((request_id, case, Command::WithdrawConsent { consent_id }))
        }
        _ => Err(ServiceError::validated_without_fields()),
    }
}

pub fn refuse_consent(
    r: &api::RefuseConsentRequest,
    in_force: &Vocabularies,
    consent_id: impl FnOnce(&str) -> ConsentId,
) -> Result<(String, String, Command), ServiceError> {
    let mut v = Violations::default();
    let request_id = request_id(&mut v, &r.request_id);
    let case = case_id(&mut v, &r.case_id);
    let recipient = v.check("recipient", recipient_from_wire(r.recipient.as_ref()));
    let purpose = v.check(
        "purpose",
        in_force.code(VocabularyKind::ConsentPurpose, &r.purpose),
    );
    let refused_at = time(&mut v, "refused_at", &r.refused_at);
    v.finish()?;
    match (case, recipient, purpose, refused_at) {
        (Some(case), Some(recipient), Some(purpose), Some(refused_at)) => {
            let command = Command::RefuseConsent {
                consent_id: consent_id(&request_id),
                recipient,
                purpose,
                refused_at,
            };
            Ok((request_id, case, command))
        }
        _ => Err(ServiceError::validated_without_fields()),
    }
}

pub fn create_referral(
    r: &api::CreateReferralRequest,
    in_force: &Vocabularies,
    referral_id: impl FnOnce(&str) -> ReferralId,
) -> Result<(String, String, Command), ServiceError> {
    let mut v = Violations::default();
    let request_id = request_id(&mut v, &r.request_id);
    let case = case_id(&mut v, &r.case_id);
    let receiver = v.check(
        "receiver_organisation_id",
        OrganisationId::parse(&r.receiver_organisation_id),
    );
    let service_type = v.check("service_type", ServiceType::from_code(&r.service_type));
    let consent_id = v.check("consent_id", ConsentId::parse(&r.consent_id));
    let dataset = match &r.dataset {
        Some(d) => {
            // Communication needs and safety instructions: closed vocabularies.
            v.each("dataset.communication_needs", &d.communication_needs, |c| {
                in_force.code(VocabularyKind::CommunicationNeed, c)
            });
            v.each("dataset.safety_instructions", &d.safety_instructions, |c| {
                in_force.code(VocabularyKind::SafetyInstruction, c)
            });
            match dataset_from_wire(d) {
                Ok(dataset) => Some(dataset),
                Err((field, reason)) => {
                    v.add(field, reason);
                    None
                }
            }
        }
        None => {
            v.add("dataset", "is required");
            None
        }
    };
    v.finish()?;
    match (case, receiver, service_type, consent_id, dataset) {
        (Some(case), Some(receiver), Some(service_type), Some(consent_id), Some(dataset)) => Ok((
            request_id.clone(),
            case,
            Command::CreateReferral {
                referral_id: referral_id(&request_id),
                receiver,
                service_type,
                consent_id,
                dataset,
                send: r.send,
            },
        )),
        _ => Err(ServiceError::validated_without_fields()),
    }
}

pub fn update_referral(
    r: &api::UpdateReferralRequest,
) -> Result<(String, String, Command), ServiceError> {
    use api::update_referral_request::Action;
    let mut v = Violations::default();
    let request_id = request_id(&mut v, &r.request_id);
    let case = case_id(&mut v, &r.case_id);
    let referral_id = v.check("referral_id", ReferralId::parse(&r.referral_id));
    let command = match (&r.action, referral_id) {
        (None, _) => {
            v.add("action", "is required");
            None
        }
        (_, None) => None,
        (Some(action), Some(referral_id)) => match action {
            Action::Send(_) => Some(Command::Send { referral_id }),
            Action::Receive(_) => Some(Command::Receive { referral_id }),
            Action::Accept(_) => Some(Command::Accept { referral_id }),
            Action::Decline(d) => {
                let reason = v.check("decline.reason", DeclineReason::from_code(&d.reason));
                let redirect_to = if d.redirect_to_organisation_id.is_empty() {
                    Some(None)
                } else {
                    v.check(
                        "decline.redirect_to_organisation_id",
                        OrganisationId::parse(&d.redirect_to_organisation_id),
                    )
                    .map(Some)
                };
                (|| {
                    Some(Command::Decline {
                        referral_id,
                        reason: reason?,
                        redirect_to: redirect_to?,
                    })
                })()
            }
            Action::TakeCharge(_) => Some(Command::TakeCharge { referral_id }),
            Action::Hold(_) => Some(Command::Hold { referral_id }),
            Action::Resume(_) => Some(Command::Resume { referral_id }),
            Action::Complete(c) => v
                .check("complete.outcome", CareOutcome::from_code(&c.outcome))
                .map(|outcome| Command::Complete {
                    referral_id,
                    outcome,
                }),
            Action::Cancel(c) => v
                .check(
                    "cancel.reason",
                    crate::codec::cancel_reason(&c.reason)
                        .map_err(|_| "must be referrer_decision, duplicate or other (or empty)"),
                )
                .map(|reason| Command::Cancel {
                    referral_id,
                    reason,
                }),
            Action::MarkFailed(f) => v
                .check(
                    "mark_failed.reason",
                    crate::codec::failure_reason(&f.reason)
                        .map_err(|_| "must be lost_contact, moved_away or other (or empty)"),
                )
                .map(|reason| Command::MarkFailed {
                    referral_id,
                    reason,
                }),
        },
    };
    v.finish()?;
    match (case, command) {
        (Some(case), Some(command)) => Ok((request_id, case, command)),
        _ => Err(ServiceError::validated_without_fields()),
    }
}

/// Rules to publish: every category's service types, checked as a whole by the domain.
pub fn pathway_rules(
    v: &mut Violations,
    raw: &[api::PathwayRule],
) -> Vec<(pathway::Category, Vec<ServiceType>)> {
    let mut rules = Vec::new();
    for (i, rule) in raw.iter().enumerate() {
        let category = v.check(
            &format!("rules[{i}].category"),
            pathway::Category::from_code(&rule.category),
        );
        let services: Vec<_> = rule
            .service_types
            .iter()
            .enumerate()
            .filter_map(|(j, t)| {
                v.check(
                    &format!("rules[{i}].service_types[{j}]"),
                    ServiceType::from_code(t),
                )
            })
            .collect();
        if let Some(category) = category {
            rules.push((category, services));
        }
    }
    v.check(
        "rules",
        case_referral::pathway_rules::PathwayRules::new(0, rules.clone()),
    );
    rules
}
