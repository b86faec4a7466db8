//! `Send`: only a valid consent or exception covering the receiver and the dataset lets a referral go, and sending sets its deadlines.

use super::support::*;

#[test]
fn a_draft_whose_dataset_was_erased_cannot_be_sent_but_can_be_cancelled() {
    let erased = Event::ReferralDrafted {
        referral_id: rid(REFERRAL),
        referrer: org(REFERRER),
        receiver: org(RECEIVER),
        service_type: ServiceType::AntiViolenceCentre,
        consent_id: cid(CONSENT),
        dataset: None,
        place: Some(place("AG", FACILITY)),
        rules_version: 1,
    };
    let state = given(&[consent_to_receiver(CONSENT), erased]);
    assert_eq!(
        when(&state, Kind::Send.command(REFERRAL), &by(REFERRER, NOW)),
        Err(ReferralError::PersonalDataErased)
    );
    assert!(when(&state, Kind::Cancel.command(REFERRAL), &by(REFERRER, NOW)).is_ok());
}

/// Both ways of sending, from an empty referral list plus `ledger`: returns each result.
fn send_both_ways(
    ledger: &[Event],
    receiver: &str,
    dataset: Dataset,
    consent_id: &str,
    now: OffsetDateTime,
) -> [Result<Vec<Event>, ReferralError>; 2] {
    let state = given(ledger);
    let at_once = when(
        &state,
        create_with(REFERRAL, consent_id, receiver, dataset.clone(), true),
        &by(REFERRER, now),
    );
    let draft = given(
        &[
            ledger.to_vec(),
            vec![drafted_with(REFERRAL, consent_id, receiver, dataset)],
        ]
        .concat(),
    );
    let later = when(&draft, Kind::Send.command(REFERRAL), &by(REFERRER, now));
    [at_once, later]
}

#[track_caller]
fn assert_no_valid_consent(results: [Result<Vec<Event>, ReferralError>; 2]) {
    let [at_once, later] = results;
    assert_eq!(
        at_once,
        Err(ReferralError::NoValidConsent),
        "CreateReferral {{ send: true }}"
    );
    assert_eq!(later, Err(ReferralError::NoValidConsent), "Send");
}

#[track_caller]
fn assert_sent(results: [Result<Vec<Event>, ReferralError>; 2]) {
    let [at_once, later] = results;
    let at_once = at_once.expect("CreateReferral { send: true } accepted");
    assert!(
        matches!(
            at_once.as_slice(),
            [Event::ReferralDrafted { .. }, Event::ReferralSent { .. }]
        ),
        "{at_once:?}"
    );
    let later = later.expect("Send accepted");
    assert!(
        matches!(later.as_slice(), [Event::ReferralSent { .. }]),
        "{later:?}"
    );
}

#[test]
fn sending_with_a_valid_consent_to_the_receiver_is_accepted() {
    assert_sent(send_both_ways(
        &[consent_to_receiver(CONSENT)],
        RECEIVER,
        dataset(),
        CONSENT,
        NOW,
    ));
}

#[test]
fn sending_with_a_consent_to_another_organisation_is_no_valid_consent() {
    let ledger = [consent_given(
        CONSENT,
        Recipient::Organisation(org(OTHER_CAV)),
        consent_basis(all_scopes(), VALID_UNTIL),
    )];
    assert_no_valid_consent(send_both_ways(&ledger, RECEIVER, dataset(), CONSENT, NOW));
}

#[test]
fn sending_with_an_expired_consent_is_no_valid_consent() {
    let ledger = [consent_given(
        CONSENT,
        Recipient::Organisation(org(RECEIVER)),
        consent_basis(all_scopes(), NOW),
    )];
    // Expires exactly now: no longer valid.
    assert_no_valid_consent(send_both_ways(&ledger, RECEIVER, dataset(), CONSENT, NOW));
    // Expired an hour ago.
    assert_no_valid_consent(send_both_ways(
        &ledger,
        RECEIVER,
        dataset(),
        CONSENT,
        NOW + Duration::hours(1),
    ));
    // One second before expiry it is still valid.
    assert_sent(send_both_ways(
        &ledger,
        RECEIVER,
        dataset(),
        CONSENT,
        NOW - Duration::seconds(1),
    ));
}

