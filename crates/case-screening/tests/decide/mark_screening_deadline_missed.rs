//! `MarkScreeningDeadlineMissed`: the watcher marks screening not done within
//! 7 calendar days (in Rome) of arrival at a hotspot, or of the opening of a
//! case opened in the territory.

use super::support::*;

#[test]
fn screening_is_due_seven_days_after_arrival() {
    let state = given(&[opened()]);
    assert_eq!(state.arrived_at(), Some(ARRIVAL));
    assert_eq!(state.screening_due_at(), Some(SCREENING_DUE));
    assert_eq!(given(&[]).screening_due_at(), None);
}

#[test]
fn a_case_opened_in_a_cas_weeks_after_arrival_is_not_missed_at_once() {
    // Landed on 2 March; the case is opened in a CAS on 6 April, at 10:00 in Rome.
    let opened_at = datetime!(2026-04-06 08:00 UTC);
    let opening = opened_in_territory(FacilityKind::Cas, opened_at);
    let state = given(std::slice::from_ref(&opening));
    // The first tick after the opening: nothing is due.
    assert_eq!(
        missed_deadlines(&state, opened_at + Duration::MINUTE),
        vec![]
    );
    assert_eq!(
        when(
            &state,
            Command::MarkScreeningDeadlineMissed,
            opened_at + Duration::MINUTE
        ),
        Err(ScreeningError::DeadlineNotMissed)
    );
    // Seven days after the day of the opening, at midnight in Rome (CEST).
    let due = datetime!(2026-04-13 22:00 UTC);
    assert_eq!(state.screening_due_at(), Some(due));
    assert_eq!(missed_deadlines(&state, due - Duration::NANOSECOND), vec![]);
    assert_eq!(
        missed_deadlines(&state, due),
        vec![Command::MarkScreeningDeadlineMissed]
    );
    assert_eq!(
        when(&state, Command::MarkScreeningDeadlineMissed, due),
        Ok(vec![Event::ScreeningDeadlineMissed {
            due_at: due,
            detected_at: due
        }])
    );
}

#[test]
fn screening_runs_from_the_opening_in_every_facility_of_the_territory() {
    let opened_at = ARRIVAL + Duration::days(20);
    let due = limit_ends(date_in_rome(opened_at), 7);
    for kind in [
        FacilityKind::FirstReception,
        FacilityKind::Cas,
        FacilityKind::Sai,
        FacilityKind::Shelter,
        FacilityKind::Detention,
    ] {
        let state = given(&[opened_in_territory(kind, opened_at)]);
        assert_eq!(state.screening_due_at(), Some(due), "{kind}");
    }
}

#[test]
fn screening_runs_from_arrival_at_a_hotspot_even_when_the_case_is_opened_later() {
    let state = given(&[Event::CaseOpened(OpenCase {
        opened_at: Some(ARRIVAL + Duration::days(3)),
        ..open_case()
    })]);
    assert_eq!(state.screening_due_at(), Some(SCREENING_DUE));
}

#[test]
fn a_case_opened_before_the_facility_kind_was_recorded_runs_from_arrival() {
    let state = given(&[opened_before_kinds_were_recorded()]);
    assert_eq!(state.screening_due_at(), Some(SCREENING_DUE));
    assert_eq!(
        missed_deadlines(&state, SCREENING_DUE),
        vec![Command::MarkScreeningDeadlineMissed]
    );
}

#[test]
fn the_days_of_the_screening_deadline_are_days_in_rome() {
    // 23:30 UTC on 2 March is 00:30 on 3 March in Rome: the seven days run
    // from 3 March and end at midnight between 10 and 11 March in Rome.
    let state = given(&[Event::CaseOpened(OpenCase {
        arrived_at: datetime!(2026-03-02 23:30 UTC),
        opened_at: Some(datetime!(2026-03-02 23:45 UTC)),
        ..open_case()
    })]);
    assert_eq!(
        state.screening_due_at(),
        Some(datetime!(2026-03-10 23:00 UTC))
    );
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
            due_at: 2026-03-09 23:00:00.0 +00:00:00,
            detected_at: 2026-03-09 23:00:00.0 +00:00:00,
        }"#]]
    .assert_eq(&render(outcome));
}
