//! `State::evolve`: what each event does to the screening record.

use super::support::*;

#[test]
fn a_preliminary_check_makes_its_categories_suspected() {
    let state = given(&[
        opened(),
        Event::PreliminaryCheckRecorded(check(&[Category::Pregnant, Category::Torture], NOW)),
    ]);
    assert_eq!(state.preliminary_check_at, Some(NOW));
    assert_eq!(
        state.categories.into_iter().collect::<Vec<_>>(),
        vec![
            (Category::Pregnant, CategoryStatus::Suspected),
            (Category::Torture, CategoryStatus::Suspected),
        ]
    );
}

#[test]
fn a_signal_makes_its_category_suspected() {
    let state = given(&[
        opened(),
        Event::VulnerabilitySignalRaised(signal(Category::Trafficking, NOW)),
    ]);
    assert_eq!(
        state.categories.into_iter().collect::<Vec<_>>(),
        vec![(Category::Trafficking, CategoryStatus::Suspected)]
    );
}

#[test]
fn a_ruled_out_category_becomes_suspected_again_on_a_new_signal() {
    let ruled_out = [
        opened(),
        Event::AssessmentRecorded {
            assessment: assessment(&[(Category::Trafficking, Outcome::RuledOut)], ARRIVAL),
            reassessment: false,
            still_to_assess: vec![],
        },
    ];
    assert_eq!(
        given(&ruled_out).categories.get(&Category::Trafficking),
        Some(&CategoryStatus::RuledOut)
    );
    let state = apply(
        given(&ruled_out),
        &[Event::VulnerabilitySignalRaised(signal(
            Category::Trafficking,
            NOW,
        ))],
    );
    assert_eq!(
        state.categories.get(&Category::Trafficking),
        Some(&CategoryStatus::Suspected)
    );
}

#[test]
fn a_ruled_out_category_becomes_suspected_again_on_a_later_preliminary_check() {
    let state = given(&[
        opened(),
        Event::AssessmentRecorded {
            assessment: assessment(&[(Category::Pregnant, Outcome::RuledOut)], ARRIVAL),
            reassessment: false,
            still_to_assess: vec![],
        },
        Event::PreliminaryCheckRecorded(check(&[Category::Pregnant], NOW)),
    ]);
    assert_eq!(
        state.categories.get(&Category::Pregnant),
        Some(&CategoryStatus::Suspected)
    );
}

#[test]
fn a_confirmed_category_stays_confirmed_on_a_new_signal() {
    let state = given(&[
        opened(),
        Event::AssessmentRecorded {
            assessment: assessment(&[(Category::Torture, Outcome::Confirmed)], ARRIVAL),
            reassessment: false,
            still_to_assess: vec![],
        },
        Event::VulnerabilitySignalRaised(signal(Category::Torture, NOW)),
        Event::PreliminaryCheckRecorded(check(&[Category::Torture], NOW)),
    ]);
    assert_eq!(
        state.categories.get(&Category::Torture),
        Some(&CategoryStatus::Confirmed)
    );
}

#[test]
fn an_assessment_sets_the_statuses_and_its_time() {
    let state = given(&[
        opened(),
        Event::VulnerabilitySignalRaised(signal(Category::Torture, ARRIVAL)),
        Event::VulnerabilitySignalRaised(signal(Category::Minor, ARRIVAL)),
        Event::AssessmentRecorded {
            assessment: assessment(
                &[
                    (Category::Torture, Outcome::Confirmed),
                    (Category::Elderly, Outcome::RuledOut),
                ],
                NOW,
            ),
            reassessment: false,
            still_to_assess: vec![Category::Minor],
        },
    ]);
    assert_eq!(state.last_assessment_at, Some(NOW));
    // MINOR is still suspected: the assessment is not completed.
    assert!(!state.assessment_completed());
    assert_eq!(state.assessment_completed_at, None);
    assert_eq!(
        state.categories.into_iter().collect::<Vec<_>>(),
        vec![
            (Category::Minor, CategoryStatus::Suspected),
            (Category::Elderly, CategoryStatus::RuledOut),
            (Category::Torture, CategoryStatus::Confirmed),
        ]
    );
}

#[test]
fn the_latest_placement_is_the_current_one() {
    let first = placement("cas-agrigento-1", ARRIVAL + Duration::DAY);
    let second = placement("sai-roma-3", NOW);
    assert_eq!(given(&[opened()]).placement, None);
    let state = given(&[opened(), Event::CasePlaced(first.clone())]);
    assert_eq!(state.placement, Some(first));
    let state = apply(state, &[Event::CasePlaced(second.clone())]);
    assert_eq!(state.placement, Some(second));
}

#[test]
fn deadline_events_set_their_flags() {
    let state = given(&[
        opened_with_application(APPLIED_ON),
        Event::ScreeningDeadlineMissed {
            due_at: SCREENING_DUE,
            detected_at: SCREENING_DUE,
        },
    ]);
    assert!(state.screening_deadline_missed);
    assert!(!state.assessment_deadline_missed);
    let state = apply(
        state,
        &[Event::AssessmentDeadlineMissed {
            due_at: ASSESSMENT_DUE,
            detected_at: ASSESSMENT_DUE,
        }],
    );
    assert!(state.assessment_deadline_missed);
}

