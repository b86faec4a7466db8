//! `Resume`: care resumes after a hold.

use super::support::*;

#[test]
fn snapshot_of_resuming() {
    let outcome = when(
        &given(&referral_in(ReferralState::OnHold)),
        Command::Resume {
            referral_id: rid(REFERRAL),
        },
        &by(RECEIVER, NOW),
    );
    expect![[r#"
        Resumed {
            referral_id: ReferralId(
                "ref-1",
            ),
            at: 2026-03-10 12:00:00.0 +00:00:00,
        }"#]]
    .assert_eq(&render(outcome));
}
