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
        },
    ]);
    assert_eq!(state.last_assessment_at, Some(NOW));
    assert!(state.assessment_done());
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
