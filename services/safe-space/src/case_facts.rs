//! What the safe-space service needs to know about a case, read from the
//! log (never from a request): screening's facts, folded by the shared
//! `case_facts` crate (where the case is, for the caller's jurisdiction; its
//! current urgency; the age band, an `AgeAssessed` replacing the opening's;
//! the sex as `CaseOpened` records it in clear; closure and erasure), read
//! here through [`SafeSpaceFacts`]; and, from the referral service's events,
//! whether a linked referral ended and who accepted the case. Ids and codes only.

use case_log_jetstream::RecordedCommit;
use case_log_jetstream::contract::is;
use pathway::AgeBand;
use prost::Message;
use service_runtime::Whereabouts;

/// The case's facts, folded from screening's events by the shared crate
/// (`case_facts`, also referral's and monitoring's).
pub use case_facts::CaseFacts;

/// What the safe-space service reads of a case's facts.
pub trait SafeSpaceFacts {
    /// Why what the case holds must end by itself, if it must: its data
    /// erased, or the case closed.
    fn ended(&self) -> Option<safe_space_allocation::ReleaseReason>;
    /// Where the case is, for the caller's jurisdiction.
    fn whereabouts(&self) -> Whereabouts;
    /// The facts the allocator decides a request with.
    fn domain(&self, held_elsewhere: bool) -> safe_space_allocation::CaseFacts;
}

impl SafeSpaceFacts for CaseFacts {
    fn ended(&self) -> Option<safe_space_allocation::ReleaseReason> {
        use safe_space_allocation::ReleaseReason;
        if self.erased {
            Some(ReleaseReason::Erasure)
        } else if self.closed.is_some() {
            Some(ReleaseReason::CaseClosed)
        } else {
            None
        }
    }

    fn whereabouts(&self) -> Whereabouts {
        Whereabouts::at(self.province.clone(), self.facility_id.clone())
    }

    fn domain(&self, held_elsewhere: bool) -> safe_space_allocation::CaseFacts {
        safe_space_allocation::CaseFacts {
            urgency: self.case_urgency().current(),
            sex: pathway::Sex::from_code(&self.sex).unwrap_or(pathway::Sex::Unknown),
            age_band: AgeBand::from_code(&self.age_band).unwrap_or(AgeBand::Unknown),
            closed: self.closed.is_some(),
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
