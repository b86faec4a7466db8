//! `RecordPreliminaryCheck`: the preliminary vulnerability check at screening, and the missed screening deadline a late check records with it.

use super::support::*;

#[test]
fn preliminary_check_is_recorded() {
    let recorded = check(&[Category::Pregnant, Category::Torture], NOW);
    assert_eq!(
        when(
            &given(&[opened()]),
            Command::RecordPreliminaryCheck(recorded.clone()),
            NOW
        ),
        Ok(vec![Event::PreliminaryCheckRecorded(recorded)])
    );
}

#[test]
fn preliminary_check_at_arrival_and_without_suspicions_is_accepted() {
    let recorded = check(&[], ARRIVAL);
    assert_eq!(
        when(
            &given(&[opened()]),
            Command::RecordPreliminaryCheck(recorded.clone()),
            NOW
        ),
        Ok(vec![Event::PreliminaryCheckRecorded(recorded)])
    );
}

#[test]
fn preliminary_check_on_a_case_not_opened_is_case_not_found() {
    assert_eq!(
        when(
            &given(&[]),
            Command::RecordPreliminaryCheck(check(&[], NOW)),
            NOW
        ),
        Err(ScreeningError::CaseNotFound)
    );
}

#[test]
fn preliminary_check_on_a_closed_case_is_case_closed() {
    assert_eq!(
        when(
            &given(&[opened(), closed(NOW)]),
            Command::RecordPreliminaryCheck(check(&[], NOW)),
            NOW
        ),
        Err(ScreeningError::CaseClosed)
    );
}

#[test]
fn preliminary_check_twice_is_refused() {
    let state = given(&[
        opened(),
        Event::PreliminaryCheckRecorded(check(&[Category::Pregnant], ARRIVAL)),
    ]);
    assert_eq!(
        when(
            &state,
            Command::RecordPreliminaryCheck(check(&[Category::Torture], NOW)),
            NOW
        ),
        Err(ScreeningError::PreliminaryCheckAlreadyRecorded)
    );
}

#[test]
fn preliminary_check_in_the_future_is_invalid() {
    assert_invalid(
        when(
            &given(&[opened()]),
            Command::RecordPreliminaryCheck(check(&[], NOW + Duration::NANOSECOND)),
            NOW,
        ),
        "checked_at",
    );
}

#[test]
fn preliminary_check_before_arrival_is_invalid() {
    assert_invalid(
        when(
            &given(&[opened()]),
            Command::RecordPreliminaryCheck(check(&[], ARRIVAL - Duration::NANOSECOND)),
            NOW,
        ),
        "checked_at",
    );
}

#[test]
fn preliminary_check_listing_a_category_twice_is_invalid() {
    let categories = [Category::Pregnant, Category::Torture, Category::Pregnant];
    assert_invalid(
        when(
            &given(&[opened()]),
            Command::RecordPreliminaryCheck(check(&categories, NOW)),
            NOW,
        ),
        "suspected[2].category",
    );
}

#[test]
fn a_check_done_after_the_screening_deadline_records_the_miss_with_it() {
    let late = SCREENING_DUE + Duration::hours(1);
    let now = late + Duration::hours(1);
    let events = when(
        &given(&[opened()]),
        Command::RecordPreliminaryCheck(check(&[], late)),
        now,
    )
    .expect("accepted");
    assert_eq!(
        events,
        [
            Event::ScreeningDeadlineMissed {
                due_at: SCREENING_DUE,
                detected_at: now
            },
            Event::PreliminaryCheckRecorded(check(&[], late)),
        ]
    );
}

#[test]
fn a_check_done_on_time_but_recorded_later_records_no_miss() {
    let on_time = SCREENING_DUE - Duration::hours(1);
    let now = SCREENING_DUE + Duration::days(2);
    let events = when(
        &given(&[opened()]),
        Command::RecordPreliminaryCheck(check(&[], on_time)),
        now,
    )
    .expect("accepted");
    assert_eq!(
        events,
        [Event::PreliminaryCheckRecorded(check(&[], on_time))]
    );
}

