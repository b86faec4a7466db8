//! `MarkDeadlineMissed`: the watcher marks a deadline that passed unmet; a missed answer expires the referral.

use super::support::*;

#[test]
fn acknowledgement_is_missed_at_its_deadline_while_sent_and_only_once() {
    let state = given(&referral_in(ReferralState::Sent));
    assert_eq!(
        when(
            &state,
            mark(REFERRAL, DeadlineKind::Acknowledgement),
            &system(ACK_BY - Duration::seconds(1))
        ),
        Err(ReferralError::DeadlineNotMissed)
    );
    let events = when(
        &state,
        mark(REFERRAL, DeadlineKind::Acknowledgement),
        &system(ACK_BY),
    );
    assert_eq!(
        events,
        Ok(vec![Event::DeadlineMissed {
            referral_id: rid(REFERRAL),
            kind: DeadlineKind::Acknowledgement,
            due_at: ACK_BY,
            detected_at: ACK_BY,
        }])
    );
    let state = apply(state, &events.expect("accepted"));
    let referral = &state.referrals[&rid(REFERRAL)];
    assert_eq!(referral.state, ReferralState::Sent, "a miss is not a state");
    assert!(referral.missed.contains(&DeadlineKind::Acknowledgement));
    assert_eq!(
        when(
            &state,
            mark(REFERRAL, DeadlineKind::Acknowledgement),
            &system(ACK_BY + Duration::hours(1))
        ),
        Err(ReferralError::DeadlineNotMissed)
    );
    // The receiver may still acknowledge late.
    assert!(
        when(
            &state,
            Kind::Receive.command(REFERRAL),
            &by(RECEIVER, ACK_BY + Duration::hours(2))
        )
        .is_ok()
    );
}

#[test]
fn acknowledgement_is_not_missed_once_received_or_answered() {
    for from in ReferralState::ALL {
        if *from == ReferralState::Sent {
            continue;
        }
        let state = given(&referral_in(*from));
        assert_eq!(
            when(
                &state,
                mark(REFERRAL, DeadlineKind::Acknowledgement),
                &system(ACK_BY + Duration::days(30))
            ),
            Err(ReferralError::DeadlineNotMissed),
            "from {from}"
        );
    }
}

#[test]
fn answer_is_missed_while_sent_or_received_and_expires_the_referral() {
    for from in [ReferralState::Sent, ReferralState::Received] {
        let state = given(&referral_in(from));
        assert_eq!(
            when(
                &state,
                mark(REFERRAL, DeadlineKind::Answer),
                &system(ANSWER_BY - Duration::seconds(1))
            ),
            Err(ReferralError::DeadlineNotMissed),
            "before, from {from}"
        );
        let detected = ANSWER_BY + Duration::minutes(5);
        let events = when(
            &state,
            mark(REFERRAL, DeadlineKind::Answer),
            &system(detected),
        );
        assert_eq!(
            events,
            Ok(vec![
                Event::DeadlineMissed {
                    referral_id: rid(REFERRAL),
                    kind: DeadlineKind::Answer,
                    due_at: ANSWER_BY,
                    detected_at: detected,
                },
                Event::ReferralExpired {
                    referral_id: rid(REFERRAL),
                    at: detected,
                },
            ]),
            "from {from}"
        );
        let state = apply(state, &events.expect("accepted"));
        assert_eq!(state_of(&state, REFERRAL), ReferralState::Expired);
        assert_eq!(
            when(
                &state,
                mark(REFERRAL, DeadlineKind::Answer),
                &system(detected + Duration::hours(1))
            ),
            Err(ReferralError::DeadlineNotMissed),
            "again, from {from}"
        );
        // An expired referral can no longer be answered.
        assert_eq!(
            when(
                &state,
                Kind::Accept.command(REFERRAL),
                &by(RECEIVER, detected)
            ),
            Err(ReferralError::TransitionNotAllowed("expired"))
        );
    }
}

#[test]
fn answer_is_missed_exactly_at_its_deadline() {
    let state = given(&referral_in(ReferralState::Received));
    let events = when(
        &state,
        mark(REFERRAL, DeadlineKind::Answer),
        &system(ANSWER_BY),
    )
    .expect("due at answer_by");
    assert_eq!(events.len(), 2);
}

#[test]
fn answer_is_not_missed_once_answered() {
    for from in ReferralState::ALL {
        if matches!(from, ReferralState::Sent | ReferralState::Received) {
            continue;
        }
        let state = given(&referral_in(*from));
        assert_eq!(
            when(
                &state,
                mark(REFERRAL, DeadlineKind::Answer),
                &system(ANSWER_BY + Duration::days(30))
            ),
            Err(ReferralError::DeadlineNotMissed),
            "from {from}"
        );
    }
}

