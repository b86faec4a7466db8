//! Who may make a transition: the receiver's commands and the referrer's.

use super::support::*;

#[test]
fn receiver_only_commands_by_the_referrer_or_a_third_organisation_are_not_the_receiver() {
    for kind in Kind::ALL {
        if matches!(kind, Kind::Send | Kind::Cancel | Kind::MarkFailed) {
            continue;
        }
        for (from, _) in kind.allowed() {
            let state = given(&referral_in(*from));
            for intruder in [REFERRER, THIRD, OTHER_CAV] {
                assert_eq!(
                    when(&state, kind.command(REFERRAL), &by(intruder, NOW)),
                    Err(ReferralError::NotTheReceiver),
                    "{kind:?} by {intruder} from {from}"
                );
            }
        }
    }
}

#[test]
fn send_and_cancel_by_the_receiver_or_a_third_organisation_are_not_the_referrer() {
    for kind in [Kind::Send, Kind::Cancel] {
        for (from, _) in kind.allowed() {
            let state = given(&referral_in(*from));
            for intruder in [RECEIVER, THIRD] {
                assert_eq!(
                    when(&state, kind.command(REFERRAL), &by(intruder, NOW)),
                    Err(ReferralError::NotTheReferrer),
                    "{kind:?} by {intruder} from {from}"
                );
            }
        }
    }
}
