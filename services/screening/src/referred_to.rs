//! Which organisations a case is referred to now, read from the referral
//! service's events in the shared log (ids only): a receiving service may
//! raise a signal or record an assessment only on a case with an open
//! referral addressed to it. Unknown or undecodable events change nothing:
//! the referral service's own projection is where they fail loudly.

use std::collections::BTreeMap;

use case_log_jetstream::RecordedCommit;
use case_log_jetstream::contract::is;
use contracts::referral::v1 as referral;
use prost::Message;

/// The receivers of the case's referrals that are sent and not ended.
pub fn referred_to(history: &[RecordedCommit]) -> Vec<String> {
    // referral id -> (receiver, open)
    let mut referrals: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for event in history.iter().flat_map(|commit| &commit.commit.events) {
        let payload = event.payload.as_slice();
        let t = event.event_type.as_str();
        let (id, open) = if is::<referral::ReferralDrafted>(t) {
            let Ok(e) = referral::ReferralDrafted::decode(payload) else {
                continue;
            };
            referrals.insert(e.referral_id, (e.receiver_organisation_id, false));
            continue;
        } else if is::<referral::ReferralSent>(t) {
            (
                referral::ReferralSent::decode(payload).map(|e| e.referral_id),
                true,
            )
        } else if is::<referral::ReferralDeclined>(t) {
            (
                referral::ReferralDeclined::decode(payload).map(|e| e.referral_id),
                false,
            )
        } else if is::<referral::ReferralCompleted>(t) {
            (
                referral::ReferralCompleted::decode(payload).map(|e| e.referral_id),
                false,
            )
        } else if is::<referral::ReferralCancelled>(t) {
            (
                referral::ReferralCancelled::decode(payload).map(|e| e.referral_id),
                false,
            )
        } else if is::<referral::ReferralRevoked>(t) {
            (
                referral::ReferralRevoked::decode(payload).map(|e| e.referral_id),
                false,
            )
        } else if is::<referral::ReferralExpired>(t) {
            (
                referral::ReferralExpired::decode(payload).map(|e| e.referral_id),
                false,
            )
        } else if is::<referral::ReferralFailed>(t) {
            (
                referral::ReferralFailed::decode(payload).map(|e| e.referral_id),
                false,
            )
        } else {
            continue;
        };
        if let Some(entry) = id.ok().and_then(|id| referrals.get_mut(&id)) {
            entry.1 = open;
        }
    }
    referrals
        .into_values()
        .filter(|(_, open)| *open)
        .map(|(receiver, _)| receiver)
        .collect()
}

/// The receivers with a referral of the case in care now (taken into care,
/// on hold or resumed, not ended): who may schedule and record its follow-ups.
pub fn in_care(history: &[RecordedCommit]) -> Vec<String> {
    // referral id -> (receiver, in care)
    let mut referrals: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for event in history.iter().flat_map(|commit| &commit.commit.events) {
        let payload = event.payload.as_slice();
        let t = event.event_type.as_str();
        let (id, in_care) = if is::<referral::ReferralDrafted>(t) {
            let Ok(e) = referral::ReferralDrafted::decode(payload) else {
                continue;
            };
            referrals.insert(e.referral_id, (e.receiver_organisation_id, false));
            continue;
        } else if is::<referral::TakenIntoCare>(t) {
            (
                referral::TakenIntoCare::decode(payload).map(|e| e.referral_id),
                true,
            )
        } else if is::<referral::ReferralCompleted>(t) {
            (
                referral::ReferralCompleted::decode(payload).map(|e| e.referral_id),
                false,
            )
        } else if is::<referral::ReferralRevoked>(t) {
            (
                referral::ReferralRevoked::decode(payload).map(|e| e.referral_id),
                false,
            )
        } else if is::<referral::ReferralFailed>(t) {
            (
                referral::ReferralFailed::decode(payload).map(|e| e.referral_id),
                false,
            )
        } else if is::<referral::ReferralCancelled>(t) {
            (
                referral::ReferralCancelled::decode(payload).map(|e| e.referral_id),
                false,
            )
        } else {
            // On hold and resumed stay in care; the other events come before it.
            continue;
        };
        if let Some(entry) = id.ok().and_then(|id| referrals.get_mut(&id)) {
            entry.1 = in_care;
        }
    }
    referrals
        .into_values()
        .filter(|(_, in_care)| *in_care)
        .map(|(receiver, _)| receiver)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::log::v1 as log;

    fn commit(events: Vec<(String, Vec<u8>)>) -> RecordedCommit {
        RecordedCommit {
            sequence: 1,
            subject: "approdo.case.c.referral".to_owned(),
            recorded_at: time::OffsetDateTime::UNIX_EPOCH,
            commit: log::Commit {
                events: events
                    .into_iter()
                    .map(|(event_type, payload)| log::Event {
                        event_type,
                        schema_version: 1,
                        payload,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            },
        }
    }

    fn event<M: prost::Name>(message: M) -> (String, Vec<u8>) {
        (M::full_name(), message.encode_to_vec())
    }

    fn drafted(id: &str, receiver: &str) -> (String, Vec<u8>) {
        event(referral::ReferralDrafted {
            referral_id: id.to_owned(),
            receiver_organisation_id: receiver.to_owned(),
            ..Default::default()
        })
    }

    fn sent(id: &str) -> (String, Vec<u8>) {
        event(referral::ReferralSent {
            referral_id: id.to_owned(),
            ..Default::default()
        })
    }

    #[test]
    fn only_sent_referrals_not_ended_count() {
        let history = [
            commit(vec![drafted("r1", "cav-roma"), sent("r1")]),
            commit(vec![drafted("r2", "cav-milano")]),
            commit(vec![drafted("r3", "shelter-ag"), sent("r3")]),
            commit(vec![event(referral::ReferralDeclined {
                referral_id: "r3".to_owned(),
                ..Default::default()
            })]),
        ];
        assert_eq!(referred_to(&history), ["cav-roma"]);
        assert!(referred_to(&[]).is_empty());
    }

    #[test]
    fn only_referrals_in_care_count_for_follow_up() {
        let taken = |id: &str| {
            event(referral::TakenIntoCare {
                referral_id: id.to_owned(),
                ..Default::default()
            })
        };
        let history = [
            commit(vec![drafted("r1", "cav-roma"), sent("r1")]),
            commit(vec![drafted("r2", "shelter-ag"), sent("r2"), taken("r2")]),
            commit(vec![event(referral::PutOnHold {
                referral_id: "r2".to_owned(),
                ..Default::default()
            })]),
            commit(vec![drafted("r3", "asl-ag"), sent("r3"), taken("r3")]),
            commit(vec![event(referral::ReferralCompleted {
                referral_id: "r3".to_owned(),
                ..Default::default()
            })]),
        ];
        assert_eq!(
            in_care(&history),
            ["shelter-ag"],
            "sent only, or completed, is not in care"
        );
        assert_eq!(referred_to(&history), ["cav-roma", "shelter-ag"]);
    }
}
