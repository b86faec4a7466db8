//! `RecordAssessment`: the assessment of special reception needs,
//! reassessments, completion (every category suspected before the first
//! assessment confirmed or ruled out), urgency set by an assessment, needs
//! identified later, `OTHER` with its code, and the missed deadlines a late
//! assessment records with it.

use super::support::*;

#[test]
fn first_assessment_is_recorded_as_not_a_reassessment() {
    let state = given(&[
        opened(),
        Event::VulnerabilitySignalRaised(signal(Category::Torture, ARRIVAL)),
    ]);
    let assessed = assessment(
        &[
            (Category::Torture, Outcome::Confirmed),
            (Category::Pregnant, Outcome::RuledOut),
        ],
        NOW,
    );
    assert_eq!(
        when(&state, Command::RecordAssessment(assessed.clone()), NOW),
        Ok(vec![Event::AssessmentRecorded {
            assessment: assessed,
            reassessment: false,
            still_to_assess: vec![],
        }])
    );
}

#[test]
fn second_assessment_is_a_reassessment() {
    let state = given(&[
        opened(),
        Event::AssessmentRecorded {
            assessment: assessment(&[(Category::Torture, Outcome::Confirmed)], ARRIVAL),
            reassessment: false,
            still_to_assess: vec![],
        },
    ]);
    let assessed = assessment(&[(Category::MentalHealth, Outcome::Confirmed)], NOW);
    assert_eq!(
        when(&state, Command::RecordAssessment(assessed.clone()), NOW),
        Ok(vec![Event::AssessmentRecorded {
            assessment: assessed,
            reassessment: true,
            still_to_assess: vec![],
        }])
    );
}

#[test]
fn assessment_without_outcomes_but_with_a_special_need_is_accepted() {
    for (reception, procedural) in [(true, false), (false, true), (true, true)] {
        let assessed = Assessment {
            special_reception_needs: reception,
            special_procedural_guarantees: procedural,
            ..assessment(&[], NOW)
        };
        assert_eq!(
            when(
                &given(&[opened()]),
                Command::RecordAssessment(assessed.clone()),
                NOW
            ),
            Ok(vec![Event::AssessmentRecorded {
                assessment: assessed,
                reassessment: false,
                still_to_assess: vec![],
            }])
        );
    }
}

#[test]
fn assessment_on_a_case_not_opened_is_case_not_found() {
    assert_eq!(
        when(
            &given(&[]),
            Command::RecordAssessment(assessment(&[(Category::Minor, Outcome::Confirmed)], NOW)),
            NOW
        ),
        Err(ScreeningError::CaseNotFound)
    );
}

#[test]
fn assessment_on_a_closed_case_is_case_closed() {
    assert_eq!(
        when(
            &given(&[opened(), closed(NOW)]),
            Command::RecordAssessment(assessment(&[(Category::Minor, Outcome::Confirmed)], NOW)),
            NOW
        ),
        Err(ScreeningError::CaseClosed)
    );
}

#[test]
fn assessment_in_the_future_is_invalid() {
    assert_invalid(
        when(
            &given(&[opened()]),
            Command::RecordAssessment(assessment(
                &[(Category::Minor, Outcome::Confirmed)],
                NOW + Duration::NANOSECOND,
            )),
            NOW,
        ),
        "assessed_at",
    );
}

#[test]
fn assessment_before_arrival_is_invalid() {
    assert_invalid(
        when(
            &given(&[opened()]),
            Command::RecordAssessment(assessment(
                &[(Category::Minor, Outcome::Confirmed)],
                ARRIVAL - Duration::NANOSECOND,
            )),
            NOW,
        ),
        "assessed_at",
    );
}

#[test]
fn assessment_dated_before_the_application_date_is_invalid() {
    let outcomes = [(Category::Minor, Outcome::Confirmed)];
    // Days in Rome: 4 March starts at 23:00 UTC on 3 March (CET).
    let application_day = date!(2026 - 03 - 04);
    let last_instant_before = datetime!(2026-03-03 22:59:59.999999999 UTC);
    let first_instant_of = datetime!(2026-03-03 23:00 UTC);
    // The application date known from the opening or recorded later: the same rule.
    for history in [
        vec![opened_with_application(application_day)],
        vec![
            opened(),
            Event::ApplicationRecorded {
                application_date: application_day,
            },
        ],
    ] {
        let state = given(&history);
        assert_invalid(
            when(
                &state,
                Command::RecordAssessment(assessment(&outcomes, last_instant_before)),
                NOW,
            ),
            "assessed_at",
        );
        assert!(
            when(
                &state,
                Command::RecordAssessment(assessment(&outcomes, first_instant_of)),
                NOW
            )
            .is_ok(),
            "an assessment on the day of the application is on time"
        );
    }
}