#[test]
fn the_assessment_is_completed_by_the_first_assessment_that_leaves_nothing_to_assess() {
    let state = given(&[
        opened(),
        Event::VulnerabilitySignalRaised(signal(Category::Torture, ARRIVAL)),
        Event::VulnerabilitySignalRaised(signal(Category::Minor, ARRIVAL)),
        Event::AssessmentRecorded {
            assessment: assessment(&[(Category::Torture, Outcome::Confirmed)], NOW),
            reassessment: false,
            still_to_assess: vec![Category::Minor],
        },
    ]);
    let later = NOW + Duration::DAY;
    let state = apply(
        state,
        &[Event::AssessmentRecorded {
            assessment: assessment(&[(Category::Minor, Outcome::RuledOut)], later),
            reassessment: true,
            still_to_assess: vec![],
        }],
    );
    assert_eq!(state.assessment_completed_at, Some(later));
    // A reassessment after the completion does not move it.
    let state = apply(
        state,
        &[Event::AssessmentRecorded {
            assessment: assessment(
                &[(Category::Torture, Outcome::RuledOut)],
                later + Duration::DAY,
            ),
            reassessment: true,
            still_to_assess: vec![],
        }],
    );
    assert_eq!(state.assessment_completed_at, Some(later));
}

#[test]
fn an_assessment_recorded_before_still_to_assess_existed_completes_the_assessment() {
    // Old events decode with an empty list: any first assessment completed it, as before.
    let state = given(&[
        opened_with_application(APPLIED_ON),
        Event::VulnerabilitySignalRaised(signal(Category::Minor, ARRIVAL)),
        assessed(&[(Category::Torture, Outcome::Confirmed)], NOW),
    ]);
    assert!(state.assessment_completed());
    assert_eq!(
        missed_deadlines(&state, ASSESSMENT_DUE + Duration::days(10)),
        vec![Command::MarkScreeningDeadlineMissed]
    );
}

#[test]
fn the_urgency_is_raised_by_checks_and_signals_and_set_by_assessments() {
    let state = given(&[opened()]);
    assert_eq!(state.urgency.current(), None);
    let state = apply(
        state,
        &[
            Event::PreliminaryCheckRecorded(check(&[Category::Torture], ARRIVAL)),
            Event::VulnerabilitySignalRaised(gbv_disclosure(Category::Gbv, NOW)),
            Event::VulnerabilitySignalRaised(signal(Category::Minor, NOW)),
        ],
    );
    // High, then immediate; a standard signal after does not lower it.
    assert_eq!(state.urgency.current(), Some(Urgency::Immediate));
    let state = apply(
        state,
        &[Event::AssessmentRecorded {
            assessment: Assessment {
                urgency: Some(Urgency::Standard),
                ..assessment(&[(Category::Gbv, Outcome::Confirmed)], NOW)
            },
            reassessment: false,
            still_to_assess: vec![Category::Minor, Category::Torture],
        }],
    );
    assert_eq!(state.urgency.current(), Some(Urgency::Standard));
    // An assessment that says nothing about urgency leaves it.
    let state = apply(
        state,
        &[Event::AssessmentRecorded {
            assessment: assessment(&[(Category::Minor, Outcome::RuledOut)], NOW),
            reassessment: true,
            still_to_assess: vec![Category::Torture],
        }],
    );
    assert_eq!(state.urgency.current(), Some(Urgency::Standard));
    let state = apply(
        state,
        &[Event::VulnerabilitySignalRaised(signal(
            Category::Pregnant,
            NOW,
        ))],
    );
    assert_eq!(state.urgency.current(), Some(Urgency::Standard));
}

#[test]
fn a_need_identified_after_the_assessment_is_pending_until_assessed() {
    let due_at = limit_ends(date_in_rome(NOW), 30);
    let state = given(&[
        opened(),
        assessed(&[(Category::Torture, Outcome::Confirmed)], ARRIVAL),
        Event::VulnerabilitySignalRaised(signal(Category::Pregnant, NOW)),
        Event::NeedIdentifiedAfterAssessment {
            category: Category::Pregnant,
            raised_at: NOW,
            due_at,
        },
    ]);
    assert_eq!(
        state.late_needs.get(&Category::Pregnant),
        Some(&LateNeed {
            raised_at: NOW,
            due_at,
            deadline_missed: false
        })
    );
    let state = apply(
        state,
        &[Event::NeedAssessmentDeadlineMissed {
            category: Category::Pregnant,
            raised_at: NOW,
            due_at,
            detected_at: due_at,
        }],
    );
    assert!(state.late_needs[&Category::Pregnant].deadline_missed);
    let state = apply(
        state,
        &[Event::AssessmentRecorded {
            assessment: assessment(&[(Category::Pregnant, Outcome::Confirmed)], due_at),
            reassessment: true,
            still_to_assess: vec![],
        }],
    );
    assert!(state.late_needs.is_empty());
}

#[test]
fn a_formal_identification_makes_the_presumed_category_formally_identified() {
    let state = given(&[
        opened(),
        Event::VulnerabilitySignalRaised(signal(Category::Trafficking, ARRIVAL)),
    ]);
    assert_eq!(state.identification(Category::Trafficking), None);
    let state = apply(
        state,
        &[assessed(
            &[(Category::Trafficking, Outcome::Confirmed)],
            NOW,
        )],
    );
    assert_eq!(
        state.identification(Category::Trafficking),
        Some(Identification::Presumed)
    );
    let state = apply(
        state,
        &[Event::FormalIdentificationRecorded(identification(NOW))],
    );
    assert_eq!(
        state.identification(Category::Trafficking),
        Some(Identification::FormallyIdentified)
    );
    // Only trafficking has a formal identification.
    let state = apply(
        state,
        &[assessed(&[(Category::Torture, Outcome::Confirmed)], NOW)],
    );
    assert_eq!(state.identification(Category::Torture), None);
}
