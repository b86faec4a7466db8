//! What the safe-space service needs to know about a case, read from the
//! screening service's events in the log (never from a request): where the
//! case is (for the caller's jurisdiction), its current urgency
//! (`pathway::CaseUrgency`), the person's age band (an `AgeAssessed`
//! replaces the opening's), and whether it was closed or its data erased;
//! and, from the referral service's events, whether a linked referral ended. Ids and codes only.
//! The person's sex is screening's, in clear on `CaseOpened` (the identity
//! stays sealed).

use case_log_jetstream::RecordedCommit;
use case_log_jetstream::contract::is;
use contracts::screening::v1 as screening;
use pathway::{AgeBand, CaseUrgency, Urgency};
use prost::Message;
use service_runtime::Whereabouts;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseFacts {
    pub province: String,
    pub facility_id: String,
    pub urgency: CaseUrgency,
    pub age_band: String,
    /// As `CaseOpened.sex` records it; empty in openings before it existed.
    pub sex: String,
    pub closed: bool,
    /// Screening erased the person's data.
    pub erased: bool,
    /// The log sequence of screening's last placement of the case (0: never placed).
    pub placed_at_sequence: u64,
}

impl CaseFacts {
    /// Folds the screening history of a case; `None` if the case was never opened.
    pub fn from_history(history: &[RecordedCommit]) -> Option<CaseFacts> {
        let mut facts: Option<CaseFacts> = None;
        let events = history
            .iter()
            .flat_map(|c| c.commit.events.iter().map(move |e| (c.sequence, e)));
        for (sequence, event) in events {
            let (t, payload) = (event.event_type.as_str(), event.payload.as_slice());
            if is::<screening::CaseOpened>(t) {
                if let Ok(e) = screening::CaseOpened::decode(payload) {
                    facts = Some(CaseFacts {
                        province: e.province,
                        facility_id: e.facility_id,
                        age_band: e.age_band,
                        sex: e.sex,
                        ..CaseFacts::default()
                    });
                }
                continue;
            }
            let Some(f) = facts.as_mut() else { continue };
            if is::<screening::CasePlaced>(t) {
                if let Ok(e) = screening::CasePlaced::decode(payload) {
                    f.province = e.province;
                    f.facility_id = e.facility_id;
                    f.placed_at_sequence = sequence;
                }
            } else if is::<screening::PreliminaryCheckRecorded>(t) {
                if let Ok(e) = screening::PreliminaryCheckRecorded::decode(payload) {
                    f.raise(&e.urgency);
                }
            } else if is::<screening::VulnerabilitySignalRaised>(t) {
                if let Ok(e) = screening::VulnerabilitySignalRaised::decode(payload) {
                    f.raise(&e.urgency);
                }
            } else if is::<screening::AssessmentRecorded>(t) {
                if let Ok(e) = screening::AssessmentRecorded::decode(payload)
                    && let Ok(urgency) = Urgency::from_code(&e.urgency)
                {
                    f.urgency = f.urgency.assessed(urgency);
                }
            } else if is::<screening::AgeAssessed>(t) {
                if let Ok(e) = screening::AgeAssessed::decode(payload) {
                    f.age_band = e.age_band;
                }
            } else if is::<screening::CaseClosed>(t) {
                f.closed = true;
            } else if is::<screening::PersonalDataErased>(t) {
                f.erased = true;
            }
        }
        facts
    }

    fn raise(&mut self, urgency: &str) {
        if let Ok(urgency) = Urgency::from_code(urgency) {
            self.urgency = self.urgency.raised(urgency);
        }
    }

    /// Why what the case holds must end by itself, if it must: its data
    /// erased, or the case closed.
    pub fn ended(&self) -> Option<safe_space_allocation::ReleaseReason> {
        use safe_space_allocation::ReleaseReason;
        if self.erased {
            Some(ReleaseReason::Erasure)
        } else if self.closed {
            Some(ReleaseReason::CaseClosed)
        } else {
            None
        }
    }

    /// Where the case is, for the caller's jurisdiction.
    pub fn whereabouts(&self) -> Whereabouts {
        Whereabouts::at(self.province.clone(), self.facility_id.clone())
    }

