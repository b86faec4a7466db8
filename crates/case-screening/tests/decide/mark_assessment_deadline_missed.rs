//! `MarkAssessmentDeadlineMissed`: the watcher marks no assessment within 30 days of the application.

use super::support::*;

#[test]
fn assessment_is_due_at_the_end_of_the_thirtieth_day_after_the_application_in_rome() {
    assert_eq!(
        given(&[opened_with_application(APPLIED_ON)]).assessment_due_at(),
        Some(ASSESSMENT_DUE)
    );
    assert_eq!(
        given(&[
            opened(),
            Event::ApplicationRecorded {
                application_date: APPLIED_ON
            }
        ])
        .assessment_due_at(),
        Some(datetime!(2026-04-03 00:00 +02:00))
    );
    // In winter, the end of a day in Rome is 23:00 UTC.
    assert_eq!(
        given(&[opened_with_application(date!(2026 - 11 - 02))]).assessment_due_at(),
        Some(datetime!(2026-12-02 23:00 UTC))
    );
    assert_eq!(given(&[opened()]).assessment_due_at(), None);
}

#[test]
fn assessment_deadline_is_not_missed_one_nanosecond_before_it_is_due() {
    assert_eq!(
        when(
            &given(&[opened_with_application(APPLIED_ON)]),
            Command::MarkAssessmentDeadlineMissed,
            ASSESSMENT_DUE - Duration::NANOSECOND
        ),
        Err(ScreeningError::DeadlineNotMissed)
    );
}

#[test]
fn assessment_deadline_is_missed_when_it_is_due() {
    for history in [
        vec![opened_with_application(APPLIED_ON)],
        vec![
            opened(),
            Event::ApplicationRecorded {
                application_date: APPLIED_ON,
            },
        ],
    ] {
        assert_eq!(
            when(
                &given(&history),
                Command::MarkAssessmentDeadlineMissed,
                ASSESSMENT_DUE
            ),
            Ok(vec![Event::AssessmentDeadlineMissed {
                due_at: ASSESSMENT_DUE,
                detected_at: ASSESSMENT_DUE,
            }])
        );
        let later = ASSESSMENT_DUE + Duration::days(4);
        assert_eq!(
            when(
                &given(&history),
                Command::MarkAssessmentDeadlineMissed,
                later
            ),
            Ok(vec![Event::AssessmentDeadlineMissed {
                due_at: ASSESSMENT_DUE,
                detected_at: later,
            }])
        );
    }
}

#[test]
fn assessment_deadline_needs_an_application_date() {
    assert_eq!(
        when(
            &given(&[opened()]),
            Command::MarkAssessmentDeadlineMissed,
            ARRIVAL + Duration::days(365)
        ),
        Err(ScreeningError::DeadlineNotMissed)
    );
}

#[test]
fn assessment_deadline_is_not_missed_when_an_assessment_was_recorded() {
    let state = given(&[
        opened_with_application(APPLIED_ON),
        Event::AssessmentRecorded {
            assessment: assessment(&[(Category::Minor, Outcome::Confirmed)], NOW),
            reassessment: false,
            still_to_assess: vec![],
        },
    ]);
    assert_eq!(
        when(
            &state,
            Command::MarkAssessmentDeadlineMissed,
            ASSESSMENT_DUE + Duration::days(10)
        ),
        Err(ScreeningError::DeadlineNotMissed)
    );
}

#[test]
fn assessment_deadline_is_marked_only_once() {
    let state = given(&[opened_with_application(APPLIED_ON)]);
    let events = when(
        &state,
        Command::MarkAssessmentDeadlineMissed,
        ASSESSMENT_DUE,
    )
    .expect("missed");
    let state = apply(state, &events);
    assert!(state.assessment_deadline_missed);
    assert_eq!(
        when(
            &state,
            Command::MarkAssessmentDeadlineMissed,
            ASSESSMENT_DUE + Duration::days(1)
        ),
        Err(ScreeningError::DeadlineNotMissed)
    );
}

#[test]
fn assessment_deadline_on_a_case_not_opened_or_closed_is_refused() {
    let later = ASSESSMENT_DUE + Duration::days(1);
    assert_eq!(
        when(&given(&[]), Command::MarkAssessmentDeadlineMissed, later),
        Err(ScreeningError::CaseNotFound)
    );
    assert_eq!(
        when(
            &given(&[opened_with_application(APPLIED_ON), closed(NOW)]),
            Command::MarkAssessmentDeadlineMissed,
            later
        ),
        Err(ScreeningError::CaseClosed)
    );
}

#[test]
fn snapshot_of_the_assessment_deadline_missed() {
    let outcome = when(
        &given(&[opened_with_application(APPLIED_ON)]),
        Command::MarkAssessmentDeadlineMissed,
        ASSESSMENT_DUE,
    );
    expect![[r#"
        AssessmentDeadlineMissed {
            due_at: 2026-04-02 22:00:00.0 +00:00:00,
            detected_at: 2026-04-02 22:00:00.0 +00:00:00,
        }"#]]
    .assert_eq(&render(outcome));
}
