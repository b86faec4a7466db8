//! `RecordFormalIdentification`: an anti-trafficking body formally identifies
//! a victim of trafficking whom an assessment made presumed (the service
//! checks that the caller is a configured body).

use super::support::*;

fn presumed() -> State {
    given(&[
        opened(),
        Event::VulnerabilitySignalRaised(signal(Category::Trafficking, ARRIVAL)),
        assessed(
            &[(Category::Trafficking, Outcome::Confirmed)],
            ARRIVAL + Duration::DAY,
        ),
    ])
}

#[test]
fn a_presumed_victim_is_formally_identified() {
    let state = presumed();
    assert_eq!(
        state.identification(Category::Trafficking),
        Some(Identification::Presumed)
    );
    let events = when(
        &state,
        Command::RecordFormalIdentification(identification(NOW)),
        NOW,
    )
    .expect("identified");
    assert_eq!(
        events,
        [Event::FormalIdentificationRecorded(identification(NOW))]
    );
    assert_eq!(
        apply(state, &events).identification(Category::Trafficking),
        Some(Identification::FormallyIdentified)
    );
}

#[test]
fn only_a_presumed_victim_is_identified() {
    let suspected = given(&[
        opened(),
        Event::VulnerabilitySignalRaised(signal(Category::Trafficking, ARRIVAL)),
    ]);
    let ruled_out = given(&[
        opened(),
        assessed(&[(Category::Trafficking, Outcome::RuledOut)], ARRIVAL),
    ]);
    for state in [given(&[opened()]), suspected, ruled_out] {
        assert_eq!(
            when(
                &state,
                Command::RecordFormalIdentification(identification(NOW)),
                NOW
            ),
            Err(ScreeningError::NotPresumed)
        );
    }
}

#[test]
fn a_victim_is_identified_once() {
    let state = apply(
        presumed(),
        &[Event::FormalIdentificationRecorded(identification(NOW))],
    );
    assert_eq!(
        when(
            &state,
            Command::RecordFormalIdentification(identification(NOW)),
            NOW
        ),
        Err(ScreeningError::AlreadyFormallyIdentified)
    );
}

#[test]
fn only_trafficking_has_a_formal_identification() {
    let state = given(&[
        opened(),
        assessed(&[(Category::Gbv, Outcome::Confirmed)], ARRIVAL),
    ]);
    let gbv = FormalIdentification {
        category: Category::Gbv,
        ..identification(NOW)
    };
    assert_invalid(
        when(&state, Command::RecordFormalIdentification(gbv), NOW),
        "category",
    );
}

#[test]
fn the_identification_lies_between_the_arrival_and_now() {
    assert_invalid(
        when(
            &presumed(),
            Command::RecordFormalIdentification(identification(NOW + Duration::NANOSECOND)),
            NOW,
        ),
        "identified_at",
    );
    assert_invalid(
        when(
            &presumed(),
            Command::RecordFormalIdentification(identification(ARRIVAL - Duration::NANOSECOND)),
            NOW,
        ),
        "identified_at",
    );
}

#[test]
fn snapshot_of_a_formal_identification() {
    let outcome = when(
        &presumed(),
        Command::RecordFormalIdentification(identification(NOW)),
        NOW,
    );
    expect![[r#"
        FormalIdentificationRecorded(
            FormalIdentification {
                category: Trafficking,
                identified_by_organisation: "progetto-anti-tratta-ag",
                identified_at: 2026-03-04 12:00:00.0 +00:00:00,
            },
        )"#]]
    .assert_eq(&render(outcome));
}
