//! `Cancel`: the referrer withdraws a referral not yet accepted.

use super::support::*;

#[test]
fn snapshot_of_a_cancellation() {
    let outcome = when(
        &given(&referral_in(ReferralState::Received)),
        Command::Cancel {
            referral_id: rid(REFERRAL),
        },
        &by(REFERRER, NOW),
    );
    expect![[r#"
        ReferralCancelled {
            referral_id: ReferralId(
                "ref-1",
            ),
            at: 2026-03-10 12:00:00.0 +00:00:00,
        }"#]]
    .assert_eq(&render(outcome));
}
