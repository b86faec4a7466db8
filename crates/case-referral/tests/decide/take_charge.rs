//! `TakeCharge`: the receiver takes the person into care (presa in carico).

use super::support::*;

#[test]
fn snapshot_of_taking_charge() {
    let outcome = when(
        &given(&referral_in(ReferralState::Accepted)),
        Command::TakeCharge {
            referral_id: rid(REFERRAL),
        },
        &by(RECEIVER, NOW),
    );
    expect![[r#"
        TakenIntoCare {
            referral_id: ReferralId(
                "ref-1",
            ),
            at: 2026-03-10 12:00:00.0 +00:00:00,
        }"#]]
    .assert_eq(&render(outcome));
}

#[test]
fn snapshot_of_taking_charge_late() {
    let outcome = when(
        &given(&referral_in(ReferralState::Accepted)),
        Command::TakeCharge {
            referral_id: rid(REFERRAL),
        },
        &by(RECEIVER, TAKE_CHARGE_BY + Duration::hours(1)),
    );
    expect![[r#"
        DeadlineMissed {
            referral_id: ReferralId(
                "ref-1",
            ),
            kind: TakingCharge,
            due_at: 2026-03-17 11:30:00.0 +00:00:00,
            detected_at: 2026-03-17 12:30:00.0 +00:00:00,
        }
        TakenIntoCare {
            referral_id: ReferralId(
                "ref-1",
            ),
            at: 2026-03-17 12:30:00.0 +00:00:00,
        }"#]]
    .assert_eq(&render(outcome));
}
