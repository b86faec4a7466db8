//! Referral events between the domain and the wire (`approdo.referral.v1`):
//! the codec itself is the shared `event_codecs::referral` (monitoring's
//! replay decodes with it too); this service adds what needs the datasets key
//! (sealing and opening a referral's dataset) and the directory's and pathway
//! rules' conversions.

pub use event_codecs::referral::*;

use case_log_jetstream::DecodeError;
use case_referral::directory::OrganisationProfile;
use case_referral::*;
use contracts::log::v1 as log;
use contracts::referral::v1 as wire;
use pathway::Category;

/// The person's referral datasets key for one case (never their own key):
/// `key` is `None` once their data is erased (or when the caller does not need
/// the datasets opened: they read as `None`).
pub struct CaseKey {
    pub case_id: String,
    pub key: Option<person_crypto::DataKey>,
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
    encode_with(event, province, |referral_id, dataset| {
        match (dataset, &key.key) {
            (Some(dataset), Some(data_key)) => {
                Ok(wire::referral_drafted::Dataset::EncryptedMinimumDataset(
                    service_runtime::person_keys::seal(
                        data_key,
                        &service_runtime::person_keys::dataset_key_id(&key.case_id),
                        &dataset_kind(referral_id.as_str()),
                        &dataset_to_wire(dataset),
                    )
                    .map_err(service_runtime::EncodeError::Internal)?,
                ))
            }
            _ => Err(PersonalDataErased.into()),
        }
    })
}

/// Reads a stored case-referral event back into the domain, opening sealed
/// datasets with the person's key (a dataset is `None` once they are erased).
pub fn decode(event: &log::Event, key: &CaseKey) -> Result<Option<Event>, DecodeError> {
    decode_with(event, &key.case_id, |referral_id, sealed| match &key.key {
        // The case's datasets key id, not the message's claim: a
        // dataset moved from another case does not open.
        Some(data_key) => service_runtime::person_keys::open(
            data_key,
            &service_runtime::person_keys::dataset_key_id(&key.case_id),
            &dataset_kind(referral_id),
            sealed,
        )
        .map(Some)
        .map_err(|_| "sealed dataset does not open with the person's key"),
        None => Ok(None),
    })
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
    use pathway::AgeBand;
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
