//! `Complete`: care ends with an outcome.

use super::support::*;

#[test]
fn snapshot_of_a_completion() {
    let outcome = when(
        &given(&referral_in(ReferralState::InCare)),
        Command::Complete {
            referral_id: rid(REFERRAL),
            outcome: CareOutcome::GoalsMet,
        },
        &by(RECEIVER, NOW),
    );
    expect![[r#"
        ReferralCompleted {
            referral_id: ReferralId(
                "ref-1",
            ),
            at: 2026-03-10 12:00:00.0 +00:00:00,
            outcome: GoalsMet,
        }"#]]
    .assert_eq(&render(outcome));
}
