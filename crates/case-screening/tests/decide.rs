//! Domain tests of the screening record: given events, when a command, then events or an error.

use case_screening::{
    Assessment, CaseId, CloseReason, Code, Command, Context, Event, FacilityId, FacilityKind,
    FamilyLink, OpenCase, Outcome, PlaceCode, Placement, PreliminaryCheck, Province, Relation,
    ScreeningError, Signal, State, Suspicion, decide, missed_deadlines,
};
use pathway::{Category, CategoryStatus, Urgency};
use proptest::prelude::*;
use time::macros::{date, datetime};
use time::{Date, Duration, OffsetDateTime, Time};

// ---------------------------------------------------------------------------
// Fixtures: fixed times, never the system clock.
// ---------------------------------------------------------------------------

/// When the person arrived at Lampedusa.
const ARRIVAL: OffsetDateTime = datetime!(2026-03-02 08:30 UTC);
/// "Now" for most tests: two days after arrival, well within the screening deadline.
const NOW: OffsetDateTime = datetime!(2026-03-04 12:00 UTC);
/// When screening is due: arrival + 7 days.
const SCREENING_DUE: OffsetDateTime = datetime!(2026-03-09 08:30 UTC);
/// The application date used by the assessment-deadline tests.
const APPLIED_ON: Date = date!(2026 - 03 - 03);
/// When the assessment is due for `APPLIED_ON`: midnight UTC of that day + 30 days.
const ASSESSMENT_DUE: OffsetDateTime = datetime!(2026-04-02 00:00 UTC);

const CASE: &str = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
const FIRST_FACILITY: &str = "hotspot-lampedusa";

fn case_id(raw: &str) -> CaseId {
    CaseId::parse(raw).expect("valid case id")
}

fn facility(raw: &str) -> FacilityId {
    FacilityId::parse(raw).expect("valid facility id")
}

fn province(raw: &str) -> Province {
    Province::parse(raw).expect("valid province")
}

fn place(raw: &str) -> PlaceCode {
    PlaceCode::parse(raw).expect("valid place code")
}

fn code(raw: &str) -> Code {
    Code::parse(raw).expect("valid code")
}

fn open_case() -> OpenCase {
    OpenCase {
        case_id: case_id(CASE),
        arrival_place: place("LAMPEDUSA"),
        arrived_at: ARRIVAL,
        province: province("AG"),
        facility_id: facility(FIRST_FACILITY),
        family_links: vec![],
        application_date: None,
    }
}

fn opened() -> Event {
    Event::CaseOpened(open_case())
}

fn opened_with_application(date: Date) -> Event {
    Event::CaseOpened(OpenCase {
        application_date: Some(date),
        ..open_case()
    })
}

fn suspicion(category: Category) -> Suspicion {
    Suspicion {
        category,
        indicators: vec![code("visible_injury")],
    }
}

fn check(categories: &[Category], checked_at: OffsetDateTime) -> PreliminaryCheck {
    PreliminaryCheck {
        suspected: categories.iter().copied().map(suspicion).collect(),
        urgent_care_needed: false,
        health_flags: vec![code("dehydration")],
        urgency: Urgency::High,
        place: place("LAMPEDUSA"),
        checked_at,
    }
}

fn signal(category: Category, raised_at: OffsetDateTime) -> Signal {
    Signal {
        suspected: suspicion(category),
        urgency: Urgency::Standard,
        raised_by_role: code("social_worker"),
        raised_by_organisation: "cas-agrigento".to_owned(),
        raised_at,
        gbv_disclosure: false,
    }
}

fn gbv_disclosure(category: Category, raised_at: OffsetDateTime) -> Signal {
    Signal {
        gbv_disclosure: true,
        urgency: Urgency::Immediate,
        ..signal(category, raised_at)
    }
}

fn assessment(outcomes: &[(Category, Outcome)], assessed_at: OffsetDateTime) -> Assessment {
    Assessment {
        outcomes: outcomes.to_vec(),
        special_reception_needs: false,
        special_procedural_guarantees: false,
        assessed_at,
        assessor_role: code("psychologist"),
    }
}