    /// The facts the allocator decides a request with.
    pub fn domain(&self, held_elsewhere: bool) -> safe_space_allocation::CaseFacts {
        safe_space_allocation::CaseFacts {
            urgency: self.urgency.current(),
            sex: pathway::Sex::from_code(&self.sex).unwrap_or(pathway::Sex::Unknown),
            age_band: AgeBand::from_code(&self.age_band).unwrap_or(AgeBand::Unknown),
            closed: self.closed,
            held_elsewhere,
            location_readers: Default::default(),
            responsible: false,
        }
    }
}

/// Why the linked referral `referral_id` ended, if it did, from the referral
/// service's events of the case (revoked, cancelled, failed).
pub fn referral_ended(
    history: &[RecordedCommit],
    referral_id: &str,
) -> Option<safe_space_allocation::ReleaseReason> {
    use contracts::referral::v1 as referral;
    use safe_space_allocation::ReleaseReason;
    history
        .iter()
        .flat_map(|c| c.commit.events.iter())
        .find_map(|event| {
            let (t, payload) = (event.event_type.as_str(), event.payload.as_slice());
            let (id, reason) = if is::<referral::ReferralRevoked>(t) {
                (
                    referral::ReferralRevoked::decode(payload).ok()?.referral_id,
                    ReleaseReason::ReferralRevoked,
                )
            } else if is::<referral::ReferralCancelled>(t) {
                (
                    referral::ReferralCancelled::decode(payload)
                        .ok()?
                        .referral_id,
                    ReleaseReason::ReferralCancelled,
                )
            } else if is::<referral::ReferralFailed>(t) {
                (
                    referral::ReferralFailed::decode(payload).ok()?.referral_id,
                    ReleaseReason::ReferralFailed,
                )
            } else {
                return None;
            };
            (id == referral_id).then_some(reason)
        })
}

/// The receiving organisations of the case's referrals that are accepted or
/// in care now (accepted, taken into care, on hold, resumed; not received
/// only, declined or ended), from the referral service's events of the case.
pub fn accepted_receivers(history: &[RecordedCommit]) -> Vec<String> {
    use contracts::referral::v1 as referral;
    use std::collections::BTreeMap;
    let mut receivers: BTreeMap<String, String> = BTreeMap::new();
    let mut accepted: BTreeMap<String, bool> = BTreeMap::new();
    for event in history.iter().flat_map(|c| c.commit.events.iter()) {
        let (t, payload) = (event.event_type.as_str(), event.payload.as_slice());
        let decoded = |id: Result<String, prost::DecodeError>| id.ok();
        let (id, now_accepted) = if is::<referral::ReferralDrafted>(t) {
            if let Ok(e) = referral::ReferralDrafted::decode(payload) {
                receivers.insert(e.referral_id.clone(), e.receiver_organisation_id);
                (Some(e.referral_id), false)
            } else {
                (None, false)
            }
        } else if is::<referral::ReferralAccepted>(t) {
            (
                decoded(referral::ReferralAccepted::decode(payload).map(|e| e.referral_id)),
                true,
            )
        } else if is::<referral::TakenIntoCare>(t) {
            (
                decoded(referral::TakenIntoCare::decode(payload).map(|e| e.referral_id)),
                true,
            )
        } else if is::<referral::ReferralDeclined>(t) {
            (
                decoded(referral::ReferralDeclined::decode(payload).map(|e| e.referral_id)),
                false,
            )
        } else if is::<referral::ReferralCompleted>(t) {
            (
                decoded(referral::ReferralCompleted::decode(payload).map(|e| e.referral_id)),
                false,
            )
        } else if is::<referral::ReferralCancelled>(t) {
            (
                decoded(referral::ReferralCancelled::decode(payload).map(|e| e.referral_id)),
                false,
            )
        } else if is::<referral::ReferralRevoked>(t) {
            (
                decoded(referral::ReferralRevoked::decode(payload).map(|e| e.referral_id)),
                false,
            )
        } else if is::<referral::ReferralExpired>(t) {
            (
                decoded(referral::ReferralExpired::decode(payload).map(|e| e.referral_id)),
                false,
            )
        } else if is::<referral::ReferralFailed>(t) {
            (
                decoded(referral::ReferralFailed::decode(payload).map(|e| e.referral_id)),
                false,
            )
        } else {
            (None, false)
        };
        if let Some(id) = id {
            accepted.insert(id, now_accepted);
        }
    }
    accepted
        .into_iter()
        .filter(|(_, is_accepted)| *is_accepted)
        .filter_map(|(id, _)| receivers.remove(&id))
        .collect()
}
