//! `MarkScreeningDeadlineMissed`: the watcher marks screening not done within 7 days of arrival.

use super::support::*;

#[test]
fn screening_is_due_seven_days_after_arrival() {
    let state = given(&[opened()]);
    assert_eq!(state.arrived_at(), Some(ARRIVAL));
    assert_eq!(state.screening_due_at(), Some(SCREENING_DUE));
    assert_eq!(given(&[]).screening_due_at(), None);
}

#[test]
fn screening_deadline_is_not_missed_one_nanosecond_before_it_is_due() {
    assert_eq!(
        when(
            &given(&[opened()]),
            Command::MarkScreeningDeadlineMissed,
            SCREENING_DUE - Duration::NANOSECOND
        ),
        Err(ScreeningError::DeadlineNotMissed)
    );
}

#[test]
fn screening_deadline_is_missed_when_it_is_due() {
    assert_eq!(
        when(
            &given(&[opened()]),
            Command::MarkScreeningDeadlineMissed,
            SCREENING_DUE
        ),
        Ok(vec![Event::ScreeningDeadlineMissed {
            due_at: SCREENING_DUE,
            detected_at: SCREENING_DUE,
        }])
    );
    let later = SCREENING_DUE + Duration::days(3);
    assert_eq!(
        when(
            &given(&[opened()]),
            Command::MarkScreeningDeadlineMissed,
            later
        ),
        Ok(vec![Event::ScreeningDeadlineMissed {
            due_at: SCREENING_DUE,
            detected_at: later,
        }])
    );
}

#[test]
fn screening_deadline_is_not_missed_when_the_preliminary_check_was_recorded() {
    let state = given(&[
        opened(),
        Event::PreliminaryCheckRecorded(check(&[], ARRIVAL + Duration::DAY)),
    ]);
    assert_eq!(
        when(
            &state,
            Command::MarkScreeningDeadlineMissed,
            SCREENING_DUE + Duration::days(30)
        ),
        Err(ScreeningError::DeadlineNotMissed)
    );
}

#[test]
fn screening_deadline_is_marked_only_once() {
    let state = given(&[opened()]);
    let events = when(&state, Command::MarkScreeningDeadlineMissed, SCREENING_DUE).expect("missed");
    let state = apply(state, &events);
    assert!(state.screening_deadline_missed);
    assert_eq!(
        when(
            &state,
            Command::MarkScreeningDeadlineMissed,
            SCREENING_DUE + Duration::days(1)
        ),
        Err(ScreeningError::DeadlineNotMissed)
    );
}

#[test]
fn screening_deadline_on_a_case_not_opened_or_closed_is_refused() {
    let later = SCREENING_DUE + Duration::days(1);
    assert_eq!(
        when(&given(&[]), Command::MarkScreeningDeadlineMissed, later),
        Err(ScreeningError::CaseNotFound)
    );
    assert_eq!(
        when(
            &given(&[opened(), closed(NOW)]),
            Command::MarkScreeningDeadlineMissed,
            later
        ),
        Err(ScreeningError::CaseClosed)
    );
}

#[test]
fn snapshot_of_the_screening_deadline_missed() {
    let outcome = when(
        &given(&[opened()]),
        Command::MarkScreeningDeadlineMissed,
        SCREENING_DUE,
    );
    expect![[r#"
        ScreeningDeadlineMissed {
            due_at: 2026-03-09 8:30:00.0 +00:00:00,
            detected_at: 2026-03-09 8:30:00.0 +00:00:00,
        }"#]]
    .assert_eq(&render(outcome));
}