fn placement(facility_id: &str, placed_at: OffsetDateTime) -> Placement {
    Placement {
        facility_id: facility(facility_id),
        province: province("RM"),
        facility_kind: FacilityKind::Sai,
        placed_at,
    }
}

fn closed(closed_at: OffsetDateTime) -> Event {
    Event::CaseClosed {
        reason: CloseReason::LeftReception,
        closed_at,
    }
}

fn is_gender_based(category: Category) -> bool {
    matches!(
        category,
        Category::Gbv | Category::Fgm | Category::ForcedMarriage | Category::HateViolence
    )
}

/// One command of every kind, valid on an open case at `NOW` (except the deadline ones).
fn every_command() -> Vec<Command> {
    vec![
        Command::Open(open_case()),
        Command::RecordPreliminaryCheck(check(&[Category::Pregnant], NOW)),
        Command::RaiseSignal(signal(Category::Torture, NOW)),
        Command::RecordAssessment(assessment(&[(Category::Torture, Outcome::Confirmed)], NOW)),
        Command::RecordApplication {
            application_date: NOW.date(),
        },
        Command::Place(placement("sai-roma-3", NOW)),
        Command::Close {
            reason: CloseReason::Duplicate,
            closed_at: NOW,
        },
        Command::MarkScreeningDeadlineMissed,
        Command::MarkAssessmentDeadlineMissed,
    ]
}

// ---------------------------------------------------------------------------
// Given / when / then.
// ---------------------------------------------------------------------------

fn given(events: &[Event]) -> State {
    State::from_events(events)
}

fn when(
    state: &State,
    command: Command,
    now: OffsetDateTime,
) -> Result<Vec<Event>, ScreeningError> {
    decide(state, command, &Context { now })
}

/// Asserts that the result is `Invalid` on exactly `field`.
#[track_caller]
fn assert_invalid(result: Result<Vec<Event>, ScreeningError>, expected_field: &str) {
    match result {
        Err(ScreeningError::Invalid { field, reason }) => {
            assert_eq!(field, expected_field, "wrong field (reason: {reason})");
            assert!(!reason.is_empty(), "an Invalid error must give a reason");
        }
        other => panic!("expected Invalid {{ field: {expected_field:?} }}, got {other:?}"),
    }
}

/// Applies the accepted events to `state`, as the service does after `decide`.
fn apply(state: State, events: &[Event]) -> State {
    events.iter().fold(state, State::evolve)
}

// ---------------------------------------------------------------------------
// Open
// ---------------------------------------------------------------------------

#[test]
fn open_on_a_new_case_records_case_opened() {
    let open = OpenCase {
        family_links: vec![FamilyLink {
            case_id: case_id("sister-case"),
            relation: Relation::Sibling,
        }],
        ..open_case()
    };
    assert_eq!(
        when(&given(&[]), Command::Open(open.clone()), NOW),
        Ok(vec![Event::CaseOpened(open)])
    );
}

#[test]
fn open_with_arrival_and_application_date_of_now_is_accepted() {
    let open = OpenCase {
        arrived_at: NOW,
        application_date: Some(NOW.date()),
        ..open_case()
    };
    let events = when(&given(&[]), Command::Open(open.clone()), NOW).expect("accepted");
    assert_eq!(events, vec![Event::CaseOpened(open.clone())]);
    let state = apply(given(&[]), &events);
    assert_eq!(state.opened, Some(open));
    assert_eq!(state.application_date, Some(NOW.date()));
    assert!(!state.closed);
}

#[test]
fn open_twice_is_refused() {
    assert_eq!(
        when(&given(&[opened()]), Command::Open(open_case()), NOW),
        Err(ScreeningError::AlreadyOpened)
    );
}

#[test]
fn open_on_a_closed_case_is_refused_as_already_opened() {
    // A closed case still exists: opening it again is AlreadyOpened, checked before CaseClosed.
    assert_eq!(
        when(
            &given(&[opened(), closed(NOW)]),
            Command::Open(open_case()),
            NOW
        ),
        Err(ScreeningError::AlreadyOpened)
    );
}

