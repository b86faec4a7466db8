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
                urgency: Some(Urgency::High),
                policy_version: 1,
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
fn a_dataset_may_carry_only_categories_the_case_has_as_suspected_or_confirmed() {
    let state = given(&[consent_to_receiver(CONSENT)]);
    // GBV confirmed, TRAFFICKING suspected: both may be shared.
    let live = Dataset {
        categories: vec![Category::Gbv, Category::Trafficking],
        ..dataset()
    };
    assert!(
        when(
            &state,
            create_with(REFERRAL, CONSENT, RECEIVER, live, true),
            &by(REFERRER, NOW)
        )
        .is_ok()
    );
    // MENTAL_HEALTH was ruled out; FGM was never recorded: the first is named.
    for (categories, field) in [
        (
            vec![Category::Gbv, Category::MentalHealth],
            "dataset.categories[1]",
        ),
        (vec![Category::Fgm, Category::Gbv], "dataset.categories[0]"),
    ] {
        for send in [false, true] {
            let data = Dataset {
                categories: categories.clone(),
                ..dataset()
            };
            assert_invalid(
                when(
                    &state,
                    create_with(REFERRAL, CONSENT, RECEIVER, data, send),
                    &by(REFERRER, NOW),
                ),
                field,
            );
        }
    }
}

#[test]
fn the_service_type_must_be_one_the_receiver_is_registered_with() {
    let state = given(&[consent_given(
        CONSENT,
        Recipient::ServiceType(ServiceType::HealthService),
        consent_basis(all_scopes(), VALID_UNTIL),
    )]);
    // The referrer claims the anti-violence centre is a health service.
    let claimed = Command::CreateReferral {
        referral_id: rid(REFERRAL),
        receiver: org(RECEIVER),
        service_type: ServiceType::HealthService,
        consent_id: cid(CONSENT),
        dataset: dataset(),
        send: true,
    };
    assert_invalid(when(&state, claimed, &by(REFERRER, NOW)), "service_type");
    // The health service registered as one: accepted.
    let real = Command::CreateReferral {
        referral_id: rid(REFERRAL),
        receiver: org(THIRD),
        service_type: ServiceType::HealthService,
        consent_id: cid(CONSENT),
        dataset: dataset(),
        send: true,
    };
    assert!(when(&state, real, &by(REFERRER, NOW)).is_ok());
}

#[test]
fn a_receiver_not_in_the_directory_or_inactive_is_invalid() {
    let state = given(&[consent_to_receiver(CONSENT)]);
    let command = create(REFERRAL, CONSENT, false);
    let absent = Context {
        receiver: Some(profile(OTHER_CAV)),
        ..by(REFERRER, NOW)
    };
    assert_invalid(
        decide(&state, command.clone(), &absent),
        "receiver_organisation_id",
    );
    let inactive = Context {
        receiver: Some(OrganisationProfile {
            active: false,
            ..profile(RECEIVER)
        }),
        ..by(REFERRER, NOW)
    };
    assert_invalid(
        decide(&state, command, &inactive),
        "receiver_organisation_id",
    );
}

#[test]
fn a_draft_records_where_the_case_is_and_the_pathway_rules_in_force() {
    let state = given(&[consent_to_receiver(CONSENT)]);
    let context = Context {
        rules_version: 7,
        ..by(REFERRER, NOW)
    };
    let events = when(&state, create(REFERRAL, CONSENT, false), &context).expect("drafted");
    assert!(
        matches!(
            events.as_slice(),
            [Event::ReferralDrafted { place: Some(p), rules_version: 7, .. }]
                if *p == place("AG", FACILITY)
        ),
        "{events:?}"
    );
    let state = apply(state, &events);
    assert_eq!(
        state.referrals[&rid(REFERRAL)].place,
        Some(place("AG", FACILITY))
    );
}

#[test]
fn nothing_is_referred_for_a_closed_case() {
    let state = given(&[consent_to_receiver(CONSENT)]);
    let mut closed = by(REFERRER, NOW);
    closed.case.closed = Some(code("left_reception"));
    for send in [false, true] {
        assert_eq!(
            when(&state, create(REFERRAL, CONSENT, send), &closed),
            Err(ReferralError::CaseClosed)
        );
    }
    let draft = given(&referral_in(ReferralState::Draft));
    assert_eq!(
        when(&draft, Kind::Send.command(REFERRAL), &closed),
        Err(ReferralError::CaseClosed)
    );
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
            place: Some(
                Place {
                    province: Province(
                        "AG",
                    ),
                    facility_id: FacilityId(
                        "cas-agrigento",
                    ),
                },
            ),
            rules_version: 1,
        }
        ReferralSent {
            referral_id: ReferralId(
                "ref-1",
            ),
            sent_at: 2026-03-10 12:00:00.0 +00:00:00,
            acknowledge_by: 2026-03-11 12:00:00.0 +00:00:00,
            answer_by: 2026-03-12 12:00:00.0 +00:00:00,
            urgency: Some(
                High,
            ),
            policy_version: 1,
        }"#]]
    .assert_eq(&render(outcome));
}
