//! `RaiseSignal`: a suspected vulnerability signalled after screening, including disclosures of gender-based violence.

use super::support::*;

#[test]
fn signal_is_raised() {
    let raised = signal(Category::Trafficking, NOW);
    assert_eq!(
        when(
            &given(&[opened()]),
            Command::RaiseSignal(raised.clone()),
            NOW
        ),
        Ok(vec![Event::VulnerabilitySignalRaised(raised)])
    );
}

#[test]
fn signals_on_the_same_category_may_be_raised_again() {
    let state = given(&[
        opened(),
        Event::VulnerabilitySignalRaised(signal(Category::Trafficking, ARRIVAL)),
    ]);
    let raised = signal(Category::Trafficking, NOW);
    assert_eq!(
        when(&state, Command::RaiseSignal(raised.clone()), NOW),
        Ok(vec![Event::VulnerabilitySignalRaised(raised)])
    );
}

#[test]
fn signal_on_a_case_not_opened_is_case_not_found() {
    assert_eq!(
        when(
            &given(&[]),
            Command::RaiseSignal(signal(Category::Minor, NOW)),
            NOW
        ),
        Err(ScreeningError::CaseNotFound)
    );
}

#[test]
fn signal_on_a_closed_case_is_case_closed() {
    assert_eq!(
        when(
            &given(&[opened(), closed(NOW)]),
            Command::RaiseSignal(signal(Category::Minor, NOW)),
            NOW
        ),
        Err(ScreeningError::CaseClosed)
    );
}

#[test]
fn signal_in_the_future_is_invalid() {
    assert_invalid(
        when(
            &given(&[opened()]),
            Command::RaiseSignal(signal(Category::Minor, NOW + Duration::NANOSECOND)),
            NOW,
        ),
        "raised_at",
    );
}

#[test]
fn signal_before_arrival_is_invalid() {
    assert_invalid(
        when(
            &given(&[opened()]),
            Command::RaiseSignal(signal(Category::Minor, ARRIVAL - Duration::NANOSECOND)),
            NOW,
        ),
        "raised_at",
    );
}

#[test]
fn gbv_disclosure_is_accepted_for_every_gender_based_category() {
    for category in [
        Category::Gbv,
        Category::Fgm,
        Category::ForcedMarriage,
        Category::HateViolence,
    ] {
        let raised = gbv_disclosure(category, NOW);
        assert_eq!(
            when(
                &given(&[opened()]),
                Command::RaiseSignal(raised.clone()),
                NOW
            ),
            Ok(vec![Event::VulnerabilitySignalRaised(raised)]),
            "{category}"
        );
    }
}

#[test]
fn gbv_disclosure_with_a_category_not_gender_based_is_invalid() {
    let not_gender_based: Vec<Category> = Category::ALL
        .iter()
        .copied()
        .filter(|c| !is_gender_based(*c))
        .collect();
    assert_eq!(not_gender_based.len(), Category::ALL.len() - 4);
    for category in not_gender_based {
        assert_invalid(
            when(
                &given(&[opened()]),
                Command::RaiseSignal(gbv_disclosure(category, NOW)),
                NOW,
            ),
            "suspected.category",
        );
        // The same signal without a disclosure is fine.
        assert!(
            when(
                &given(&[opened()]),
                Command::RaiseSignal(signal(category, NOW)),
                NOW
            )
            .is_ok(),
            "{category}"
        );
    }
}

