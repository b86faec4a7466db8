//! `Decline`: the receiver declines, possibly redirecting to another organisation.

use super::support::*;

#[test]
fn decline_with_a_redirect_ends_redirected_and_without_declined() {
    for from in [ReferralState::Sent, ReferralState::Received] {
        let state = given(&referral_in(from));
        let redirect = Command::Decline {
            referral_id: rid(REFERRAL),
            reason: DeclineReason::OutOfScope,
            redirect_to: Some(org(OTHER_CAV)),
        };
        let events = when(&state, redirect, &by(RECEIVER, NOW));
        let mut expected = Vec::new();
        if from == ReferralState::Sent {
            // Answering straight from sent records the receipt too.
            expected.push(Event::ReferralReceived {
                referral_id: rid(REFERRAL),
                at: NOW,
            });
        }
        expected.push(Event::ReferralDeclined {
            referral_id: rid(REFERRAL),
            at: NOW,
            reason: DeclineReason::OutOfScope,
            redirect_to: Some(org(OTHER_CAV)),
        });
        assert_eq!(events, Ok(expected), "from {from}");
        let redirected = apply(state.clone(), &events.expect("accepted"));
        assert_eq!(state_of(&redirected, REFERRAL), ReferralState::Redirected);

        let decline = Command::Decline {
            referral_id: rid(REFERRAL),
            reason: DeclineReason::PersonRefused,
            redirect_to: None,
        };
        let events = when(&state, decline, &by(RECEIVER, NOW)).expect("accepted");
        assert_eq!(
            state_of(&apply(state, &events), REFERRAL),
            ReferralState::Declined
        );
    }
}

#[test]
fn decline_redirecting_to_the_same_receiver_is_invalid() {
    let state = given(&referral_in(ReferralState::Received));
    let command = Command::Decline {
        referral_id: rid(REFERRAL),
        reason: DeclineReason::NoCapacity,
        redirect_to: Some(org(RECEIVER)),
    };
    assert_invalid(
        when(&state, command, &by(RECEIVER, NOW)),
        "redirect_to_organisation_id",
    );
}

#[test]
fn snapshot_of_a_decline_redirecting() {
    let outcome = when(
        &given(&referral_in(ReferralState::Received)),
        Command::Decline {
            referral_id: rid(REFERRAL),
            reason: DeclineReason::OutOfScope,
            redirect_to: Some(org(OTHER_CAV)),
        },
        &by(RECEIVER, NOW),
    );
    expect![[r#"
        ReferralDeclined {
            referral_id: ReferralId(
                "ref-1",
            ),
            at: 2026-03-10 12:00:00.0 +00:00:00,
            reason: OutOfScope,
            redirect_to: Some(
                OrganisationId(
                    "cav-palermo",
                ),
            ),
        }"#]]
    .assert_eq(&render(outcome));
}
