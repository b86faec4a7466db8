//! Fixtures (fixed times, never the system clock) and the given/when/then
//! helpers every module of the screening tests shares.

pub use case_screening::{
    Assessment, CaseId, CloseReason, Code, Command, Context, Event, FacilityId, FacilityKind,
    FamilyLink, OpenCase, Outcome, PlaceCode, Placement, PreliminaryCheck, Province, Relation,
    ScreeningError, Signal, State, Suspicion, decide, missed_deadlines,
};
pub use case_screening::{ErasureReason, ReadPurpose};
pub use expect_test::expect;
pub use pathway::{AgeBand, Category, CategoryStatus, Urgency};
pub use time::macros::{date, datetime};
pub use time::{Date, Duration, OffsetDateTime, Time};

/// When the person arrived at Lampedusa.
pub const ARRIVAL: OffsetDateTime = datetime!(2026-03-02 08:30 UTC);
/// "Now" for most tests: two days after arrival, well within the screening deadline.
pub const NOW: OffsetDateTime = datetime!(2026-03-04 12:00 UTC);
/// When screening is due: arrival + 7 days.
pub const SCREENING_DUE: OffsetDateTime = datetime!(2026-03-09 08:30 UTC);
/// The application date used by the assessment-deadline tests.
pub const APPLIED_ON: Date = date!(2026 - 03 - 03);
/// When the assessment is due for `APPLIED_ON`: midnight UTC of that day + 30 days.
pub const ASSESSMENT_DUE: OffsetDateTime = datetime!(2026-04-02 00:00 UTC);

pub const CASE: &str = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
pub const FIRST_FACILITY: &str = "hotspot-lampedusa";

pub fn case_id(raw: &str) -> CaseId {
    CaseId::parse(raw).expect("valid case id")
}

pub fn facility(raw: &str) -> FacilityId {
    FacilityId::parse(raw).expect("valid facility id")
}

pub fn province(raw: &str) -> Province {
    Province::parse(raw).expect("valid province")
}

pub fn place(raw: &str) -> PlaceCode {
    PlaceCode::parse(raw).expect("valid place code")
}

pub fn code(raw: &str) -> Code {
    Code::parse(raw).expect("valid code")
}

pub fn open_case() -> OpenCase {
    OpenCase {
        case_id: case_id(CASE),
        arrival_place: place("LAMPEDUSA"),
        arrived_at: ARRIVAL,
        province: province("AG"),
        facility_id: facility(FIRST_FACILITY),
        facility_kind: Some(FacilityKind::Hotspot),
        family_links: vec![],
        application_date: None,
        age_band: AgeBand::Unknown,
    }
}

pub fn opened() -> Event {
    Event::CaseOpened(open_case())
}

pub fn opened_with_application(date: Date) -> Event {
    Event::CaseOpened(OpenCase {
        application_date: Some(date),
        ..open_case()
    })
}

pub fn suspicion(category: Category) -> Suspicion {
    Suspicion {
        category,
        indicators: vec![code("visible_injury")],
    }
}

pub fn check(categories: &[Category], checked_at: OffsetDateTime) -> PreliminaryCheck {
    PreliminaryCheck {
        suspected: categories.iter().copied().map(suspicion).collect(),
        urgent_care_needed: false,
        health_flags: vec![code("dehydration")],
        urgency: Urgency::High,
        place: place("LAMPEDUSA"),
        checked_at,
    }
}

pub fn signal(category: Category, raised_at: OffsetDateTime) -> Signal {
    Signal {
        suspected: suspicion(category),
        urgency: Urgency::Standard,
        raised_by_role: code("social_worker"),
        raised_by_organisation: "cas-agrigento".to_owned(),
        raised_at,
        gbv_disclosure: false,
    }
}

pub fn gbv_disclosure(category: Category, raised_at: OffsetDateTime) -> Signal {
    Signal {
        gbv_disclosure: true,
        urgency: Urgency::Immediate,
        ..signal(category, raised_at)
    }
}

pub fn assessment(outcomes: &[(Category, Outcome)], assessed_at: OffsetDateTime) -> Assessment {
    Assessment {
        outcomes: outcomes.to_vec(),
        special_reception_needs: false,
        special_procedural_guarantees: false,
        assessed_at,
        assessor_role: code("psychologist"),
    }
}

pub fn placement(facility_id: &str, placed_at: OffsetDateTime) -> Placement {
    Placement {
        facility_id: facility(facility_id),
        province: province("RM"),
        facility_kind: FacilityKind::Sai,
        placed_at,
        arrival_due_at: None,
        detention: None,
    }
}

pub fn closed(closed_at: OffsetDateTime) -> Event {
    Event::CaseClosed {
        reason: CloseReason::LeftReception,
        closed_at,
    }
}

pub fn is_gender_based(category: Category) -> bool {
    matches!(
        category,
        Category::Gbv | Category::Fgm | Category::ForcedMarriage | Category::HateViolence
    )
}

/// One command of every kind, valid on an open case at `NOW` (except the deadline ones).
pub fn every_command() -> Vec<Command> {
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

pub fn given(events: &[Event]) -> State {
    State::from_events(events)
}

pub fn when(
    state: &State,
    command: Command,
    now: OffsetDateTime,
) -> Result<Vec<Event>, ScreeningError> {
    decide(state, command, &Context { now })
}

/// Asserts that the result is `Invalid` on exactly `field`.
#[track_caller]
pub fn assert_invalid(result: Result<Vec<Event>, ScreeningError>, expected_field: &str) {
    match result {
        Err(ScreeningError::Invalid { field, reason }) => {
            assert_eq!(field, expected_field, "wrong field (reason: {reason})");
            assert!(!reason.is_empty(), "an Invalid error must give a reason");
        }
        other => panic!("expected Invalid {{ field: {expected_field:?} }}, got {other:?}"),
    }
}

/// Applies the accepted events to `state`, as the service does after `decide`.
pub fn apply(state: State, events: &[Event]) -> State {
    events.iter().fold(state, State::evolve)
}

/// The outcome of a command as a snapshot reads it: each event's pretty Debug,
/// or the refusal.
pub fn render(result: Result<Vec<Event>, ScreeningError>) -> String {
    match result {
        Ok(events) => events
            .iter()
            .map(|event| format!("{event:#?}"))
            .collect::<Vec<_>>()
            .join("\n"),
        Err(error) => format!("refused: {error:?}"),
    }
}
