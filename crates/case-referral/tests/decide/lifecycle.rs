//! The referral lifecycle, table-driven over every lifecycle command and every state.

use super::support::*;

#[test]
fn every_fixture_reaches_its_state() {
    for target in ReferralState::ALL {
        let state = given(&referral_in(*target));
        assert_eq!(state_of(&state, REFERRAL), *target, "fixture for {target}");
    }
    assert_eq!(ReferralState::ALL.len(), 13);
    let terminal: Vec<_> = ReferralState::ALL
        .iter()
        .filter(|s| s.is_terminal())
        .map(|s| s.code())
        .collect();
    assert_eq!(
        terminal,
        [
            "declined",
            "completed",
            "cancelled",
            "revoked",
            "expired",
            "failed",
            "redirected"
        ]
    );
}

#[test]
fn the_transition_table_has_sixteen_transitions() {
    let count: usize = Kind::ALL.iter().map(|kind| kind.allowed().len()).sum();
    assert_eq!(count, 16);
    // No transition leaves a terminal state.
    for kind in Kind::ALL {
        for (from, _) in kind.allowed() {
            assert!(!from.is_terminal(), "{kind:?} from {from}");
        }
    }
}

#[test]
fn every_allowed_transition_emits_exactly_its_events_and_reaches_its_state() {
    for kind in Kind::ALL {
        for (from, to) in kind.allowed() {
            let state = given(&referral_in(*from));
            let result = when(&state, kind.command(REFERRAL), &by(kind.party(), NOW));
            let expected = kind.expected_events(*from, NOW);
            assert_eq!(result, Ok(expected.clone()), "{kind:?} from {from}");
            let after = apply(state, &expected);
            assert_eq!(state_of(&after, REFERRAL), *to, "{kind:?} from {from}");
        }
    }
}

#[test]
fn every_transition_not_in_the_table_is_refused_with_the_current_state_code() {
    let mut refused = 0;
    for kind in Kind::ALL {
        for from in ReferralState::ALL {
            if kind.allowed().iter().any(|(allowed, _)| allowed == from) {
                continue;
            }
            let state = given(&referral_in(*from));
            assert_eq!(
                when(&state, kind.command(REFERRAL), &by(kind.party(), NOW)),
                Err(ReferralError::TransitionNotAllowed(from.code())),
                "{kind:?} from {from}"
            );
            refused += 1;
        }
    }
    assert_eq!(refused, 10 * 13 - 16);
}

#[test]
fn every_terminal_state_refuses_every_lifecycle_command_by_either_party() {
    for from in ReferralState::ALL.iter().filter(|s| s.is_terminal()) {
        let state = given(&referral_in(*from));
        for kind in Kind::ALL {
            for party in [REFERRER, RECEIVER] {
                let result = when(&state, kind.command(REFERRAL), &by(party, NOW));
                assert!(
                    result.is_err(),
                    "{kind:?} by {party} from {from}: {result:?}"
                );
            }
        }
    }
}

#[test]
fn every_lifecycle_command_on_an_unknown_referral_is_referral_not_found() {
    let state = given(&referral_in(ReferralState::Sent));
    for kind in Kind::ALL {
        assert_eq!(
            when(&state, kind.command("ref-unknown"), &by(kind.party(), NOW)),
            Err(ReferralError::ReferralNotFound),
            "{kind:?}"
        );
    }
    assert_eq!(
        when(
            &state,
            mark("ref-unknown", DeadlineKind::Answer),
            &system(ANSWER_BY)
        ),
        Err(ReferralError::ReferralNotFound)
    );
}

#[test]
fn accept_and_cancel_are_both_allowed_from_received_but_whichever_comes_second_is_refused() {
    let received = given(&referral_in(ReferralState::Received));
    let accept = when(
        &received,
        Kind::Accept.command(REFERRAL),
        &by(RECEIVER, NOW),
    )
    .expect("accept alone is allowed");
    let cancel = when(
        &received,
        Kind::Cancel.command(REFERRAL),
        &by(REFERRER, NOW),
    )
    .expect("cancel alone is allowed");

    // Accept first: the cancel loses.
    let accepted = apply(received.clone(), &accept);
    assert_eq!(
        when(
            &accepted,
            Kind::Cancel.command(REFERRAL),
            &by(REFERRER, NOW)
        ),
        Err(ReferralError::TransitionNotAllowed("accepted"))
    );
    // Cancel first: the accept loses.
    let cancelled = apply(received, &cancel);
    assert_eq!(
        when(
            &cancelled,
            Kind::Accept.command(REFERRAL),
            &by(RECEIVER, NOW)
        ),
        Err(ReferralError::TransitionNotAllowed("cancelled"))
    );

    // Taken into care, it is no more cancellable.
    let taken = when(
        &accepted,
        Kind::TakeCharge.command(REFERRAL),
        &by(RECEIVER, NOW),
    )
    .expect("taken into care");
    let in_care = apply(accepted, &taken);
    assert_eq!(
        when(&in_care, Kind::Cancel.command(REFERRAL), &by(REFERRER, NOW)),
        Err(ReferralError::TransitionNotAllowed("in_care"))
    );
}