#[test]
fn taking_charge_is_missed_while_accepted_after_its_deadline_and_only_once() {
    let state = given(&referral_in(ReferralState::Accepted));
    assert_eq!(
        when(
            &state,
            mark(REFERRAL, DeadlineKind::TakingCharge),
            &system(TAKE_CHARGE_BY - Duration::seconds(1))
        ),
        Err(ReferralError::DeadlineNotMissed)
    );
    let events = when(
        &state,
        mark(REFERRAL, DeadlineKind::TakingCharge),
        &system(TAKE_CHARGE_BY),
    );
    assert_eq!(
        events,
        Ok(vec![Event::DeadlineMissed {
            referral_id: rid(REFERRAL),
            kind: DeadlineKind::TakingCharge,
            due_at: TAKE_CHARGE_BY,
            detected_at: TAKE_CHARGE_BY,
        }])
    );
    let state = apply(state, &events.expect("accepted"));
    assert_eq!(state_of(&state, REFERRAL), ReferralState::Accepted);
    assert_eq!(
        when(
            &state,
            mark(REFERRAL, DeadlineKind::TakingCharge),
            &system(TAKE_CHARGE_BY + Duration::days(1))
        ),
        Err(ReferralError::DeadlineNotMissed)
    );
    // Taking charge late is still possible; the miss stays recorded.
    let events = when(
        &state,
        Kind::TakeCharge.command(REFERRAL),
        &by(RECEIVER, TAKE_CHARGE_BY + Duration::days(2)),
    )
    .expect("late taking charge");
    let state = apply(state, &events);
    let referral = &state.referrals[&rid(REFERRAL)];
    assert_eq!(referral.state, ReferralState::InCare);
    assert!(referral.missed.contains(&DeadlineKind::TakingCharge));
}

#[test]
fn taking_charge_is_not_missed_outside_accepted() {
    for from in ReferralState::ALL {
        if *from == ReferralState::Accepted {
            continue;
        }
        let state = given(&referral_in(*from));
        assert_eq!(
            when(
                &state,
                mark(REFERRAL, DeadlineKind::TakingCharge),
                &system(TAKE_CHARGE_BY + Duration::days(30))
            ),
            Err(ReferralError::DeadlineNotMissed),
            "from {from}"
        );
    }
}

#[test]
fn acknowledgement_and_answer_may_both_be_missed_on_a_sent_referral_in_that_order() {
    let state = given(&referral_in(ReferralState::Sent));
    let ack = when(
        &state,
        mark(REFERRAL, DeadlineKind::Acknowledgement),
        &system(ANSWER_BY),
    )
    .expect("acknowledgement missed");
    let state = apply(state, &ack);
    let answer = when(
        &state,
        mark(REFERRAL, DeadlineKind::Answer),
        &system(ANSWER_BY),
    )
    .expect("answer missed");
    let state = apply(state, &answer);
    let referral = &state.referrals[&rid(REFERRAL)];
    assert_eq!(referral.state, ReferralState::Expired);
    assert_eq!(
        referral.missed,
        [DeadlineKind::Acknowledgement, DeadlineKind::Answer]
            .into_iter()
            .collect()
    );
}

#[test]
fn the_service_itself_may_only_mark_deadlines() {
    for from in [
        ReferralState::Sent,
        ReferralState::Received,
        ReferralState::Accepted,
    ] {
        let state = given(&referral_in(from));
        for command in [
            Command::Receive {
                referral_id: rid(REFERRAL),
            },
            Command::Accept {
                referral_id: rid(REFERRAL),
            },
            Command::Cancel {
                referral_id: rid(REFERRAL),
                reason: CancelReason::ReferrerDecision,
            },
            Command::TakeCharge {
                referral_id: rid(REFERRAL),
            },
            Command::MarkFailed {
                referral_id: rid(REFERRAL),
                reason: None,
            },
        ] {
            let refused = decide(
                &state,
                command.clone(),
                &Context {
                    actor: Actor::System,
                    ..by(RECEIVER, NOW)
                },
            );
            assert!(
                matches!(
                    refused,
                    Err(ReferralError::NotTheReceiver | ReferralError::NotTheReferrer)
                ),
                "{command:?} from {from}: {refused:?}"
            );
        }
    }
    let state = given(&referral_in(ReferralState::Sent));
    let by_an_organisation = when(
        &state,
        Command::MarkDeadlineMissed {
            referral_id: rid(REFERRAL),
            kind: DeadlineKind::Answer,
        },
        &by(RECEIVER, NOW + Duration::days(30)),
    );
    assert_eq!(by_an_organisation, Err(ReferralError::NotAllowedForActor));
}

#[test]
fn snapshot_of_a_missed_answer_expiring_the_referral() {
    let outcome = when(
        &given(&referral_in(ReferralState::Received)),
        mark(REFERRAL, DeadlineKind::Answer),
        &system(ANSWER_BY),
    );
    expect![[r#"
        DeadlineMissed {
            referral_id: ReferralId(
                "ref-1",
            ),
            kind: Answer,
            due_at: 2026-03-12 10:00:00.0 +00:00:00,
            detected_at: 2026-03-12 10:00:00.0 +00:00:00,
        }
        ReferralExpired {
            referral_id: ReferralId(
                "ref-1",
            ),
            at: 2026-03-12 10:00:00.0 +00:00:00,
        }"#]]
    .assert_eq(&render(outcome));
}