#[test]
fn assessment_that_concludes_nothing_is_invalid() {
    assert_invalid(
        when(
            &given(&[opened()]),
            Command::RecordAssessment(assessment(&[], NOW)),
            NOW,
        ),
        "outcomes",
    );
}

#[test]
fn assessment_listing_a_category_twice_is_invalid() {
    // Twice even with different outcomes.
    let outcomes = [
        (Category::Torture, Outcome::Confirmed),
        (Category::Torture, Outcome::RuledOut),
    ];
    assert_invalid(
        when(
            &given(&[opened()]),
            Command::RecordAssessment(assessment(&outcomes, NOW)),
            NOW,
        ),
        "outcomes[1].category",
    );
}

#[test]
fn confirming_a_confirmed_category_is_refused() {
    let state = given(&[
        opened(),
        Event::AssessmentRecorded {
            assessment: assessment(&[(Category::Torture, Outcome::Confirmed)], ARRIVAL),
            reassessment: false,
            still_to_assess: vec![],
        },
    ]);
    let outcomes = [
        (Category::MentalHealth, Outcome::Confirmed),
        (Category::Torture, Outcome::Confirmed),
    ];
    assert_eq!(
        when(
            &state,
            Command::RecordAssessment(assessment(&outcomes, NOW)),
            NOW
        ),
        Err(ScreeningError::CategoryAlreadyInStatus)
    );
}

#[test]
fn ruling_out_a_ruled_out_category_is_refused() {
    let state = given(&[
        opened(),
        Event::AssessmentRecorded {
            assessment: assessment(&[(Category::Trafficking, Outcome::RuledOut)], ARRIVAL),
            reassessment: false,
            still_to_assess: vec![],
        },
    ]);
    assert_eq!(
        when(
            &state,
            Command::RecordAssessment(assessment(
                &[(Category::Trafficking, Outcome::RuledOut)],
                NOW
            )),
            NOW
        ),
        Err(ScreeningError::CategoryAlreadyInStatus)
    );
}

#[test]
fn a_category_may_change_status_between_assessments() {
    let state = given(&[
        opened(),
        Event::AssessmentRecorded {
            assessment: assessment(
                &[
                    (Category::Trafficking, Outcome::RuledOut),
                    (Category::Torture, Outcome::Confirmed),
                ],
                ARRIVAL,
            ),
            reassessment: false,
            still_to_assess: vec![],
        },
    ]);
    let assessed = assessment(
        &[
            (Category::Trafficking, Outcome::Confirmed),
            (Category::Torture, Outcome::RuledOut),
        ],
        NOW,
    );
    let events = when(&state, Command::RecordAssessment(assessed.clone()), NOW).expect("accepted");
    assert_eq!(
        events,
        vec![Event::AssessmentRecorded {
            assessment: assessed,
            reassessment: true,
            still_to_assess: vec![],
        }]
    );
    let state = apply(state, &events);
    assert_eq!(
        state.categories.get(&Category::Trafficking),
        Some(&CategoryStatus::Confirmed)
    );
    assert_eq!(
        state.categories.get(&Category::Torture),
        Some(&CategoryStatus::RuledOut)
    );
}

#[test]
fn a_ruled_out_category_suspected_again_may_be_ruled_out_again() {
    let state = given(&[
        opened(),
        Event::AssessmentRecorded {
            assessment: assessment(&[(Category::Gbv, Outcome::RuledOut)], ARRIVAL),
            reassessment: false,
            still_to_assess: vec![],
        },
        Event::VulnerabilitySignalRaised(gbv_disclosure(Category::Gbv, NOW)),
    ]);
    assert!(
        when(
            &state,
            Command::RecordAssessment(assessment(&[(Category::Gbv, Outcome::RuledOut)], NOW)),
            NOW
        )
        .is_ok()
    );
}

