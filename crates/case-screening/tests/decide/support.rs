//! Fixtures (fixed times, never the system clock) and the given/when/then
//! helpers every module of the screening tests shares.

pub use case_screening::{
    Assessment, CaseId, CloseReason, Code, Command, Context, Event, FacilityId, FacilityKind,
    FamilyLink, FormalIdentification, Identification, LateNeed, OpenCase, Outcome, PlaceCode,
    Placement, PreliminaryCheck, Province, Relation, ScreeningError, Signal, State, Suspicion,
    decide, missed_deadlines,
};
pub use case_screening::{ErasureReason, ReadPurpose};
pub use expect_test::expect;
pub use pathway::calendar::{date_in_rome, limit_ends};
pub use pathway::{AgeBand, Category, CategoryStatus, Sex, Urgency};
pub use time::macros::{date, datetime};
pub use time::{Date, Duration, OffsetDateTime};

/// When the person arrived at Lampedusa.
pub const ARRIVAL: OffsetDateTime = datetime!(2026-03-02 08:30 UTC);
/// "Now" for most tests: two days after arrival, well within the screening deadline.
pub const NOW: OffsetDateTime = datetime!(2026-03-04 12:00 UTC);
/// When screening is due for a case opened at the hotspot: the end of the
/// seventh calendar day after the day of arrival (2 March), in Rome (CET).
pub const SCREENING_DUE: OffsetDateTime = datetime!(2026-03-09 23:00 UTC);
/// The application date used by the assessment-deadline tests.
pub const APPLIED_ON: Date = date!(2026 - 03 - 03);
/// When the assessment is due for `APPLIED_ON`: the end of the thirtieth
/// calendar day after it (2 April), in Rome (CEST since 29 March).
pub const ASSESSMENT_DUE: OffsetDateTime = datetime!(2026-04-02 22:00 UTC);

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
        opened_at: Some(ARRIVAL),
        family_links: vec![],
        application_date: None,
        age_band: AgeBand::Unknown,
        sex: Sex::Unknown,
    }
}

/// A case opened in a CAS (in the territory) at `opened_at`, long after the arrival.
pub fn opened_in_territory(kind: FacilityKind, opened_at: OffsetDateTime) -> Event {
    Event::CaseOpened(OpenCase {
        facility_id: facility("cas-agrigento"),
        facility_kind: Some(kind),
        opened_at: Some(opened_at),
        ..open_case()
    })
}

/// A case opened before the facility kind and the opening time were recorded.
pub fn opened_before_kinds_were_recorded() -> Event {
    Event::CaseOpened(OpenCase {
        facility_id: facility("cas-agrigento"),
        facility_kind: None,
        opened_at: None,
        ..open_case()
    })
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
        other_need: (category == Category::Other).then(|| code("substance_dependence")),
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
        urgency: None,
        other_need: outcomes
            .iter()
            .any(|(category, _)| *category == Category::Other)
            .then(|| code("substance_dependence")),
    }
}

/// An assessment recorded: the first, completing the assessment unless said.
pub fn assessed(outcomes: &[(Category, Outcome)], assessed_at: OffsetDateTime) -> Event {
    Event::AssessmentRecorded {
        assessment: assessment(outcomes, assessed_at),
        reassessment: false,
        still_to_assess: vec![],
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
        Command::MarkNeedAssessmentDeadlineMissed {
            category: Category::Torture,
            raised_at: NOW,
        },
        Command::RecordFormalIdentification(identification(NOW)),
    ]
}

/// A formal identification of TRAFFICKING by an anti-trafficking body.
pub fn identification(identified_at: OffsetDateTime) -> FormalIdentification {
    FormalIdentification {
        category: Category::Trafficking,
        identified_by_organisation: "progetto-anti-tratta-ag".to_owned(),
        identified_at,
    }
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
