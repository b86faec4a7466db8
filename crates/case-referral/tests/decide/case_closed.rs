//! `ReactToCaseClosure` and the closed case: screening closed the case, so
//! the referrals not yet in care are cancelled (`case_closed`), the receivers
//! of those in care are told once, and no deadline is marked any more.

use super::support::*;

fn closed(now: OffsetDateTime) -> Context {
    let mut context = system(now);
    context.case.closed = Some(code("deceased"));
    context
}

fn react(referral_id: &str) -> Command {
    Command::ReactToCaseClosure {
        referral_id: rid(referral_id),
    }
}

#[test]
fn a_closed_case_cancels_its_referrals_not_yet_in_care_and_tells_those_in_care() {
    use ReferralState as S;
    for from in ReferralState::ALL {
        let state = given(&referral_in(*from));
        let outcome = when(&state, react(REFERRAL), &closed(NOW));
        match from {
            S::Draft | S::Sent | S::Received | S::Accepted => assert_eq!(
                outcome,
                Ok(vec![Event::ReferralCancelled {
                    referral_id: rid(REFERRAL),
                    at: NOW,
                    reason: CancelReason::CaseClosed,
                }]),
                "{from}"
            ),
            S::InCare | S::OnHold => {
                assert_eq!(
                    outcome,
                    Ok(vec![Event::CaseClosureNotified {
                        referral_id: rid(REFERRAL),
                        reason: code("deceased"),
                        at: NOW,
                    }]),
                    "{from}"
                );
                // The care goes on; the receiver is told once.
                let state = apply(state, &outcome.expect("notified"));
                assert_eq!(state_of(&state, REFERRAL), *from);
                assert_eq!(
                    when(&state, react(REFERRAL), &closed(LATER)),
                    Err(ReferralError::NothingToReactTo)
                );
            }
            _ => assert_eq!(outcome, Err(ReferralError::NothingToReactTo), "{from}"),
        }
    }
}

#[test]
fn only_the_service_reacts_and_only_to_a_closed_case() {
    let state = given(&referral_in(ReferralState::Sent));
    let mut by_referrer = by(REFERRER, NOW);
    by_referrer.case.closed = Some(code("deceased"));
    assert_eq!(
        when(&state, react(REFERRAL), &by_referrer),
        Err(ReferralError::NotAllowedForActor)
    );
    assert_eq!(
        when(&state, react(REFERRAL), &system(NOW)),
        Err(ReferralError::NothingToReactTo)
    );
}

#[test]
fn a_closed_cases_deadlines_stop() {
    // Every deadline of the fixture has passed, but the case is closed.
    let long_after = TAKE_CHARGE_BY + Duration::days(1);
    for (from, kind) in [
        (ReferralState::Sent, DeadlineKind::Acknowledgement),
        (ReferralState::Received, DeadlineKind::Answer),
        (ReferralState::Accepted, DeadlineKind::TakingCharge),
    ] {
        let state = given(&referral_in(from));
        assert!(
            when(&state, mark(REFERRAL, kind), &system(long_after)).is_ok(),
            "open: {from} {kind} is missed"
        );
        assert_eq!(
            when(&state, mark(REFERRAL, kind), &closed(long_after)),
            Err(ReferralError::CaseClosed),
            "closed: {from} {kind}"
        );
    }
    // A late decline on a closed case records no missed deadline.
    let state = given(&referral_in(ReferralState::Sent));
    let mut receiver = by(RECEIVER, long_after);
    receiver.case.closed = Some(code("deceased"));
    let events = when(&state, Kind::Decline.command(REFERRAL), &receiver).expect("declined");
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::DeadlineMissed { .. })),
        "{events:?}"
    );
}

#[test]
fn a_closed_cases_referrals_are_no_longer_received_accepted_or_taken_into_care() {
    for (from, kind) in [
        (ReferralState::Sent, Kind::Receive),
        (ReferralState::Received, Kind::Accept),
        (ReferralState::Accepted, Kind::TakeCharge),
    ] {
        let state = given(&referral_in(from));
        let mut receiver = by(RECEIVER, NOW);
        receiver.case.closed = Some(code("left_reception"));
        assert_eq!(
            when(&state, kind.command(REFERRAL), &receiver),
            Err(ReferralError::CaseClosed),
            "{kind:?} from {from}"
        );
    }
}

#[test]
fn snapshot_of_the_reactions_to_a_closure() {
    let mut events = vec![consent_to_receiver(CONSENT)];
    events.extend(path_to("r-sent", CONSENT, ReferralState::Sent));
    events.extend(path_to("r-in-care", CONSENT, ReferralState::InCare));
    let state = given(&events);
    let outcome = ["r-in-care", "r-sent"]
        .into_iter()
        .map(|id| when(&state, react(id), &closed(NOW)))
        .collect::<Result<Vec<_>, _>>()
        .map(|events| events.concat());
    expect![[r#"
        CaseClosureNotified {
            referral_id: ReferralId(
                "r-in-care",
            ),
            reason: Code(
                "deceased",
            ),
            at: 2026-03-10 12:00:00.0 +00:00:00,
        }
        ReferralCancelled {
            referral_id: ReferralId(
                "r-sent",
            ),
            at: 2026-03-10 12:00:00.0 +00:00:00,
            reason: CaseClosed,
        }"#]]
    .assert_eq(&render(outcome));
}