#[test]
fn open_with_arrival_in_the_future_is_invalid() {
    let open = OpenCase {
        arrived_at: NOW + Duration::SECOND,
        ..open_case()
    };
    assert_invalid(
        when(&given(&[]), Command::Open(open), NOW),
        "arrival.arrived_at",
    );
}

#[test]
fn open_with_application_date_in_the_future_is_invalid() {
    let open = OpenCase {
        application_date: Some(NOW.date().next_day().expect("a next day")),
        ..open_case()
    };
    assert_invalid(
        when(&given(&[]), Command::Open(open), NOW),
        "application_date",
    );
}

#[test]
fn open_with_a_family_link_to_itself_is_invalid() {
    let itself = FamilyLink {
        case_id: case_id(CASE),
        relation: Relation::Parent,
    };
    let other = FamilyLink {
        case_id: case_id("mother-case"),
        relation: Relation::Parent,
    };
    let open = OpenCase {
        family_links: vec![itself.clone()],
        ..open_case()
    };
    assert_invalid(
        when(&given(&[]), Command::Open(open), NOW),
        "family_links[0].case_id",
    );
    let open = OpenCase {
        family_links: vec![other, itself],
        ..open_case()
    };
    assert_invalid(
        when(&given(&[]), Command::Open(open), NOW),
        "family_links[1].case_id",
    );
}

#[test]
fn open_with_the_same_case_linked_twice_is_invalid() {
    let links = vec![
        FamilyLink {
            case_id: case_id("child-case"),
            relation: Relation::Child,
        },
        FamilyLink {
            case_id: case_id("spouse-case"),
            relation: Relation::Spouse,
        },
        // Same case, even with another relation.
        FamilyLink {
            case_id: case_id("child-case"),
            relation: Relation::OtherRelative,
        },
    ];
    let open = OpenCase {
        family_links: links.clone(),
        ..open_case()
    };
    assert_invalid(
        when(&given(&[]), Command::Open(open), NOW),
        "family_links[2].case_id",
    );
    let open = OpenCase {
        family_links: vec![links[1].clone(), links[1].clone()],
        ..open_case()
    };
    assert_invalid(
        when(&given(&[]), Command::Open(open), NOW),
        "family_links[1].case_id",
    );

    let open = OpenCase {
        family_links: links[..2].to_vec(),
        ..open_case()
    };
    assert_eq!(
        when(&given(&[]), Command::Open(open.clone()), NOW),
        Ok(vec![Event::CaseOpened(open)])
    );
}

// ---------------------------------------------------------------------------
// Refusals common to every command but Open
// ---------------------------------------------------------------------------

#[test]
fn every_command_but_open_on_a_case_not_opened_is_case_not_found() {
    for command in every_command().into_iter().skip(1) {
        assert_eq!(
            when(&given(&[]), command.clone(), NOW + Duration::days(60)),
            Err(ScreeningError::CaseNotFound),
            "{command:?}"
        );
    }
}

