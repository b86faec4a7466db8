//! `AppointGuardian`: a minor's guardian (tutore), by kind and organisation, never a name.

use super::care::*;
use super::support::*;

#[test]
fn a_guardian_is_appointed_for_a_minor() {
    let state = given(&unaccompanied_minor());
    let events = when(&state, Command::AppointGuardian(guardian(NOW)), NOW).expect("appointed");
    assert_eq!(events, vec![Event::GuardianAppointed(guardian(NOW))]);
    let state = apply(state, &events);
    assert_eq!(state.minor.guardian, Some(guardian(NOW)));
    // Indicator 10: the time to guardian, from the events alone.
    let arrived_at = state.arrived_at().expect("arrival");
    assert_eq!(NOW - arrived_at, Duration::minutes(2 * 24 * 60 + 210));
}

#[test]
fn a_presumed_minor_gets_a_guardian_too() {
    let state = given(&[
        opened_as(AgeBand::Unknown),
        suspected(Category::AgeDisputed),
    ]);
    assert!(when(&state, Command::AppointGuardian(guardian(NOW)), NOW).is_ok());
}

#[test]
fn a_guardian_for_a_case_that_is_not_a_minor_is_refused() {
    for events in [
        vec![opened_as(AgeBand::Adult)],
        vec![opened_as(AgeBand::Unknown)],
        vec![
            opened_as(AgeBand::Unknown),
            suspected(Category::UnaccompaniedMinor),
            Event::AgeAssessed(age_assessment(AgeBand::Adult, ARRIVAL + Duration::DAY)),
        ],
    ] {
        assert_eq!(
            when(
                &given(&events),
                Command::AppointGuardian(guardian(NOW)),
                NOW
            ),
            Err(ScreeningError::NotAMinor),
            "{events:?}"
        );
    }
}

#[test]
fn an_appointment_before_arrival_or_in_the_future_is_invalid() {
    let state = given(&unaccompanied_minor());
    for at in [ARRIVAL - Duration::SECOND, NOW + Duration::SECOND] {
        assert_invalid(
            when(&state, Command::AppointGuardian(guardian(at)), NOW),
            "appointed_at",
        );
    }
}

#[test]
fn snapshot_of_a_guardian_appointment() {
    let appointment = GuardianAppointment {
        guardian_kind: GuardianKind::SocialServices,
        guardian_organisation_id: Some("servizi-sociali-agrigento".to_owned()),
        ..guardian(NOW)
    };
    let outcome = when(
        &given(&unaccompanied_minor()),
        Command::AppointGuardian(appointment),
        NOW,
    );
    expect![[r#"
        GuardianAppointed(
            GuardianAppointment {
                guardian_kind: SocialServices,
                guardian_organisation_id: Some(
                    "servizi-sociali-agrigento",
                ),
                appointed_by_organisation: "tribunale-minorenni-palermo",
                appointed_at: 2026-03-04 12:00:00.0 +00:00:00,
            },
        )"#]]
    .assert_eq(&render(outcome));
}
