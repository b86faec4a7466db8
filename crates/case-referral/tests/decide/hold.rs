//! `Hold`: care is put on hold.

use super::support::*;

#[test]
fn snapshot_of_putting_on_hold() {
    let outcome = when(
        &given(&referral_in(ReferralState::InCare)),
        Command::Hold {
            referral_id: rid(REFERRAL),
        },
        &by(RECEIVER, NOW),
    );
    expect![[r#"
        PutOnHold {
            referral_id: ReferralId(
                "ref-1",
            ),
            at: 2026-03-10 12:00:00.0 +00:00:00,
        }"#]]
    .assert_eq(&render(outcome));
}
