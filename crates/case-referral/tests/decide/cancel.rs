//! `Cancel`: the referrer withdraws a referral not yet accepted, with a reason.

use super::support::*;

#[test]
fn a_referrer_gives_its_reason_but_never_a_closed_case() {
    let state = given(&referral_in(ReferralState::Sent));
    for reason in [
        CancelReason::ReferrerDecision,
        CancelReason::Duplicate,
        CancelReason::Other,
    ] {
        assert_eq!(
            when(
                &state,
                Command::Cancel {
                    referral_id: rid(REFERRAL),
                    reason,
                },
                &by(REFERRER, NOW),
            ),
            Ok(vec![Event::ReferralCancelled {
                referral_id: rid(REFERRAL),
                at: NOW,
                reason,
            }])
        );
    }
    // A closed case's referrals are cancelled by the service, on the case's facts.
    assert_invalid(
        when(
            &state,
            Command::Cancel {
                referral_id: rid(REFERRAL),
                reason: CancelReason::CaseClosed,
            },
            &by(REFERRER, NOW),
        ),
        "cancel.reason",
    );
}

#[test]
fn snapshot_of_a_cancellation() {
    let outcome = when(
        &given(&referral_in(ReferralState::Received)),
        Command::Cancel {
            referral_id: rid(REFERRAL),
            reason: CancelReason::Duplicate,
        },
        &by(REFERRER, NOW),
    );
    expect![[r#"
        ReferralCancelled {
            referral_id: ReferralId(
                "ref-1",
            ),
            at: 2026-03-10 12:00:00.0 +00:00:00,
            reason: Duplicate,
        }"#]]
    .assert_eq(&render(outcome));
}