#[test]
fn every_command_but_open_on_a_closed_case_is_case_closed() {
    // Overdue and unmet deadlines, so that only the closure can refuse the deadline commands.
    let state = given(&[opened_with_application(APPLIED_ON), closed(NOW)]);
    let later = NOW + Duration::days(60);
    for command in every_command().into_iter().skip(1) {
        assert_eq!(
            when(&state, command.clone(), later),
            Err(ScreeningError::CaseClosed),
            "{command:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// RecordPreliminaryCheck
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// RaiseSignal
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// RecordAssessment
// ---------------------------------------------------------------------------

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
        },
    ]);
    let assessed = assessment(&[(Category::MentalHealth, Outcome::Confirmed)], NOW);
    assert_eq!(
        when(&state, Command::RecordAssessment(assessed.clone()), NOW),
        Ok(vec![Event::AssessmentRecorded {
            assessment: assessed,
            reassessment: true,
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
    let application_day = date!(2026 - 03 - 04);
    let last_instant_before = datetime!(2026-03-03 23:59:59.999999999 UTC);
    let first_instant_of = datetime!(2026-03-04 00:00 UTC);
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

// ---------------------------------------------------------------------------
// RecordApplication
// ---------------------------------------------------------------------------

#[test]
fn application_is_recorded() {
    let events = when(
        &given(&[opened()]),
        Command::RecordApplication {
            application_date: NOW.date(),
        },
        NOW,
    )
    .expect("accepted");
    assert_eq!(
        events,
        vec![Event::ApplicationRecorded {
            application_date: NOW.date(),
        }]
    );
    assert_eq!(
        apply(given(&[opened()]), &events).application_date,
        Some(NOW.date())
    );
}

#[test]
fn application_on_a_case_not_opened_is_case_not_found() {
    assert_eq!(
        when(
            &given(&[]),
            Command::RecordApplication {
                application_date: APPLIED_ON
            },
            NOW
        ),
        Err(ScreeningError::CaseNotFound)
    );
}

#[test]
fn application_on_a_closed_case_is_case_closed() {
    assert_eq!(
        when(
            &given(&[opened(), closed(NOW)]),
            Command::RecordApplication {
                application_date: APPLIED_ON
            },
            NOW
        ),
        Err(ScreeningError::CaseClosed)
    );
}

#[test]
fn application_twice_is_refused() {
    let command = Command::RecordApplication {
        application_date: NOW.date(),
    };
    let recorded = given(&[
        opened(),
        Event::ApplicationRecorded {
            application_date: APPLIED_ON,
        },
    ]);
    assert_eq!(
        when(&recorded, command.clone(), NOW),
        Err(ScreeningError::ApplicationAlreadyRecorded)
    );
    // Also when the date came with the opening.
    assert_eq!(
        when(&given(&[opened_with_application(APPLIED_ON)]), command, NOW),
        Err(ScreeningError::ApplicationAlreadyRecorded)
    );
}

#[test]
fn application_in_the_future_is_invalid() {
    assert_invalid(
        when(
            &given(&[opened()]),
            Command::RecordApplication {
                application_date: NOW.date().next_day().expect("a next day"),
            },
            NOW,
        ),
        "application_date",
    );
}

// ---------------------------------------------------------------------------
// Place
// ---------------------------------------------------------------------------

#[test]
fn placement_is_recorded() {
    let placed = placement("sai-roma-3", NOW);
    assert_eq!(
        when(&given(&[opened()]), Command::Place(placed.clone()), NOW),
        Ok(vec![Event::CasePlaced(placed)])
    );
}

#[test]
fn placement_on_a_case_not_opened_is_case_not_found() {
    assert_eq!(
        when(
            &given(&[]),
            Command::Place(placement("sai-roma-3", NOW)),
            NOW
        ),
        Err(ScreeningError::CaseNotFound)
    );
}

#[test]
fn placement_on_a_closed_case_is_case_closed() {
    assert_eq!(
        when(
            &given(&[opened(), closed(NOW)]),
            Command::Place(placement("sai-roma-3", NOW)),
            NOW
        ),
        Err(ScreeningError::CaseClosed)
    );
}

#[test]
fn placement_in_the_facility_of_arrival_is_refused() {
    assert_eq!(
        when(
            &given(&[opened()]),
            Command::Place(placement(FIRST_FACILITY, NOW)),
            NOW
        ),
        Err(ScreeningError::AlreadyPlacedThere)
    );
}

#[test]
fn placement_in_the_current_facility_is_refused_but_returning_is_allowed() {
    let state = given(&[
        opened(),
        Event::CasePlaced(placement("cas-agrigento-1", ARRIVAL + Duration::DAY)),
    ]);
    assert_eq!(
        when(
            &state,
            Command::Place(placement("cas-agrigento-1", NOW)),
            NOW
        ),
        Err(ScreeningError::AlreadyPlacedThere)
    );
    let back = placement(FIRST_FACILITY, NOW);
    assert_eq!(
        when(&state, Command::Place(back.clone()), NOW),
        Ok(vec![Event::CasePlaced(back)])
    );
}

#[test]
fn placement_in_the_future_is_invalid() {
    assert_invalid(
        when(
            &given(&[opened()]),
            Command::Place(placement("sai-roma-3", NOW + Duration::NANOSECOND)),
            NOW,
        ),
        "placed_at",
    );
}

#[test]
fn placement_before_arrival_is_invalid() {
    assert_invalid(
        when(
            &given(&[opened()]),
            Command::Place(placement("sai-roma-3", ARRIVAL - Duration::NANOSECOND)),
            NOW,
        ),
        "placed_at",
    );
}

// ---------------------------------------------------------------------------
// Close
// ---------------------------------------------------------------------------

#[test]
fn close_is_recorded() {
    let events = when(
        &given(&[opened()]),
        Command::Close {
            reason: CloseReason::ProtectionGranted,
            closed_at: NOW,
        },
        NOW,
    )
    .expect("accepted");
    assert_eq!(
        events,
        vec![Event::CaseClosed {
            reason: CloseReason::ProtectionGranted,
            closed_at: NOW,
        }]
    );
    assert!(apply(given(&[opened()]), &events).closed);
}

#[test]
fn close_at_arrival_is_accepted() {
    assert_eq!(
        when(
            &given(&[opened()]),
            Command::Close {
                reason: CloseReason::Duplicate,
                closed_at: ARRIVAL,
            },
            NOW,
        ),
        Ok(vec![Event::CaseClosed {
            reason: CloseReason::Duplicate,
            closed_at: ARRIVAL,
        }])
    );
}

#[test]
fn close_on_a_case_not_opened_is_case_not_found() {
    assert_eq!(
        when(
            &given(&[]),
            Command::Close {
                reason: CloseReason::Other,
                closed_at: NOW
            },
            NOW
        ),
        Err(ScreeningError::CaseNotFound)
    );
}

#[test]
fn close_twice_is_case_closed() {
    assert_eq!(
        when(
            &given(&[opened(), closed(NOW)]),
            Command::Close {
                reason: CloseReason::Other,
                closed_at: NOW
            },
            NOW
        ),
        Err(ScreeningError::CaseClosed)
    );
}

#[test]
fn close_in_the_future_is_invalid() {
    assert_invalid(
        when(
            &given(&[opened()]),
            Command::Close {
                reason: CloseReason::Other,
                closed_at: NOW + Duration::NANOSECOND,
            },
            NOW,
        ),
        "closed_at",
    );
}

#[test]
fn close_before_arrival_is_invalid() {
    assert_invalid(
        when(
            &given(&[opened()]),
            Command::Close {
                reason: CloseReason::Other,
                closed_at: ARRIVAL - Duration::NANOSECOND,
            },
            NOW,
        ),
        "closed_at",
    );
}

// ---------------------------------------------------------------------------
// Evolve
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Screening deadline
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Assessment deadline
// ---------------------------------------------------------------------------

#[test]
fn assessment_is_due_thirty_days_after_midnight_utc_of_the_application_date() {
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
        Some(APPLIED_ON.with_time(Time::MIDNIGHT).assume_utc() + Duration::days(30))
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

// ---------------------------------------------------------------------------
// missed_deadlines
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------

/// A command in the abstract: times are per-mille of the span from arrival to now,
/// so that every generated time lies between arrival and the current clock.
#[derive(Debug, Clone)]
enum Op {
    Open {
        applied: bool,
    },
    Check {
        categories: Vec<Category>,
        at: u16,
    },
    Signal {
        category: Category,
        disclosure: bool,
        at: u16,
    },
    Assess {
        outcomes: Vec<(Category, Outcome)>,
        needs: bool,
        at: u16,
    },
    Apply {
        at: u16,
    },
    Place {
        facility: u8,
        at: u16,
    },
    Close {
        at: u16,
    },
    MarkScreening,
    MarkAssessment,
}

fn between_arrival_and(now: OffsetDateTime, per_mille: u16) -> OffsetDateTime {
    let span = (now - ARRIVAL).whole_seconds().max(0);
    ARRIVAL + Duration::seconds(span * i64::from(per_mille.min(1000)) / 1000)
}

impl Op {
    fn command(&self, now: OffsetDateTime) -> Command {
        let at = |per_mille: u16| between_arrival_and(now, per_mille);
        match self {
            Op::Open { applied } => Command::Open(OpenCase {
                application_date: applied.then(|| ARRIVAL.date()),
                ..open_case()
            }),
            Op::Check { categories, at: t } => {
                Command::RecordPreliminaryCheck(check(categories, at(*t)))
            }
            Op::Signal {
                category,
                disclosure,
                at: t,
            } => {
                let mut raised = signal(*category, at(*t));
                raised.gbv_disclosure = *disclosure && is_gender_based(*category);
                Command::RaiseSignal(raised)
            }
            Op::Assess {
                outcomes,
                needs,
                at: t,
            } => Command::RecordAssessment(Assessment {
                special_reception_needs: *needs,
                ..assessment(outcomes, at(*t))
            }),
            Op::Apply { at: t } => Command::RecordApplication {
                application_date: at(*t).date(),
            },
            Op::Place { facility, at: t } => {
                let id = if *facility == 0 {
                    FIRST_FACILITY.to_owned()
                } else {
                    format!("facility-{facility}")
                };
                Command::Place(placement(&id, at(*t)))
            }
            Op::Close { at: t } => Command::Close {
                reason: CloseReason::Other,
                closed_at: at(*t),
            },
            Op::MarkScreening => Command::MarkScreeningDeadlineMissed,
            Op::MarkAssessment => Command::MarkAssessmentDeadlineMissed,
        }
    }
}

fn category() -> impl Strategy<Value = Category> {
    prop::sample::select(Category::ALL)
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop::sample::select(Outcome::ALL)
}

fn op() -> impl Strategy<Value = Op> {
    let at = 0u16..=1000;
    prop_oneof![
        1 => any::<bool>().prop_map(|applied| Op::Open { applied }),
        4 => (prop::sample::subsequence(Category::ALL, 0..4), at.clone())
            .prop_map(|(categories, at)| Op::Check { categories, at }),
        8 => (category(), any::<bool>(), at.clone())
            .prop_map(|(category, disclosure, at)| Op::Signal { category, disclosure, at }),
        8 => (
            prop::sample::subsequence(Category::ALL, 0..4)
                .prop_flat_map(|cs| {
                    let n = cs.len();
                    (Just(cs), prop::collection::vec(outcome(), n))
                })
                .prop_map(|(cs, os)| cs.into_iter().zip(os).collect::<Vec<_>>()),
            any::<bool>(),
            at.clone(),
        )
            .prop_map(|(outcomes, needs, at)| Op::Assess { outcomes, needs, at }),
        4 => at.clone().prop_map(|at| Op::Apply { at }),
        4 => (0u8..3, at.clone()).prop_map(|(facility, at)| Op::Place { facility, at }),
        1 => at.prop_map(|at| Op::Close { at }),
        3 => Just(Op::MarkScreening),
        3 => Just(Op::MarkAssessment),
    ]
}

/// How far the clock moves before a step: up to four days, in minutes.
fn advance() -> impl Strategy<Value = Duration> {
    (0i64..=4 * 24 * 60).prop_map(Duration::minutes)
}

/// One step of the deadline property: applies the accepted events; the only refusals
/// expected are a deadline not (or no longer) missed and an application already recorded.
fn run_deadline_step(
    state: State,
    command: Command,
    now: OffsetDateTime,
    emitted: &mut Vec<Event>,
) -> State {
    match when(&state, command, now) {
        Ok(events) => {
            emitted.extend(events.iter().cloned());
            apply(state, &events)
        }
        Err(error) => {
            assert!(
                matches!(
                    error,
                    ScreeningError::DeadlineNotMissed | ScreeningError::ApplicationAlreadyRecorded
                ),
                "unexpected refusal {error:?}"
            );
            state
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decide_then_evolve_is_consistent_with_replay(
        start_opened in prop::bool::weighted(0.9),
        steps in prop::collection::vec((advance(), op()), 0..40),
    ) {
        let mut now = ARRIVAL;
        let mut state = State::default();
        let mut accepted: Vec<Event> = Vec::new();
        let mut ops: Vec<(Duration, Op)> = Vec::new();
        if start_opened {
            ops.push((Duration::ZERO, Op::Open { applied: false }));
        }
        ops.extend(steps);

        for (advance, op) in ops {
            now += advance;
            let command = op.command(now);
            let was_closed = accepted.iter().any(|e| matches!(e, Event::CaseClosed { .. }));
            let result = when(&state, command.clone(), now);
            if was_closed {
                prop_assert!(result.is_err(), "{command:?} after CaseClosed gave {result:?}");
            }
            if let Ok(events) = result {
                prop_assert!(!events.is_empty(), "{command:?} accepted without events");
                state = apply(state, &events);
                accepted.extend(events);
            }
            prop_assert_eq!(&State::from_events(&accepted), &state);
            prop_assert_eq!(
                state.closed,
                accepted.iter().any(|e| matches!(e, Event::CaseClosed { .. }))
            );
        }

        if let Some(position) = accepted.iter().position(|e| matches!(e, Event::CaseClosed { .. })) {
            prop_assert_eq!(position, accepted.len() - 1, "events after CaseClosed: {:?}", accepted);
        }
        let opens = accepted.iter().filter(|e| matches!(e, Event::CaseOpened(_))).count();
        prop_assert!(opens <= 1);
        if opens == 1 {
            prop_assert!(matches!(accepted.first(), Some(Event::CaseOpened(_))));
        }
    }

    #[test]
    fn deadline_events_are_produced_at_most_once(
        applied_after_days in prop::option::of(0i64..=6),
        steps in prop::collection::vec(
            ((0i64..=10 * 24).prop_map(Duration::hours), 0u8..4),
            0..40,
        ),
    ) {
        let opening = match applied_after_days {
            Some(days) => opened_with_application((ARRIVAL + Duration::days(days)).date()),
            None => opened(),
        };
        // The application date must not be in the future at the opening.
        let mut now = ARRIVAL + Duration::days(applied_after_days.unwrap_or(0));
        let mut state = given(std::slice::from_ref(&opening));
        let mut emitted: Vec<Event> = Vec::new();

        for (advance, kind) in steps {
            now += advance;
            match kind {
                0 => state = run_deadline_step(state, Command::MarkScreeningDeadlineMissed, now, &mut emitted),
                1 => state = run_deadline_step(state, Command::MarkAssessmentDeadlineMissed, now, &mut emitted),
                2 => {
                    // The deadline watcher: everything due now.
                    for command in missed_deadlines(&state, now) {
                        state = run_deadline_step(state, command, now, &mut emitted);
                    }
                }
                _ => {
                    let application_date = now.date();
                    state = run_deadline_step(state, Command::RecordApplication { application_date }, now, &mut emitted);
                }
            }
        }
        // A last pass of the watcher: whatever is overdue is now marked.
        for command in missed_deadlines(&state, now) {
            state = run_deadline_step(state, command, now, &mut emitted);
        }

        let screening = emitted.iter().filter(|e| matches!(e, Event::ScreeningDeadlineMissed { .. })).count();
        let assessment = emitted.iter().filter(|e| matches!(e, Event::AssessmentDeadlineMissed { .. })).count();
        prop_assert!(screening <= 1, "{emitted:?}");
        prop_assert!(assessment <= 1, "{emitted:?}");
        prop_assert_eq!(screening, usize::from(now >= SCREENING_DUE));
        let assessment_overdue = state.assessment_due_at().is_some_and(|due| now >= due);
        prop_assert_eq!(assessment, usize::from(assessment_overdue));
        for event in &emitted {
            match event {
                Event::ScreeningDeadlineMissed { due_at, detected_at } => {
                    prop_assert_eq!(*due_at, SCREENING_DUE);
                    prop_assert!(detected_at >= due_at);
                }
                Event::AssessmentDeadlineMissed { due_at, detected_at } => {
                    prop_assert_eq!(Some(*due_at), state.assessment_due_at());
                    prop_assert!(detected_at >= due_at);
                }
                other => prop_assert!(matches!(other, Event::ApplicationRecorded { .. }), "{other:?}"),
            }
        }
        prop_assert_eq!(State::from_events(std::iter::once(&opening).chain(&emitted)), state);
    }
}

// ---------------------------------------------------------------------------
// A missed deadline is never silent: late completion records it in its commit.
// ---------------------------------------------------------------------------

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
