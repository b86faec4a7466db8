//! `WithdrawConsent`: a withdrawal revokes, in the same commit, every referral
//! relying on the consent that is not yet in care; for those in care or on
//! hold it ends the data sharing (`ConsentWithdrawnDuringCare`) and the care
//! goes on.

use super::support::*;

const CONSENT_A: &str = "consent-a";
const CONSENT_B: &str = "consent-b";

/// A referral id per state, for a consent prefix: `a-in-care`, `b-draft`...
fn id_for(prefix: &str, state: ReferralState) -> String {
    format!("{prefix}-{}", state.code().replace('_', "-"))
}

/// Consents A and B to the receiver; on A one referral in every state but revoked,
/// on B one in every non-terminal state. Drafted in reverse order of id.
fn two_consents_many_referrals() -> Vec<Event> {
    let mut events = vec![
        consent_to_receiver(CONSENT_A),
        consent_to_receiver(CONSENT_B),
    ];
    let mut referrals: Vec<(String, &str, ReferralState)> = Vec::new();
    for state in ReferralState::ALL {
        if *state != ReferralState::Revoked {
            referrals.push((id_for("a", *state), CONSENT_A, *state));
        }
        if !state.is_terminal() {
            referrals.push((id_for("b", *state), CONSENT_B, *state));
        }
    }
    referrals.sort_by(|x, y| y.0.cmp(&x.0));
    for (id, consent, state) in referrals {
        events.extend(path_to(&id, consent, state));
    }
    events
}

#[test]
fn withdrawal_revokes_the_referrals_not_yet_in_care_and_ends_the_sharing_of_those_in_care() {
    let state = given(&two_consents_many_referrals());
    assert_eq!(state.referrals.len(), 12 + 6);
    let events = when(
        &state,
        Command::WithdrawConsent {
            consent_id: cid(CONSENT_A),
        },
        &by(REFERRER, NOW),
    )
    .expect("accepted");

    let revoked = ["a-accepted", "a-draft", "a-received", "a-sent"];
    let in_care = ["a-in-care", "a-on-hold"];
    let mut expected = vec![Event::ConsentWithdrawn {
        consent_id: cid(CONSENT_A),
        withdrawn_at: NOW,
    }];
    // In referral id order: accepted, draft, in care, on hold, received, sent.
    for id in [
        "a-accepted",
        "a-draft",
        "a-in-care",
        "a-on-hold",
        "a-received",
        "a-sent",
    ] {
        expected.push(if in_care.contains(&id) {
            Event::ConsentWithdrawnDuringCare {
                referral_id: rid(id),
                consent_id: cid(CONSENT_A),
                at: NOW,
            }
        } else {
            Event::ReferralRevoked {
                referral_id: rid(id),
                at: NOW,
                consent_id: cid(CONSENT_A),
            }
        });
    }
    assert_eq!(events, expected);

    let after = apply(state.clone(), &events);
    for (id, referral) in &after.referrals {
        let before = state.referrals[id].state;
        if revoked.contains(&id.as_str()) {
            assert_eq!(referral.state, ReferralState::Revoked, "{id}");
        } else if in_care.contains(&id.as_str()) {
            assert_eq!(referral.state, before, "{id} stays in care");
            assert!(referral.consent_withdrawn, "{id}");
        } else {
            assert_eq!(referral.state, before, "{id} must be untouched");
        }
    }
    assert_eq!(after.consents[&cid(CONSENT_A)].withdrawn_at, Some(NOW));
    assert_eq!(after.consents[&cid(CONSENT_B)].withdrawn_at, None);
}

#[test]
fn withdrawal_with_no_open_referral_records_only_the_withdrawal() {
    let state = given(&referral_in(ReferralState::Completed));
    assert_eq!(
        when(
            &state,
            Command::WithdrawConsent {
                consent_id: cid(CONSENT)
            },
            &by(REFERRER, NOW)
        ),
        Ok(vec![Event::ConsentWithdrawn {
            consent_id: cid(CONSENT),
            withdrawn_at: NOW
        }])
    );
}

#[test]
fn withdrawing_twice_is_already_withdrawn() {
    let state = given(&referral_in(ReferralState::Sent));
    let withdraw = Command::WithdrawConsent {
        consent_id: cid(CONSENT),
    };
    let events = when(&state, withdraw.clone(), &by(REFERRER, NOW)).expect("first withdrawal");
    let state = apply(state, &events);
    assert_eq!(
        when(&state, withdraw, &by(REFERRER, NOW + Duration::hours(1))),
        Err(ReferralError::AlreadyWithdrawn)
    );
}

#[test]
fn withdrawing_an_unknown_consent_is_consent_not_found() {
    let state = given(&referral_in(ReferralState::Sent));
    assert_eq!(
        when(
            &state,
            Command::WithdrawConsent {
                consent_id: cid("consent-unknown")
            },
            &by(REFERRER, NOW)
        ),
        Err(ReferralError::ConsentNotFound)
    );
}

#[test]
fn after_withdrawal_no_new_referral_on_that_consent_may_be_sent() {
    let state = given(&referral_in(ReferralState::Revoked));
    assert_eq!(
        when(&state, create("ref-2", CONSENT, true), &by(REFERRER, NOW)),
        Err(ReferralError::NoValidConsent)
    );
}

#[test]
fn a_referral_in_care_stays_in_care_and_its_receiver_goes_on() {
    for from in [ReferralState::InCare, ReferralState::OnHold] {
        let state = given(&referral_in(from));
        let events = when(
            &state,
            Command::WithdrawConsent {
                consent_id: cid(CONSENT),
            },
            &by(REFERRER, NOW),
        )
        .expect("withdrawn");
        let state = apply(state, &events);
        assert_eq!(state_of(&state, REFERRAL), from);
        let next = if from == ReferralState::InCare {
            Kind::Complete
        } else {
            Kind::Resume
        };
        assert!(
            when(&state, next.command(REFERRAL), &by(RECEIVER, LATER)).is_ok(),
            "{next:?} from {from}"
        );
    }
}

#[test]
fn snapshot_of_a_withdrawal_during_care() {
    let outcome = when(
        &given(&referral_in(ReferralState::OnHold)),
        Command::WithdrawConsent {
            consent_id: cid(CONSENT),
        },
        &by(REFERRER, NOW),
    );
    expect![[r#"
        ConsentWithdrawn {
            consent_id: ConsentId(
                "consent-1",
            ),
            withdrawn_at: 2026-03-10 12:00:00.0 +00:00:00,
        }
        ConsentWithdrawnDuringCare {
            referral_id: ReferralId(
                "ref-1",
            ),
            consent_id: ConsentId(
                "consent-1",
            ),
            at: 2026-03-10 12:00:00.0 +00:00:00,
        }"#]]
    .assert_eq(&render(outcome));
}

#[test]
fn snapshot_of_a_withdrawal_revoking_the_open_referral() {
    let outcome = when(
        &given(&referral_in(ReferralState::Received)),
        Command::WithdrawConsent {
            consent_id: cid(CONSENT),
        },
        &by(REFERRER, NOW),
    );
    expect![[r#"
        ConsentWithdrawn {
            consent_id: ConsentId(
                "consent-1",
            ),
            withdrawn_at: 2026-03-10 12:00:00.0 +00:00:00,
        }
        ReferralRevoked {
            referral_id: ReferralId(
                "ref-1",
            ),
            at: 2026-03-10 12:00:00.0 +00:00:00,
            consent_id: ConsentId(
                "consent-1",
            ),
        }"#]]
    .assert_eq(&render(outcome));
}
