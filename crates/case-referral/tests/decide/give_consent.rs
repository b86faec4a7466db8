//! `GiveConsent`: the consent ledger, and who may consent for a minor.

use super::support::*;

#[test]
fn give_consent_records_it_and_the_ledger_holds_it() {
    let recipient = Recipient::Organisation(org(RECEIVER));
    let basis = consent_basis(all_scopes(), VALID_UNTIL);
    let events = when(
        &State::default(),
        Command::GiveConsent {
            consent_id: cid(CONSENT),
            recipient: recipient.clone(),
            basis: basis.clone(),
            given_at: GIVEN_AT,
        },
        &by(REFERRER, NOW),
    );
    assert_eq!(
        events,
        Ok(vec![Event::ConsentGiven {
            consent_id: cid(CONSENT),
            recipient: recipient.clone(),
            basis: basis.clone(),
            given_at: GIVEN_AT,
            age_band: AgeBand::Adult,
        }])
    );
    let state = apply(State::default(), &events.expect("accepted"));
    let entry = &state.consents[&cid(CONSENT)];
    assert_eq!(entry.recipient, recipient);
    assert_eq!(entry.basis, basis);
    assert_eq!(entry.given_at, GIVEN_AT);
    assert_eq!(entry.withdrawn_at, None);
}

#[test]
fn give_consent_given_in_the_future_is_invalid() {
    let command = Command::GiveConsent {
        consent_id: cid(CONSENT),
        recipient: Recipient::Organisation(org(RECEIVER)),
        basis: consent_basis(all_scopes(), VALID_UNTIL),
        given_at: NOW + Duration::seconds(1),
    };
    assert_invalid(
        when(&State::default(), command, &by(REFERRER, NOW)),
        "given_at",
    );
}

#[test]
fn give_consent_without_scopes_is_invalid() {
    let command = give(
        CONSENT,
        Recipient::Organisation(org(RECEIVER)),
        consent_basis(BTreeSet::new(), VALID_UNTIL),
    );
    assert_invalid(
        when(&State::default(), command, &by(REFERRER, NOW)),
        "scopes",
    );
}

#[test]
fn give_consent_valid_until_not_in_the_future_is_invalid() {
    for valid_until in [NOW, NOW - Duration::days(1)] {
        let command = give(
            CONSENT,
            Recipient::Organisation(org(RECEIVER)),
            consent_basis(all_scopes(), valid_until),
        );
        assert_invalid(
            when(&State::default(), command, &by(REFERRER, NOW)),
            "valid_until",
        );
    }
    // One second in the future is fine.
    let command = give(
        CONSENT,
        Recipient::Organisation(org(RECEIVER)),
        consent_basis(all_scopes(), NOW + Duration::seconds(1)),
    );
    assert!(when(&State::default(), command, &by(REFERRER, NOW)).is_ok());
}

#[test]
fn give_consent_with_an_id_already_in_the_ledger_is_already_exists() {
    let state = given(&[consent_to_receiver(CONSENT)]);
    for basis in [consent_basis(all_scopes(), VALID_UNTIL), exception_basis()] {
        assert_eq!(
            when(
                &state,
                give(CONSENT, Recipient::Organisation(org(OTHER_CAV)), basis),
                &by(REFERRER, NOW)
            ),
            Err(ReferralError::AlreadyExists)
        );
    }
    // Also once withdrawn: ids are never reused.
    let withdrawn = given(&[
        consent_to_receiver(CONSENT),
        Event::ConsentWithdrawn {
            consent_id: cid(CONSENT),
            withdrawn_at: LATER,
        },
    ]);
    assert_eq!(
        when(
            &withdrawn,
            give(
                CONSENT,
                Recipient::Organisation(org(RECEIVER)),
                consent_basis(all_scopes(), VALID_UNTIL)
            ),
            &by(REFERRER, NOW)
        ),
        Err(ReferralError::AlreadyExists)
    );
}

/// The context of a case of `band` (assessed, when known), with
/// UNACCOMPANIED_MINOR at `minor_category` (or not recorded).
fn aged(band: AgeBand, minor_category: Option<CategoryStatus>) -> Context {
    let mut context = by(REFERRER, NOW);
    context.case.age_band = band;
    context.case.age_assessed = band != AgeBand::Unknown;
    if let Some(status) = minor_category {
        context
            .case
            .categories
            .insert(Category::UnaccompaniedMinor, status);
    }
    context
}

fn minor_context() -> Context {
    aged(AgeBand::Unknown, Some(CategoryStatus::Suspected))
}

fn consent_by(grantor: Grantor) -> Command {
    give(
        CONSENT,
        Recipient::Organisation(org(RECEIVER)),
        Basis::Consent {
            purpose: code("child_protection_support"),
            scopes: all_scopes(),
            valid_until: VALID_UNTIL,
            grantor,
        },
    )
}

/// Whether `grantor`'s consent is accepted in `context`.
fn accepted(grantor: Grantor, context: &Context) -> bool {
    match when(&State::default(), consent_by(grantor), context) {
        Ok(_) => true,
        Err(ReferralError::MinorConsentRequired) => false,
        Err(other) => panic!("{grantor:?}: {other:?}"),
    }
}

