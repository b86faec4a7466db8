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

fn minor_context() -> Context {
    Context {
        case_concerns_a_minor: true,
        ..by(REFERRER, NOW)
    }
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

#[test]
fn a_minor_under_consent_age_or_a_guardian_without_the_child_assent_is_minor_consent_required() {
    for grantor in [
        Grantor::Person {
            of_consent_age: false,
        },
        Grantor::Guardian {
            child_assent: false,
        },
    ] {
        assert_eq!(
            when(&State::default(), consent_by(grantor), &minor_context()),
            Err(ReferralError::MinorConsentRequired),
            "{grantor:?}"
        );
    }
}

#[test]
fn a_guardian_with_the_child_assent_or_a_child_of_consent_age_may_consent_for_a_minor() {
    for grantor in [
        Grantor::Guardian { child_assent: true },
        Grantor::Person {
            of_consent_age: true,
        },
    ] {
        let events = when(&State::default(), consent_by(grantor), &minor_context())
            .expect("accepted for a minor");
        assert!(
            matches!(
                events.as_slice(),
                [Event::ConsentGiven {
                    basis: Basis::Consent { grantor: g, .. },
                    ..
                }] if *g == grantor
            ),
            "{events:?}"
        );
    }
}

#[test]
fn the_minor_rule_applies_only_when_the_case_concerns_a_minor() {
    for grantor in [
        Grantor::Person {
            of_consent_age: false,
        },
        Grantor::Guardian {
            child_assent: false,
        },
    ] {
        assert!(
            when(&State::default(), consent_by(grantor), &by(REFERRER, NOW)).is_ok(),
            "{grantor:?} on a case not concerning a minor"
        );
    }
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
                grantor: Person {
                    of_consent_age: true,
                },
            },
            given_at: 2026-03-10 12:00:00.0 +00:00:00,
        }"#]]
    .assert_eq(&render(outcome));
}
