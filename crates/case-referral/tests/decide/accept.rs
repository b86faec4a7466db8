//! `Accept`: the receiver accepts, and the taking-charge deadline starts.

use super::support::*;

#[test]
fn accept_from_sent_records_the_receipt_then_the_acceptance_with_the_take_charge_deadline() {
    let state = given(&referral_in(ReferralState::Sent));
    let now = datetime!(2026-03-10 20:15 UTC);
    let events = when(&state, Kind::Accept.command(REFERRAL), &by(RECEIVER, now));
    assert_eq!(
        events,
        Ok(vec![
            Event::ReferralReceived {
                referral_id: rid(REFERRAL),
                at: now
            },
            Event::ReferralAccepted {
                referral_id: rid(REFERRAL),
                at: now,
                take_charge_by: datetime!(2026-03-17 20:15 UTC),
            },
        ])
    );
    let state = apply(state, &events.expect("accepted"));
    let referral = &state.referrals[&rid(REFERRAL)];
    assert_eq!(referral.state, ReferralState::Accepted);
    assert_eq!(
        referral.take_charge_by,
        Some(datetime!(2026-03-17 20:15 UTC))
    );
}

#[test]
fn accept_uses_the_take_charge_delay_of_the_policy() {
    let state = given(&referral_in(ReferralState::Received));
    let mut context = by(RECEIVER, NOW);
    context.deadlines.take_charge = Duration::days(2);
    assert_eq!(
        when(&state, Kind::Accept.command(REFERRAL), &context),
        Ok(vec![Event::ReferralAccepted {
            referral_id: rid(REFERRAL),
            at: NOW,
            take_charge_by: NOW + Duration::days(2),
        }])
    );
}

#[test]
fn a_late_answer_records_the_missed_deadlines_but_is_accepted() {
    let state = given(&referral_in(ReferralState::Sent));
    let late = NOW + Duration::hours(60);
    let events = when(
        &state,
        Command::Accept {
            referral_id: rid(REFERRAL),
        },
        &by(RECEIVER, late),
    )
    .expect("accepted");
    let kinds: Vec<DeadlineKind> = events
        .iter()
        .filter_map(|e| match e {
            Event::DeadlineMissed { kind, .. } => Some(*kind),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, [DeadlineKind::Acknowledgement, DeadlineKind::Answer]);
    assert!(matches!(
        events.last(),
        Some(Event::ReferralAccepted { .. })
    ));
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::ReferralExpired { .. }))
    );
}

#[test]
fn snapshot_of_an_acceptance_straight_from_sent() {
    let outcome = when(
        &given(&referral_in(ReferralState::Sent)),
        Command::Accept {
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
        }
        ReferralAccepted {
            referral_id: ReferralId(
                "ref-1",
            ),
            at: 2026-03-10 12:00:00.0 +00:00:00,
            take_charge_by: 2026-03-17 12:00:00.0 +00:00:00,
        }"#]]
    .assert_eq(&render(outcome));
}