#[test]
fn a_confirmed_category_signalled_again_cannot_be_confirmed_again() {
    let state = given(&[
        opened(),
        Event::AssessmentRecorded {
            assessment: assessment(&[(Category::Gbv, Outcome::Confirmed)], ARRIVAL),
            reassessment: false,
            still_to_assess: vec![],
        },
        Event::VulnerabilitySignalRaised(gbv_disclosure(Category::Gbv, NOW)),
    ]);
    assert_eq!(
        when(
            &state,
            Command::RecordAssessment(assessment(&[(Category::Gbv, Outcome::Confirmed)], NOW)),
            NOW
        ),
        Err(ScreeningError::CategoryAlreadyInStatus)
    );
}

#[test]
fn an_assessment_done_after_the_assessment_deadline_records_the_miss_with_it() {
    let late = ASSESSMENT_DUE + Duration::days(1);
    let outcomes = [(Category::Gbv, Outcome::Confirmed)];
    let events = when(
        &given(&[opened_with_application(APPLIED_ON)]),
        Command::RecordAssessment(assessment(&outcomes, late)),
        late,
    )
    .expect("accepted");
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0],
        Event::AssessmentDeadlineMissed {
            due_at: ASSESSMENT_DUE,
            detected_at: late
        }
    );
    assert!(matches!(
        events[1],
        Event::AssessmentRecorded {
            reassessment: false,
            ..
        }
    ));
}

#[test]
fn a_late_reassessment_records_no_miss_when_the_first_assessment_was_on_time() {
    let first = ASSESSMENT_DUE - Duration::days(1);
    let late = ASSESSMENT_DUE + Duration::days(3);
    let state = given(&[
        opened_with_application(APPLIED_ON),
        Event::AssessmentRecorded {
            assessment: assessment(&[(Category::Gbv, Outcome::Confirmed)], first),
            reassessment: false,
            still_to_assess: vec![],
        },
    ]);
    let events = when(
        &state,
        Command::RecordAssessment(assessment(&[(Category::Gbv, Outcome::RuledOut)], late)),
        late,
    )
    .expect("accepted");
    assert!(matches!(
        events.as_slice(),
        [Event::AssessmentRecorded {
            reassessment: true,
            ..
        }]
    ));
}

