//! `RecordApplication`: the application date the assessment deadline runs from.

use super::support::*;

#[test]
fn application_is_recorded() {
    let events = when(
        &given(&[opened()]),
        Command::RecordApplication {
            application_date: NOW.date(),
        },
        NOW,
    )
    .expect("accepted");
    assert_eq!(
        events,
        vec![Event::ApplicationRecorded {
            application_date: NOW.date(),
        }]
    );
    assert_eq!(
        apply(given(&[opened()]), &events).application_date,
        Some(NOW.date())
    );
}

#[test]
fn application_on_a_case_not_opened_is_case_not_found() {
    assert_eq!(
        when(
            &given(&[]),
            Command::RecordApplication {
                application_date: APPLIED_ON
            },
            NOW
        ),
        Err(ScreeningError::CaseNotFound)
    );
}

#[test]
fn application_on_a_closed_case_is_case_closed() {
    assert_eq!(
        when(
            &given(&[opened(), closed(NOW)]),
            Command::RecordApplication {
                application_date: APPLIED_ON
            },
            NOW
        ),
        Err(ScreeningError::CaseClosed)
    );
}

#[test]
fn application_twice_is_refused() {
    let command = Command::RecordApplication {
        application_date: NOW.date(),
    };
    let recorded = given(&[
        opened(),
        Event::ApplicationRecorded {
            application_date: APPLIED_ON,
        },
    ]);
    assert_eq!(
        when(&recorded, command.clone(), NOW),
        Err(ScreeningError::ApplicationAlreadyRecorded)
    );
    // Also when the date came with the opening.
    assert_eq!(
        when(&given(&[opened_with_application(APPLIED_ON)]), command, NOW),
        Err(ScreeningError::ApplicationAlreadyRecorded)
    );
}

#[test]
fn application_in_the_future_is_invalid() {
    assert_invalid(
        when(
            &given(&[opened()]),
            Command::RecordApplication {
                application_date: NOW.date().next_day().expect("a next day"),
            },
            NOW,
        ),
        "application_date",
    );
}

#[test]
fn snapshot_of_an_application() {
    let outcome = when(
        &given(&[opened()]),
        Command::RecordApplication {
            application_date: APPLIED_ON,
        },
        NOW,
    );
    expect![[r#"
        ApplicationRecorded {
            application_date: 2026-03-03,
        }"#]]
    .assert_eq(&render(outcome));
}
