//! `FollowCaseTransfer`: the case was placed in another facility or province;
//! each open referral follows it (its place, hence its province, in the
//! receiver's inbox), once per move.

use super::support::*;

fn moved_to(province: &str, facility: &str, now: OffsetDateTime) -> Context {
    let mut context = system(now);
    context.case.place = Some(place(province, facility));
    context
}

fn follow(referral_id: &str) -> Command {
    Command::FollowCaseTransfer {
        referral_id: rid(referral_id),
    }
}

#[test]
fn an_open_referral_follows_its_case_to_another_province_or_facility() {
    for from in ReferralState::ALL {
        let state = given(&referral_in(*from));
        let outcome = when(
            &state,
            follow(REFERRAL),
            &moved_to("RM", ROME_FACILITY, NOW),
        );
        if from.is_terminal() {
            assert_eq!(outcome, Err(ReferralError::NothingToReactTo), "{from}");
            continue;
        }
        assert_eq!(
            outcome,
            Ok(vec![Event::ReferralCaseTransferred {
                referral_id: rid(REFERRAL),
                place: place("RM", ROME_FACILITY),
                at: NOW,
            }]),
            "{from}"
        );
        let state = apply(state, &outcome.expect("followed"));
        assert_eq!(
            state_of(&state, REFERRAL),
            *from,
            "a transfer is not a state"
        );
        // Followed: nothing more until the case moves again.
        assert_eq!(
            when(
                &state,
                follow(REFERRAL),
                &moved_to("RM", ROME_FACILITY, LATER)
            ),
            Err(ReferralError::NothingToReactTo)
        );
        assert!(
            when(
                &state,
                follow(REFERRAL),
                &moved_to("RM", "cas-roma-2", LATER)
            )
            .is_ok(),
            "another facility of the same province"
        );
        // Back where it was drafted: followed again.
        assert!(when(&state, follow(REFERRAL), &moved_to("AG", FACILITY, LATER)).is_ok());
    }
}

#[test]
fn a_case_still_where_it_was_or_a_referral_not_knowing_its_place_has_nothing_to_follow() {
    let state = given(&referral_in(ReferralState::Sent));
    assert_eq!(
        when(&state, follow(REFERRAL), &system(NOW)),
        Err(ReferralError::NothingToReactTo)
    );
    // Drafted before referrals recorded where their case was.
    let unplaced = Event::ReferralDrafted {
        referral_id: rid(REFERRAL),
        referrer: org(REFERRER),
        receiver: org(RECEIVER),
        service_type: ServiceType::AntiViolenceCentre,
        consent_id: cid(CONSENT),
        dataset: Some(dataset()),
        place: None,
        rules_version: 0,
    };
    let state = given(&[consent_to_receiver(CONSENT), unplaced, sent(REFERRAL)]);
    assert_eq!(
        when(
            &state,
            follow(REFERRAL),
            &moved_to("RM", ROME_FACILITY, NOW)
        ),
        Err(ReferralError::NothingToReactTo)
    );
}

#[test]
fn only_the_service_follows_and_not_for_a_closed_case() {
    let state = given(&referral_in(ReferralState::Sent));
    let mut by_referrer = by(REFERRER, NOW);
    by_referrer.case.place = Some(place("RM", ROME_FACILITY));
    assert_eq!(
        when(&state, follow(REFERRAL), &by_referrer),
        Err(ReferralError::NotAllowedForActor)
    );
    let mut closed = moved_to("RM", ROME_FACILITY, NOW);
    closed.case.closed = Some(code("transferred_abroad"));
    assert_eq!(
        when(&state, follow(REFERRAL), &closed),
        Err(ReferralError::CaseClosed)
    );
}

#[test]
fn snapshot_of_a_referral_following_its_case_to_rome() {
    let outcome = when(
        &given(&referral_in(ReferralState::InCare)),
        follow(REFERRAL),
        &moved_to("RM", ROME_FACILITY, NOW),
    );
    expect![[r#"
        ReferralCaseTransferred {
            referral_id: ReferralId(
                "ref-1",
            ),
            place: Place {
                province: Province(
                    "RM",
                ),
                facility_id: FacilityId(
                    "cas-roma-1",
                ),
            },
            at: 2026-03-10 12:00:00.0 +00:00:00,
        }"#]]
    .assert_eq(&render(outcome));
}
