//! `MarkFailed`: either party records that the person was lost to follow-up, and why.

use super::support::*;

#[test]
fn mark_failed_by_either_party_is_accepted_and_by_a_third_party_refused() {
    for (from, _) in Kind::MarkFailed.allowed() {
        let state = given(&referral_in(*from));
        for party in [REFERRER, RECEIVER] {
            assert_eq!(
                when(&state, Kind::MarkFailed.command(REFERRAL), &by(party, NOW)),
                Ok(vec![Event::ReferralFailed {
                    referral_id: rid(REFERRAL),
                    at: NOW,
                    reason: Some(FailureReason::LostContact),
                }]),
                "by {party} from {from}"
            );
        }
        let result = when(&state, Kind::MarkFailed.command(REFERRAL), &by(THIRD, NOW));
        assert!(
            matches!(
                result,
                Err(ReferralError::NotTheReceiver | ReferralError::NotTheReferrer)
            ),
            "by a third party from {from}: {result:?}"
        );
    }
}

#[test]
fn a_failure_without_a_reason_is_recorded_as_unstated() {
    let state = given(&referral_in(ReferralState::InCare));
    assert_eq!(
        when(
            &state,
            Command::MarkFailed {
                referral_id: rid(REFERRAL),
                reason: None,
            },
            &by(RECEIVER, NOW),
        ),
        Ok(vec![Event::ReferralFailed {
            referral_id: rid(REFERRAL),
            at: NOW,
            reason: None,
        }])
    );
}

#[test]
fn snapshot_of_a_failure_by_the_referrer() {
    let outcome = when(
        &given(&referral_in(ReferralState::InCare)),
        Command::MarkFailed {
            referral_id: rid(REFERRAL),
            reason: Some(FailureReason::MovedAway),
        },
        &by(REFERRER, NOW),
    );
    expect![[r#"
        ReferralFailed {
            referral_id: ReferralId(
                "ref-1",
            ),
            at: 2026-03-10 12:00:00.0 +00:00:00,
            reason: Some(
                MovedAway,
            ),
        }"#]]
    .assert_eq(&render(outcome));
}
