//! `MarkNeedAssessmentDeadlineMissed`: the watcher marks a need identified
//! after the first assessment that is not assessed within 30 calendar days
//! (in Rome) of being raised.

use super::support::*;

const RAISED: OffsetDateTime = datetime!(2026-03-20 10:00 UTC);
const NEED_DUE: OffsetDateTime = datetime!(2026-04-19 22:00 UTC);

fn with_a_late_need() -> State {
    given(&[
        opened_with_application(APPLIED_ON),
        Event::PreliminaryCheckRecorded(check(&[Category::Torture], ARRIVAL)),
        assessed(&[(Category::Torture, Outcome::Confirmed)], NOW),
        Event::VulnerabilitySignalRaised(signal(Category::MentalHealth, RAISED)),
        Event::NeedIdentifiedAfterAssessment {
            category: Category::MentalHealth,
            raised_at: RAISED,
            due_at: NEED_DUE,
        },
    ])
}

fn mark(raised_at: OffsetDateTime) -> Command {
    Command::MarkNeedAssessmentDeadlineMissed {
        category: Category::MentalHealth,
        raised_at,
    }
}

#[test]
fn the_need_is_due_thirty_days_after_the_day_it_was_raised() {
    assert_eq!(case_screening::need_assessment_due_at(RAISED), NEED_DUE);
    assert_eq!(
        when(
            &with_a_late_need(),
            mark(RAISED),
            NEED_DUE - Duration::NANOSECOND
        ),
        Err(ScreeningError::DeadlineNotMissed)
    );
    assert_eq!(
        when(&with_a_late_need(), mark(RAISED), NEED_DUE),
        Ok(vec![Event::NeedAssessmentDeadlineMissed {
            category: Category::MentalHealth,
            raised_at: RAISED,
            due_at: NEED_DUE,
            detected_at: NEED_DUE,
        }])
    );
}

#[test]
fn a_need_is_marked_once_and_not_once_assessed() {
    let state = with_a_late_need();
    let events = when(&state, mark(RAISED), NEED_DUE).expect("missed");
    let marked = apply(state.clone(), &events);
    assert_eq!(
        when(&marked, mark(RAISED), NEED_DUE + Duration::DAY),
        Err(ScreeningError::DeadlineNotMissed)
    );
    assert_eq!(missed_deadlines(&marked, NEED_DUE + Duration::DAY), vec![]);
    let assessed = apply(
        state,
        &[Event::AssessmentRecorded {
            assessment: assessment(&[(Category::MentalHealth, Outcome::RuledOut)], NOW),
            reassessment: true,
            still_to_assess: vec![],
        }],
    );
    assert_eq!(
        when(&assessed, mark(RAISED), NEED_DUE),
        Err(ScreeningError::DeadlineNotMissed)
    );
}

#[test]
fn the_command_names_the_raise_it_marks() {
    assert_eq!(
        when(
            &with_a_late_need(),
            mark(RAISED + Duration::SECOND),
            NEED_DUE
        ),
        Err(ScreeningError::DeadlineNotMissed)
    );
    let other = Command::MarkNeedAssessmentDeadlineMissed {
        category: Category::Torture,
        raised_at: RAISED,
    };
    assert_eq!(
        when(&with_a_late_need(), other, NEED_DUE),
        Err(ScreeningError::DeadlineNotMissed)
    );
}

#[test]
fn a_need_raised_again_after_being_ruled_out_has_a_deadline_of_its_own() {
    let ruled_out_at = RAISED + Duration::days(2);
    let raised_again = RAISED + Duration::days(40);
    let mut state = apply(
        with_a_late_need(),
        &[Event::AssessmentRecorded {
            assessment: assessment(&[(Category::MentalHealth, Outcome::RuledOut)], ruled_out_at),
            reassessment: true,
            still_to_assess: vec![],
        }],
    );
    let events = when(
        &state,
        Command::RaiseSignal(signal(Category::MentalHealth, raised_again)),
        raised_again,
    )
    .expect("raised");
    state = apply(state, &events);
    let due = limit_ends(date_in_rome(raised_again), 30);
    assert_eq!(missed_deadlines(&state, due - Duration::NANOSECOND), vec![]);
    assert_eq!(missed_deadlines(&state, due), vec![mark(raised_again)]);
}

#[test]
fn snapshot_of_a_need_assessment_deadline_missed() {
    let outcome = when(&with_a_late_need(), mark(RAISED), NEED_DUE + Duration::HOUR);
    expect![[r#"
        NeedAssessmentDeadlineMissed {
            category: MentalHealth,
            raised_at: 2026-03-20 10:00:00.0 +00:00:00,
            due_at: 2026-04-19 22:00:00.0 +00:00:00,
            detected_at: 2026-04-19 23:00:00.0 +00:00:00,
        }"#]]
    .assert_eq(&render(outcome));
}