#[test]
fn sending_with_a_withdrawn_consent_is_no_valid_consent() {
    let ledger = [
        consent_to_receiver(CONSENT),
        Event::ConsentWithdrawn {
            consent_id: cid(CONSENT),
            withdrawn_at: LATER,
        },
    ];
    assert_no_valid_consent(send_both_ways(&ledger, RECEIVER, dataset(), CONSENT, NOW));
}

#[test]
fn sending_data_outside_the_consented_scopes_is_no_valid_consent() {
    use DataScope as D;
    let cases: [(&str, Dataset, Vec<DataScope>); 4] = [
        (
            "safety instructions",
            dataset(),
            vec![D::Categories, D::Urgency, D::Communication],
        ),
        (
            "urgency",
            dataset(),
            vec![D::Categories, D::Communication, D::SafetyInstructions],
        ),
        (
            "categories",
            dataset(),
            vec![D::Urgency, D::Communication, D::SafetyInstructions],
        ),
        (
            "communication needs without languages",
            Dataset {
                languages: vec![],
                ..dataset()
            },
            vec![D::Categories, D::Urgency, D::SafetyInstructions],
        ),
    ];
    for (missing, data, consented) in cases {
        let ledger = [consent_given(
            CONSENT,
            Recipient::Organisation(org(RECEIVER)),
            consent_basis(scopes(&consented), VALID_UNTIL),
        )];
        let [at_once, later] = send_both_ways(&ledger, RECEIVER, data, CONSENT, NOW);
        assert_eq!(at_once, Err(ReferralError::NoValidConsent), "{missing}");
        assert_eq!(later, Err(ReferralError::NoValidConsent), "{missing}");
    }
}

#[test]
fn a_dataset_needing_only_the_consented_scopes_may_be_sent() {
    // Only categories: a consent to share only categories is enough.
    let minimal = Dataset {
        categories: vec![Category::Trafficking],
        ..Dataset::default()
    };
    assert_eq!(minimal.required_scopes(), scopes(&[DataScope::Categories]));
    let ledger = [consent_given(
        CONSENT,
        Recipient::Organisation(org(RECEIVER)),
        consent_basis(scopes(&[DataScope::Categories]), VALID_UNTIL),
    )];
    assert_sent(send_both_ways(&ledger, RECEIVER, minimal, CONSENT, NOW));
}

#[test]
fn required_scopes_follow_the_dataset() {
    assert_eq!(dataset().required_scopes(), all_scopes());
    assert_eq!(Dataset::default().required_scopes(), BTreeSet::new());
    let only_needs = Dataset {
        communication_needs: vec![code("sign_language")],
        ..Dataset::default()
    };
    assert_eq!(
        only_needs.required_scopes(),
        scopes(&[DataScope::Communication])
    );
}

#[test]
fn a_consent_for_a_service_type_covers_any_receiver_registered_with_that_type_and_no_other() {
    let ledger = [consent_given(
        CONSENT,
        Recipient::ServiceType(ServiceType::AntiViolenceCentre),
        consent_basis(all_scopes(), VALID_UNTIL),
    )];
    for receiver in [RECEIVER, OTHER_CAV] {
        assert_sent(send_both_ways(&ledger, receiver, dataset(), CONSENT, NOW));
    }
    // A shelter referral is not an anti-violence centre referral.
    let state = given(&ledger);
    assert_eq!(
        when(
            &state,
            Command::CreateReferral {
                referral_id: rid(REFERRAL),
                receiver: org(RECEIVER),
                service_type: ServiceType::Shelter,
                consent_id: cid(CONSENT),
                dataset: dataset(),
                send: true,
            },
            &by(REFERRER, NOW),
        ),
        Err(ReferralError::NoValidConsent)
    );
}

