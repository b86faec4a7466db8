//! `Receive`: the receiver acknowledges a referral.

use super::support::*;

#[test]
fn a_late_acknowledgement_records_the_missed_deadline_in_its_commit() {
    let state = given(&referral_in(ReferralState::Sent));
    let late = NOW + Duration::hours(30);
    let events = when(
        &state,
        Command::Receive {
            referral_id: rid(REFERRAL),
        },
        &by(RECEIVER, late),
    )
    .expect("received");
    assert!(
        matches!(
            events.as_slice(),
            [
                Event::DeadlineMissed {
                    kind: DeadlineKind::Acknowledgement,
                    ..
                },
                Event::ReferralReceived { .. }
            ]
        ),
        "{events:?}"
    );
    let on_time = when(
        &state,
        Command::Receive {
            referral_id: rid(REFERRAL),
        },
        &by(RECEIVER, NOW + Duration::hours(1)),
    )
    .expect("received");
    assert!(matches!(
        on_time.as_slice(),
        [Event::ReferralReceived { .. }]
    ));
}

#[test]
fn snapshot_of_a_receipt() {
    let outcome = when(
        &given(&referral_in(ReferralState::Sent)),
        Command::Receive {
            referral_id: rid(REFERRAL),
        },
        &by(RECEIVER, NOW),
    );
    expect![[r#"
        ReferralReceived {
            referral_id: ReferralId(
                "ref-1",
            ),
            at: 2026-03-10 12:00:00.0 +00:00:00,
        }"#]]
    .assert_eq(&render(outcome));
}
