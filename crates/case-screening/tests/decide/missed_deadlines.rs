//! `missed_deadlines`: which deadline commands the watcher must try, and no other.

use super::support::*;

#[test]
fn missed_deadlines_returns_exactly_the_due_commands() {
    let state = given(&[opened_with_application(APPLIED_ON)]);
    assert_eq!(missed_deadlines(&state, NOW), vec![]);
    assert_eq!(
        missed_deadlines(&state, SCREENING_DUE - Duration::NANOSECOND),
        vec![]
    );
    assert_eq!(
        missed_deadlines(&state, SCREENING_DUE),
        vec![Command::MarkScreeningDeadlineMissed]
    );
    assert_eq!(
        missed_deadlines(&state, ASSESSMENT_DUE),
        vec![
            Command::MarkScreeningDeadlineMissed,
            Command::MarkAssessmentDeadlineMissed,
        ]
    );
}

#[test]
fn missed_deadlines_leaves_out_the_met_and_the_already_marked() {
    let screened = given(&[
        opened_with_application(APPLIED_ON),
        Event::PreliminaryCheckRecorded(check(&[], NOW)),
    ]);
    assert_eq!(
        missed_deadlines(&screened, ASSESSMENT_DUE),
        vec![Command::MarkAssessmentDeadlineMissed]
    );

    let assessed = given(&[
        opened_with_application(APPLIED_ON),
        Event::AssessmentRecorded {
            assessment: assessment(&[(Category::Minor, Outcome::Confirmed)], NOW),
            reassessment: false,
            still_to_assess: vec![],
        },
    ]);
    assert_eq!(
        missed_deadlines(&assessed, ASSESSMENT_DUE),
        vec![Command::MarkScreeningDeadlineMissed]
    );

    let mut state = given(&[opened_with_application(APPLIED_ON)]);
    for command in missed_deadlines(&state, ASSESSMENT_DUE) {
        let events = when(&state, command, ASSESSMENT_DUE).expect("due");
        state = apply(state, &events);
    }
    assert!(state.screening_deadline_missed && state.assessment_deadline_missed);
    assert_eq!(
        missed_deadlines(&state, ASSESSMENT_DUE + Duration::days(100)),
        vec![]
    );
}

#[test]
fn missed_deadlines_of_a_closed_or_unknown_case_is_empty() {
    let long_after = ASSESSMENT_DUE + Duration::days(100);
    let state = given(&[opened_with_application(APPLIED_ON), closed(NOW)]);
    assert_eq!(missed_deadlines(&state, long_after), vec![]);
    assert_eq!(missed_deadlines(&given(&[]), long_after), vec![]);
}