#[test]
fn snapshot_of_a_late_first_assessment() {
    let outcome = when(
        &given(&[opened_with_application(APPLIED_ON)]),
        Command::RecordAssessment(assessment(
            &[(Category::Torture, Outcome::Confirmed)],
            ASSESSMENT_DUE + Duration::hours(1),
        )),
        ASSESSMENT_DUE + Duration::days(1),
    );
    expect![[r#"
        AssessmentDeadlineMissed {
            due_at: 2026-04-02 22:00:00.0 +00:00:00,
            detected_at: 2026-04-03 22:00:00.0 +00:00:00,
        }
        AssessmentRecorded {
            assessment: Assessment {
                outcomes: [
                    (
                        Torture,
                        Confirmed,
                    ),
                ],
                special_reception_needs: false,
                special_procedural_guarantees: false,
                assessed_at: 2026-04-02 23:00:00.0 +00:00:00,
                assessor_role: Code(
                    "psychologist",
                ),
                urgency: None,
                other_need: None,
            },
            reassessment: false,
            still_to_assess: [],
        }"#]]
    .assert_eq(&render(outcome));
}

#[test]
fn an_assessment_that_leaves_a_suspected_category_does_not_complete_the_assessment() {
    let state = given(&[
        opened_with_application(APPLIED_ON),
        Event::VulnerabilitySignalRaised(signal(Category::Torture, ARRIVAL)),
        Event::VulnerabilitySignalRaised(signal(Category::Minor, ARRIVAL)),
    ]);
    let events = when(
        &state,
        Command::RecordAssessment(assessment(&[(Category::Torture, Outcome::Confirmed)], NOW)),
        NOW,
    )
    .expect("accepted");
    assert!(matches!(
        events.as_slice(),
        [Event::AssessmentRecorded { still_to_assess, .. }] if *still_to_assess == [Category::Minor]
    ));
    let state = apply(state, &events);
    assert!(!state.assessment_completed());
    // The deadline passes with MINOR neither confirmed nor ruled out: missed.
    assert_eq!(
        missed_deadlines(&state, ASSESSMENT_DUE),
        vec![
            Command::MarkScreeningDeadlineMissed,
            Command::MarkAssessmentDeadlineMissed
        ]
    );
    // Ruling MINOR out completes it.
    let done = NOW + Duration::days(2);
    let events = when(
        &state,
        Command::RecordAssessment(assessment(&[(Category::Minor, Outcome::RuledOut)], done)),
        done,
    )
    .expect("accepted");
    let state = apply(state, &events);
    assert_eq!(state.assessment_completed_at, Some(done));
    assert_eq!(
        missed_deadlines(&state, ASSESSMENT_DUE),
        vec![Command::MarkScreeningDeadlineMissed]
    );
}

#[test]
fn the_assessment_completed_after_its_deadline_records_the_miss_with_it() {
    let state = given(&[
        opened_with_application(APPLIED_ON),
        Event::VulnerabilitySignalRaised(signal(Category::Torture, ARRIVAL)),
        Event::VulnerabilitySignalRaised(signal(Category::Minor, ARRIVAL)),
        Event::AssessmentRecorded {
            assessment: assessment(&[(Category::Torture, Outcome::Confirmed)], NOW),
            reassessment: false,
            still_to_assess: vec![Category::Minor],
        },
    ]);
    // A reassessment, but the assessment is still not completed: the miss is recorded.
    let late = ASSESSMENT_DUE + Duration::hours(1);
    let events = when(
        &state,
        Command::RecordAssessment(assessment(&[(Category::Minor, Outcome::RuledOut)], late)),
        late,
    )
    .expect("accepted");
    assert_eq!(
        events[0],
        Event::AssessmentDeadlineMissed {
            due_at: ASSESSMENT_DUE,
            detected_at: late
        }
    );
    assert!(matches!(
        &events[1],
        Event::AssessmentRecorded { reassessment: true, still_to_assess, .. } if still_to_assess.is_empty()
    ));
}

#[test]
fn a_need_identified_after_the_first_assessment_does_not_hold_up_its_completion() {
    let state = given(&[
        opened_with_application(APPLIED_ON),
        Event::VulnerabilitySignalRaised(signal(Category::Torture, ARRIVAL)),
        Event::VulnerabilitySignalRaised(signal(Category::Minor, ARRIVAL)),
        Event::AssessmentRecorded {
            assessment: assessment(&[(Category::Torture, Outcome::Confirmed)], NOW),
            reassessment: false,
            still_to_assess: vec![Category::Minor],
        },
    ]);
    let raised = NOW + Duration::DAY;
    let events = when(
        &state,
        Command::RaiseSignal(signal(Category::Pregnant, raised)),
        raised,
    )
    .expect("raised");
    let state = apply(state, &events);
    let done = raised + Duration::DAY;
    let events = when(
        &state,
        Command::RecordAssessment(assessment(&[(Category::Minor, Outcome::RuledOut)], done)),
        done,
    )
    .expect("accepted");
    assert!(matches!(
        events.as_slice(),
        [Event::AssessmentRecorded { still_to_assess, .. }] if still_to_assess.is_empty()
    ));
    let state = apply(state, &events);
    assert_eq!(state.assessment_completed_at, Some(done));
    assert!(state.late_needs.contains_key(&Category::Pregnant));
}

#[test]
fn a_need_assessed_after_its_own_deadline_records_the_miss_with_it() {
    let raised = NOW;
    let due_at = limit_ends(date_in_rome(raised), 30);
    let state = given(&[
        opened(),
        assessed(&[(Category::Torture, Outcome::Confirmed)], ARRIVAL),
        Event::VulnerabilitySignalRaised(signal(Category::Pregnant, raised)),
        Event::NeedIdentifiedAfterAssessment {
            category: Category::Pregnant,
            raised_at: raised,
            due_at,
        },
    ]);
    let late = due_at + Duration::DAY;
    let events = when(
        &state,
        Command::RecordAssessment(assessment(
            &[(Category::Pregnant, Outcome::Confirmed)],
            late,
        )),
        late,
    )
    .expect("accepted");
    assert_eq!(
        events[0],
        Event::NeedAssessmentDeadlineMissed {
            category: Category::Pregnant,
            raised_at: raised,
            due_at,
            detected_at: late,
        }
    );
    assert!(matches!(
        events[1],
        Event::AssessmentRecorded {
            reassessment: true,
            ..
        }
    ));
    // On time (or marked by the watcher already): nothing more.
    let on_time = due_at - Duration::DAY;
    let events = when(
        &state,
        Command::RecordAssessment(assessment(
            &[(Category::Pregnant, Outcome::RuledOut)],
            on_time,
        )),
        late,
    )
    .expect("accepted");
    assert!(matches!(
        events.as_slice(),
        [Event::AssessmentRecorded { .. }]
    ));
    let marked = apply(
        state.clone(),
        &[Event::NeedAssessmentDeadlineMissed {
            category: Category::Pregnant,
            raised_at: raised,
            due_at,
            detected_at: due_at,
        }],
    );
    let events = when(
        &marked,
        Command::RecordAssessment(assessment(
            &[(Category::Pregnant, Outcome::Confirmed)],
            late,
        )),
        late,
    )
    .expect("accepted");
    assert!(matches!(
        events.as_slice(),
        [Event::AssessmentRecorded { .. }]
    ));
}

#[test]
fn an_assessment_may_lower_the_urgency() {
    let state = given(&[
        opened(),
        Event::VulnerabilitySignalRaised(gbv_disclosure(Category::Gbv, ARRIVAL)),
    ]);
    assert_eq!(state.urgency.current(), Some(Urgency::Immediate));
    let lowered = Assessment {
        urgency: Some(Urgency::Standard),
        ..assessment(&[(Category::Gbv, Outcome::Confirmed)], NOW)
    };
    let events = when(&state, Command::RecordAssessment(lowered.clone()), NOW).expect("accepted");
    assert_eq!(
        events,
        [Event::AssessmentRecorded {
            assessment: lowered,
            reassessment: false,
            still_to_assess: vec![],
        }]
    );
    assert_eq!(
        apply(state, &events).urgency.current(),
        Some(Urgency::Standard)
    );
}

#[test]
fn other_is_assessed_with_a_code_and_no_other_category_carries_one() {
    let state = given(&[
        opened(),
        Event::VulnerabilitySignalRaised(signal(Category::Other, ARRIVAL)),
    ]);
    let outcomes = [
        (Category::Torture, Outcome::RuledOut),
        (Category::Other, Outcome::Confirmed),
    ];
    assert!(
        when(
            &state,
            Command::RecordAssessment(assessment(&outcomes, NOW)),
            NOW
        )
        .is_ok()
    );
    let without_code = Assessment {
        other_need: None,
        ..assessment(&outcomes, NOW)
    };
    assert_invalid(
        when(&state, Command::RecordAssessment(without_code), NOW),
        "outcomes[1].other_need",
    );
    let code_without_other = Assessment {
        other_need: Some(code("substance_dependence")),
        ..assessment(&[(Category::Torture, Outcome::RuledOut)], NOW)
    };
    assert_invalid(
        when(&state, Command::RecordAssessment(code_without_other), NOW),
        "other_need",
    );
}

#[test]
fn a_formally_identified_category_cannot_be_ruled_out() {
    let state = given(&[
        opened(),
        assessed(&[(Category::Trafficking, Outcome::Confirmed)], ARRIVAL),
        Event::FormalIdentificationRecorded(identification(NOW)),
    ]);
    assert_eq!(
        when(
            &state,
            Command::RecordAssessment(assessment(
                &[(Category::Trafficking, Outcome::RuledOut)],
                NOW
            )),
            NOW
        ),
        Err(ScreeningError::FormallyIdentified)
    );
}

#[test]
fn snapshot_of_an_assessment_that_lowers_the_urgency_and_leaves_a_category_to_assess() {
    let state = given(&[
        opened_with_application(APPLIED_ON),
        Event::PreliminaryCheckRecorded(check(&[Category::Torture, Category::Other], ARRIVAL)),
    ]);
    let outcome = when(
        &state,
        Command::RecordAssessment(Assessment {
            urgency: Some(Urgency::Standard),
            ..assessment(&[(Category::Other, Outcome::Confirmed)], NOW)
        }),
        NOW,
    );
    expect![[r#"
        AssessmentRecorded {
            assessment: Assessment {
                outcomes: [
                    (
                        Other,
                        Confirmed,
                    ),
                ],
                special_reception_needs: false,
                special_procedural_guarantees: false,
                assessed_at: 2026-03-04 12:00:00.0 +00:00:00,
                assessor_role: Code(
                    "psychologist",
                ),
                urgency: Some(
                    Standard,
                ),
                other_need: Some(
                    Code(
                        "substance_dependence",
                    ),
                ),
            },
            reassessment: false,
            still_to_assess: [
                Torture,
            ],
        }"#]]
    .assert_eq(&render(outcome));
}