#[test]
fn a_consent_for_a_service_type_does_not_cover_a_receiver_the_directory_does_not_register_with_it()
{
    let ledger = [
        consent_given(
            CONSENT,
            Recipient::ServiceType(ServiceType::AntiViolenceCentre),
            consent_basis(all_scopes(), VALID_UNTIL),
        ),
        drafted(REFERRAL, CONSENT),
    ];
    let state = given(&ledger);
    // At send time the directory no longer registers the receiver as an
    // anti-violence centre (the referrer's claim is not enough).
    let changed = Context {
        receiver: Some(OrganisationProfile {
            service_types: vec![ServiceType::Shelter],
            ..profile(RECEIVER)
        }),
        ..by(REFERRER, NOW)
    };
    assert_eq!(
        decide(&state, Kind::Send.command(REFERRAL), &changed),
        Err(ReferralError::ReceiverDoesNotOffer)
    );
    // Nor one gone from the directory, or inactive.
    for receiver in [
        None,
        Some(OrganisationProfile {
            active: false,
            ..profile(RECEIVER)
        }),
    ] {
        // `decide` itself: no fixture directory filled in.
        let context = Context {
            receiver,
            ..by(REFERRER, NOW)
        };
        assert_eq!(
            decide(&state, Kind::Send.command(REFERRAL), &context),
            Err(ReferralError::ReceiverDoesNotOffer)
        );
    }
    // And the covering rule itself reads the directory's types.
    let entry = &state.consents[&cid(CONSENT)];
    let claimed = OrganisationProfile {
        service_types: vec![ServiceType::HealthService],
        ..profile(THIRD)
    };
    assert!(!entry.covers(&claimed, ServiceType::AntiViolenceCentre, &dataset(), NOW));
    assert!(entry.covers(
        &profile(OTHER_CAV),
        ServiceType::AntiViolenceCentre,
        &dataset(),
        NOW
    ));
}

#[test]
fn a_draft_whose_category_was_since_ruled_out_cannot_be_sent() {
    let state = given(&referral_in(ReferralState::Draft));
    let mut ruled_out = by(REFERRER, NOW);
    ruled_out
        .case
        .categories
        .insert(Category::Gbv, CategoryStatus::RuledOut);
    assert_eq!(
        when(&state, Kind::Send.command(REFERRAL), &ruled_out),
        Err(ReferralError::CategoryNotOnCase)
    );
}

#[test]
fn an_exception_is_recorded_in_the_events_and_allows_sending_without_expiry() {
    let recipient = Recipient::Organisation(org(RECEIVER));
    let given_events = when(
        &State::default(),
        give(CONSENT, recipient.clone(), exception_basis()),
        &by(REFERRER, NOW),
    );
    let expected = Event::ConsentGiven {
        consent_id: cid(CONSENT),
        recipient,
        basis: exception_basis(),
        given_at: NOW,
        age_band: AgeBand::Adult,
    };
    assert_eq!(given_events, Ok(vec![expected.clone()]));
    assert!(matches!(
        &expected,
        Event::ConsentGiven {
            basis: Basis::Exception {
                reason: ExceptionReason::RiskToLife,
                ..
            },
            ..
        }
    ));
    // Years later, with every scope of data: still covered.
    let years_later = NOW + Duration::days(5 * 365);
    assert_sent(send_both_ways(
        &[expected],
        RECEIVER,
        dataset(),
        CONSENT,
        years_later,
    ));
}

#[test]
fn the_deadlines_follow_the_cases_urgency_whatever_the_dataset_says() {
    let cases = [
        (Some(Urgency::Immediate), Urgency::Immediate, 4),
        (Some(Urgency::High), Urgency::High, 24),
        (Some(Urgency::Standard), Urgency::Standard, 72),
        // No urgency stated on the case yet: standard.
        (None, Urgency::Standard, 72),
    ];
    for (case_urgency, used, hours) in cases {
        for dataset_urgency in [None, Some(Urgency::Standard), Some(Urgency::Immediate)] {
            let data = Dataset {
                urgency: dataset_urgency,
                ..dataset()
            };
            let state = given(&[
                consent_to_receiver(CONSENT),
                drafted_with(REFERRAL, CONSENT, RECEIVER, data),
            ]);
            let mut context = by(REFERRER, NOW);
            context.case.urgency = match case_urgency {
                Some(urgency) => CaseUrgency::default().raised(urgency),
                None => CaseUrgency::default(),
            };
            let events = when(&state, Kind::Send.command(REFERRAL), &context);
            assert_eq!(
                events,
                Ok(vec![Event::ReferralSent {
                    referral_id: rid(REFERRAL),
                    sent_at: NOW,
                    acknowledge_by: NOW + Duration::hours(hours),
                    answer_by: NOW + Duration::hours(2 * hours),
                    urgency: Some(used),
                    policy_version: 1,
                }]),
                "case {case_urgency:?}, dataset {dataset_urgency:?}"
            );
            let state = apply(state, &events.expect("accepted"));
            let referral = &state.referrals[&rid(REFERRAL)];
            assert_eq!(referral.acknowledge_by, Some(NOW + Duration::hours(hours)));
            assert_eq!(referral.urgency, Some(used));
        }
    }
}