#[test]
fn snapshot_of_a_gbv_disclosure() {
    let outcome = when(
        &given(&[opened()]),
        Command::RaiseSignal(gbv_disclosure(Category::Gbv, NOW)),
        NOW,
    );
    expect![[r#"
        VulnerabilitySignalRaised(
            Signal {
                suspected: Suspicion {
                    category: Gbv,
                    indicators: [
                        Code(
                            "visible_injury",
                        ),
                    ],
                    other_need: None,
                },
                urgency: Immediate,
                raised_by_role: Code(
                    "social_worker",
                ),
                raised_by_organisation: "cas-agrigento",
                raised_at: 2026-03-04 12:00:00.0 +00:00:00,
                gbv_disclosure: true,
            },
        )"#]]
    .assert_eq(&render(outcome));
}

#[test]
fn a_signal_after_the_first_assessment_identifies_a_need_with_its_own_deadline() {
    let state = given(&[
        opened_with_application(APPLIED_ON),
        Event::PreliminaryCheckRecorded(check(&[Category::Torture], ARRIVAL)),
        assessed(&[(Category::Torture, Outcome::Confirmed)], NOW),
    ]);
    // Raised on 20 April at 23:30 in Rome (21:30 UTC): 30 days from 20 April.
    let raised_at = datetime!(2026-04-20 21:30 UTC);
    let raised = signal(Category::Pregnant, raised_at);
    let events = when(&state, Command::RaiseSignal(raised.clone()), raised_at).expect("raised");
    let due_at = datetime!(2026-05-20 22:00 UTC);
    assert_eq!(
        events,
        [
            Event::VulnerabilitySignalRaised(raised),
            Event::NeedIdentifiedAfterAssessment {
                category: Category::Pregnant,
                raised_at,
                due_at,
            }
        ]
    );
    let state = apply(state, &events);
    assert_eq!(
        missed_deadlines(&state, due_at - Duration::NANOSECOND),
        vec![]
    );
    assert_eq!(
        missed_deadlines(&state, due_at),
        vec![Command::MarkNeedAssessmentDeadlineMissed {
            category: Category::Pregnant,
            raised_at
        }]
    );
}

#[test]
fn a_signal_identifies_no_new_need_for_a_confirmed_or_still_suspected_category() {
    let state = given(&[
        opened(),
        Event::VulnerabilitySignalRaised(signal(Category::Minor, ARRIVAL)),
        Event::AssessmentRecorded {
            assessment: assessment(&[(Category::Torture, Outcome::Confirmed)], ARRIVAL),
            reassessment: false,
            still_to_assess: vec![Category::Minor],
        },
    ]);
    for category in [Category::Torture, Category::Minor] {
        let raised = signal(category, NOW);
        assert_eq!(
            when(&state, Command::RaiseSignal(raised.clone()), NOW),
            Ok(vec![Event::VulnerabilitySignalRaised(raised)]),
            "{category}"
        );
    }
}

#[test]
fn a_ruled_out_category_signalled_again_is_a_need_identified_later() {
    let state = given(&[
        opened(),
        assessed(&[(Category::Gbv, Outcome::RuledOut)], ARRIVAL),
    ]);
    let events = when(
        &state,
        Command::RaiseSignal(gbv_disclosure(Category::Gbv, NOW)),
        NOW,
    )
    .expect("raised");
    assert!(matches!(
        events.as_slice(),
        [
            Event::VulnerabilitySignalRaised(_),
            Event::NeedIdentifiedAfterAssessment {
                category: Category::Gbv,
                ..
            }
        ]
    ));
}

#[test]
fn before_any_assessment_a_signal_is_part_of_the_assessment() {
    let raised = signal(Category::Pregnant, NOW);
    assert_eq!(
        when(
            &given(&[opened_with_application(APPLIED_ON)]),
            Command::RaiseSignal(raised.clone()),
            NOW
        ),
        Ok(vec![Event::VulnerabilitySignalRaised(raised)])
    );
}

#[test]
fn a_signal_of_other_carries_a_code_and_no_other_category_does() {
    let state = given(&[opened()]);
    assert!(
        when(
            &state,
            Command::RaiseSignal(signal(Category::Other, NOW)),
            NOW
        )
        .is_ok()
    );
    let mut without = signal(Category::Other, NOW);
    without.suspected.other_need = None;
    assert_invalid(
        when(&state, Command::RaiseSignal(without), NOW),
        "suspected.other_need",
    );
    let mut with = signal(Category::Torture, NOW);
    with.suspected.other_need = Some(code("substance_dependence"));
    assert_invalid(
        when(&state, Command::RaiseSignal(with), NOW),
        "suspected.other_need",
    );
}
