//! `CreateReferral`: drafting a referral, and sending it at once.

use super::support::*;

#[test]
fn create_referral_by_the_system_is_refused() {
    let state = given(&[consent_to_receiver(CONSENT)]);
    for send in [false, true] {
        assert_eq!(
            when(&state, create(REFERRAL, CONSENT, send), &system(NOW)),
            Err(ReferralError::NotTheReferrer)
        );
    }
}

#[test]
fn the_referrer_is_whoever_created_the_referral() {
    // The third organisation creates its own referral: it is now the referrer of it.
    let state = given(&[consent_to_receiver(CONSENT)]);
    let events = when(&state, create(REFERRAL, CONSENT, false), &by(THIRD, NOW))
        .expect("a referral by any organisation");
    let state = apply(state, &events);
    assert_eq!(
        state.referrals[&rid(REFERRAL)].referrer,
        org(THIRD),
        "{events:?}"
    );
    assert_eq!(
        when(&state, Kind::Send.command(REFERRAL), &by(REFERRER, NOW)),
        Err(ReferralError::NotTheReferrer)
    );
    assert!(when(&state, Kind::Send.command(REFERRAL), &by(THIRD, NOW)).is_ok());
}

#[test]
fn create_without_sending_records_only_a_draft() {
    let state = given(&[consent_to_receiver(CONSENT)]);
    let events = when(&state, create(REFERRAL, CONSENT, false), &by(REFERRER, NOW));
    assert_eq!(events, Ok(vec![drafted(REFERRAL, CONSENT)]));
    let state = apply(state, &events.expect("accepted"));
    let referral = &state.referrals[&rid(REFERRAL)];
    assert_eq!(referral.state, ReferralState::Draft);
    assert_eq!(referral.acknowledge_by, None);
    assert_eq!(referral.answer_by, None);
}

#[test]
fn create_and_send_records_the_draft_then_the_sending() {
    let state = given(&[consent_to_receiver(CONSENT)]);
    let events = when(&state, create(REFERRAL, CONSENT, true), &by(REFERRER, NOW));
    assert_eq!(
        events,
        Ok(vec![
            drafted(REFERRAL, CONSENT),
            Event::ReferralSent {
                referral_id: rid(REFERRAL),
                sent_at: NOW,
                acknowledge_by: NOW + Duration::hours(24),
                answer_by: NOW + Duration::hours(48),
            },
        ])
    );
    let state = apply(state, &events.expect("accepted"));
    assert_eq!(state_of(&state, REFERRAL), ReferralState::Sent);
}

#[test]
fn create_with_an_id_already_used_is_already_exists() {
    let state = given(&referral_in(ReferralState::Completed));
    assert_eq!(
        when(&state, create(REFERRAL, CONSENT, false), &by(REFERRER, NOW)),
        Err(ReferralError::AlreadyExists)
    );
}

#[test]
fn create_to_oneself_is_invalid() {
    let state = given(&[consent_to_receiver(CONSENT)]);
    assert_invalid(
        when(
            &state,
            create_with(REFERRAL, CONSENT, REFERRER, dataset(), false),
            &by(REFERRER, NOW),
        ),
        "receiver_organisation_id",
    );
}

#[test]
fn create_without_categories_is_invalid() {
    let state = given(&[consent_to_receiver(CONSENT)]);
    let empty = Dataset {
        categories: vec![],
        ..dataset()
    };
    assert_invalid(
        when(
            &state,
            create_with(REFERRAL, CONSENT, RECEIVER, empty, false),
            &by(REFERRER, NOW),
        ),
        "dataset.categories",
    );
}

#[test]
fn create_with_a_consent_not_in_the_ledger_is_consent_not_found_sent_or_not() {
    let state = given(&[consent_to_receiver(CONSENT)]);
    for send in [false, true] {
        assert_eq!(
            when(
                &state,
                create(REFERRAL, "consent-unknown", send),
                &by(REFERRER, NOW)
            ),
            Err(ReferralError::ConsentNotFound),
            "send: {send}"
        );
    }
}

#[test]
fn a_draft_may_be_kept_while_the_consent_does_not_cover_it_but_not_sent() {
    // Drafting checks only that the consent exists; sending checks that it covers.
    let ledger = [consent_given(
        CONSENT,
        Recipient::Organisation(org(OTHER_CAV)),
        consent_basis(all_scopes(), VALID_UNTIL),
    )];
    let state = given(&ledger);
    let events = when(&state, create(REFERRAL, CONSENT, false), &by(REFERRER, NOW))
        .expect("a draft is accepted");
    let state = apply(state, &events);
    assert_eq!(
        when(&state, Kind::Send.command(REFERRAL), &by(REFERRER, NOW)),
        Err(ReferralError::NoValidConsent)
    );
    assert_eq!(state_of(&state, REFERRAL), ReferralState::Draft);
}

#[test]
fn snapshot_of_a_referral_created_and_sent_at_once() {
    let outcome = when(
        &given(&[consent_to_receiver(CONSENT)]),
        create(REFERRAL, CONSENT, true),
        &by(REFERRER, NOW),
    );
    expect![[r#"
        ReferralDrafted {
            referral_id: ReferralId(
                "ref-1",
            ),
            referrer: OrganisationId(
                "cas-agrigento",
            ),
            receiver: OrganisationId(
                "cav-differenza-donna",
            ),
            service_type: AntiViolenceCentre,
            consent_id: ConsentId(
                "consent-1",
            ),
            dataset: Some(
                Dataset {
                    categories: [
                        Gbv,
                    ],
                    urgency: Some(
                        High,
                    ),
                    languages: [
                        Language(
                            "tir",
                        ),
                    ],
                    communication_needs: [
                        Code(
                            "female_interpreter",
                        ),
                    ],
                    safety_instructions: [
                        Code(
                            "call_only_in_the_morning",
                        ),
                    ],
                },
            ),
        }
        ReferralSent {
            referral_id: ReferralId(
                "ref-1",
            ),
            sent_at: 2026-03-10 12:00:00.0 +00:00:00,
            acknowledge_by: 2026-03-11 12:00:00.0 +00:00:00,
            answer_by: 2026-03-12 12:00:00.0 +00:00:00,
        }"#]]
    .assert_eq(&render(outcome));
}