#[test]
fn an_assessment_that_lowered_the_urgency_gives_the_lower_deadlines() {
    let state = given(&referral_in(ReferralState::Draft));
    let mut context = by(REFERRER, NOW);
    context.case.urgency = CaseUrgency::default()
        .raised(Urgency::Immediate)
        .assessed(Urgency::Standard);
    assert!(matches!(
        when(&state, Kind::Send.command(REFERRAL), &context).as_deref(),
        Ok([Event::ReferralSent { acknowledge_by, urgency: Some(Urgency::Standard), .. }])
            if *acknowledge_by == NOW + Duration::hours(72)
    ));
}

#[test]
fn send_uses_the_configured_policy_and_records_its_version() {
    let state = given(&[consent_to_receiver(CONSENT), drafted(REFERRAL, CONSENT)]);
    let mut context = by(REFERRER, NOW);
    context.deadlines = DeadlinePolicy {
        version: 3,
        acknowledge_immediate: Duration::hours(1),
        acknowledge_high: Duration::hours(2),
        acknowledge_standard: Duration::hours(3),
        answer_windows: 3,
        take_charge: Duration::days(2),
    };
    assert_eq!(
        when(&state, Kind::Send.command(REFERRAL), &context),
        Ok(vec![Event::ReferralSent {
            referral_id: rid(REFERRAL),
            sent_at: NOW,
            acknowledge_by: NOW + Duration::hours(2),
            answer_by: NOW + Duration::hours(6),
            urgency: Some(Urgency::High),
            policy_version: 3,
        }])
    );
}

#[test]
fn the_default_policy_is_the_one_of_the_brief() {
    let policy = DeadlinePolicy::default();
    assert_eq!(
        policy.acknowledge_within(Urgency::Immediate),
        Duration::hours(4)
    );
    assert_eq!(
        policy.acknowledge_within(Urgency::High),
        Duration::hours(24)
    );
    assert_eq!(
        policy.acknowledge_within(Urgency::Standard),
        Duration::hours(72)
    );
    assert_eq!(policy.answer_windows, 2);
    assert_eq!(policy.take_charge, Duration::days(7));
    assert_eq!(policy.version, 1);
}

#[test]
fn a_persons_own_consent_does_not_cover_sending_once_the_age_band_says_a_child() {
    let own_consent = consent_given(
        CONSENT,
        Recipient::Organisation(org(RECEIVER)),
        Basis::Consent {
            purpose: code("gbv_support"),
            scopes: all_scopes(),
            valid_until: VALID_UNTIL,
            grantor: Grantor::Person,
        },
    );
    let state = given(&[own_consent, drafted(REFERRAL, CONSENT)]);
    let send = Command::Send {
        referral_id: rid(REFERRAL),
    };
    assert!(
        when(&state, send.clone(), &by(REFERRER, NOW)).is_ok(),
        "an adult's own consent covers it"
    );
    // The competent authority assessed the person as 6-13 since.
    let mut child = by(REFERRER, NOW);
    child.case.age_band = AgeBand::From6To13;
    assert_eq!(
        when(&state, send, &child),
        Err(ReferralError::MinorConsentRequired)
    );
}

#[test]
fn snapshot_of_a_draft_sent() {
    let outcome = when(
        &given(&referral_in(ReferralState::Draft)),
        Command::Send {
            referral_id: rid(REFERRAL),
        },
        &by(REFERRER, NOW),
    );
    expect![[r#"
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