#[test]
fn a_minors_own_consent_counts_from_the_configured_consent_age_by_age_band() {
    let cases = [
        (AgeBand::UpTo5, false),
        (AgeBand::From6To13, false),
        (AgeBand::From14To15, false),
        (AgeBand::From16To17, true),
        (AgeBand::Adult, true),
        // A presumed minor of unknown age never consents alone.
        (AgeBand::Unknown, false),
    ];
    for (band, alone) in cases {
        let context = aged(band, Some(CategoryStatus::Suspected));
        assert_eq!(accepted(Grantor::Person, &context), alone, "{band}");
    }
    // Configured from 14: the 14-15 band consents alone.
    let mut context = aged(AgeBand::From14To15, None);
    context.minors.consent_from_age = 14;
    assert!(accepted(Grantor::Person, &context));
}

#[test]
fn a_guardians_consent_needs_the_childs_assent_except_under_the_assent_age() {
    for band in [
        AgeBand::UpTo5,
        AgeBand::From6To13,
        AgeBand::From14To15,
        AgeBand::From16To17,
        AgeBand::Unknown,
    ] {
        let context = aged(band, Some(CategoryStatus::Suspected));
        assert!(
            accepted(Grantor::Guardian { child_assent: true }, &context),
            "{band}: with the child's assent"
        );
        assert_eq!(
            accepted(
                Grantor::Guardian {
                    child_assent: false
                },
                &context
            ),
            band == AgeBand::UpTo5,
            "{band}: without the child's assent (an infant needs none)"
        );
    }
    // Configured from 14: no assent for the whole 6-13 band either.
    let mut context = aged(AgeBand::From6To13, None);
    context.minors.assent_from_age = 14;
    assert!(accepted(
        Grantor::Guardian {
            child_assent: false
        },
        &context
    ));
}

#[test]
fn who_is_a_minor_is_decided_by_the_age_band_then_by_minor_categories() {
    let alone = Grantor::Person;
    // The age assessment said adult: a suspected minor category does not matter.
    assert!(accepted(
        alone,
        &aged(AgeBand::Adult, Some(CategoryStatus::Suspected))
    ));
    // Unknown age: a minor category not ruled out makes a presumed minor...
    assert!(!accepted(
        alone,
        &aged(AgeBand::Unknown, Some(CategoryStatus::Confirmed))
    ));
    // ... one ruled out, or none, does not.
    assert!(accepted(
        alone,
        &aged(AgeBand::Unknown, Some(CategoryStatus::RuledOut))
    ));
    assert!(accepted(alone, &aged(AgeBand::Unknown, None)));
    // A minor band is a minor whatever the categories say.
    assert!(!accepted(alone, &aged(AgeBand::From6To13, None)));
}

#[test]
fn an_adult_band_only_declared_at_opening_leaves_a_disputed_minor_presumed() {
    // Declared 18+ at opening, never assessed, UNACCOMPANIED_MINOR suspected:
    // the band is disputed, so the person is a presumed minor.
    let mut context = aged(AgeBand::Adult, Some(CategoryStatus::Suspected));
    context.case.age_assessed = false;
    assert!(context.case.is_minor());
    assert!(!accepted(Grantor::Person, &context), "never alone");
    assert!(!accepted(
        Grantor::Guardian {
            child_assent: false
        },
        &context
    ));
    assert!(accepted(Grantor::Guardian { child_assent: true }, &context));
    // Without a minor category there is no doubt: an adult.
    let mut adult = aged(AgeBand::Adult, None);
    adult.case.age_assessed = false;
    assert!(accepted(Grantor::Person, &adult));
}

#[test]
fn the_consent_records_the_age_band_it_was_judged_on() {
    let context = aged(AgeBand::From16To17, None);
    let events = when(&State::default(), consent_by(Grantor::Person), &context);
    assert!(
        matches!(
            events.as_deref(),
            Ok([Event::ConsentGiven {
                age_band: AgeBand::From16To17,
                ..
            }])
        ),
        "{events:?}"
    );
}

#[test]
fn exceptions_are_not_subject_to_the_minor_rule() {
    let command = give(
        CONSENT,
        Recipient::ServiceType(ServiceType::JuvenileCourt),
        Basis::Exception {
            reason: ExceptionReason::ChildProtection,
            authority: code("juvenile_court_palermo"),
        },
    );
    let events = when(&State::default(), command, &minor_context()).expect("accepted");
    assert!(matches!(
        events.as_slice(),
        [Event::ConsentGiven {
            basis: Basis::Exception {
                reason: ExceptionReason::ChildProtection,
                ..
            },
            ..
        }]
    ));
}

#[test]
fn snapshot_of_a_consent_to_the_receiver() {
    let outcome = when(
        &given(&[]),
        give(
            CONSENT,
            Recipient::Organisation(org(RECEIVER)),
            consent_basis(
                scopes(&[DataScope::Categories, DataScope::Urgency]),
                VALID_UNTIL,
            ),
        ),
        &by(REFERRER, NOW),
    );
    expect![[r#"
        ConsentGiven {
            consent_id: ConsentId(
                "consent-1",
            ),
            recipient: Organisation(
                OrganisationId(
                    "cav-differenza-donna",
                ),
            ),
            basis: Consent {
                purpose: Code(
                    "gbv_support",
                ),
                scopes: {
                    Categories,
                    Urgency,
                },
                valid_until: 2026-06-10 0:00:00.0 +00:00:00,
                grantor: Person,
            },
            given_at: 2026-03-10 12:00:00.0 +00:00:00,
            age_band: Adult,
        }"#]]
    .assert_eq(&render(outcome));
}