#[test]
fn a_late_check_after_the_watcher_marked_the_miss_does_not_mark_it_again() {
    let late = SCREENING_DUE + Duration::hours(1);
    let state = given(&[
        opened(),
        Event::ScreeningDeadlineMissed {
            due_at: SCREENING_DUE,
            detected_at: SCREENING_DUE,
        },
    ]);
    let events = when(
        &state,
        Command::RecordPreliminaryCheck(check(&[], late)),
        late,
    )
    .expect("accepted");
    assert_eq!(events, [Event::PreliminaryCheckRecorded(check(&[], late))]);
}

#[test]
fn snapshot_of_a_preliminary_check() {
    let outcome = when(
        &given(&[opened()]),
        Command::RecordPreliminaryCheck(check(&[Category::Pregnant], NOW)),
        NOW,
    );
    expect![[r#"
        PreliminaryCheckRecorded(
            PreliminaryCheck {
                suspected: [
                    Suspicion {
                        category: Pregnant,
                        indicators: [
                            Code(
                                "visible_injury",
                            ),
                        ],
                        other_need: None,
                    },
                ],
                urgent_care_needed: false,
                health_flags: [
                    Code(
                        "dehydration",
                    ),
                ],
                urgency: High,
                place: PlaceCode(
                    "LAMPEDUSA",
                ),
                checked_at: 2026-03-04 12:00:00.0 +00:00:00,
            },
        )"#]]
    .assert_eq(&render(outcome));
}

#[test]
fn a_check_after_the_first_assessment_identifies_needs_for_its_new_categories() {
    let state = given(&[
        opened(),
        assessed(
            &[
                (Category::Torture, Outcome::Confirmed),
                (Category::Minor, Outcome::RuledOut),
            ],
            ARRIVAL,
        ),
    ]);
    let recorded = check(
        &[Category::Torture, Category::Minor, Category::Pregnant],
        NOW,
    );
    let events = when(
        &state,
        Command::RecordPreliminaryCheck(recorded.clone()),
        NOW,
    )
    .expect("recorded");
    let due_at = limit_ends(date_in_rome(NOW), 30);
    assert_eq!(
        events,
        [
            Event::PreliminaryCheckRecorded(recorded),
            Event::NeedIdentifiedAfterAssessment {
                category: Category::Minor,
                raised_at: NOW,
                due_at,
            },
            Event::NeedIdentifiedAfterAssessment {
                category: Category::Pregnant,
                raised_at: NOW,
                due_at,
            },
        ]
    );
}

#[test]
fn a_check_suspecting_other_names_the_need_and_no_other_category_does() {
    assert!(
        when(
            &given(&[opened()]),
            Command::RecordPreliminaryCheck(check(&[Category::Torture, Category::Other], NOW)),
            NOW
        )
        .is_ok()
    );
    let mut without = check(&[Category::Torture, Category::Other], NOW);
    without.suspected[1].other_need = None;
    assert_invalid(
        when(
            &given(&[opened()]),
            Command::RecordPreliminaryCheck(without),
            NOW,
        ),
        "suspected[1].other_need",
    );
    let mut misplaced = check(&[Category::Torture], NOW);
    misplaced.suspected[0].other_need = Some(code("statelessness"));
    assert_invalid(
        when(
            &given(&[opened()]),
            Command::RecordPreliminaryCheck(misplaced),
            NOW,
        ),
        "suspected[0].other_need",
    );
}

#[test]
fn a_check_in_a_cas_weeks_after_arrival_is_on_time() {
    let opened_at = ARRIVAL + Duration::days(30);
    let checked_at = opened_at + Duration::days(6);
    let events = when(
        &given(&[opened_in_territory(FacilityKind::Sai, opened_at)]),
        Command::RecordPreliminaryCheck(check(&[], checked_at)),
        checked_at,
    )
    .expect("recorded");
    assert_eq!(
        events,
        [Event::PreliminaryCheckRecorded(check(&[], checked_at))]
    );
}
