//! The screening record of a case, where the case begins and where every
//! vulnerability is detected (rilevazione) and assessed: Screening Regulation
//! (EU) 2024/1356 Art. 8, 12, 17; Reception Conditions Directive (EU) 2024/1346
//! Art. 24-25. Pure: time arrives in the [`Context`], ids in the commands.
//!
//! `decide(&State, Command, &Context) -> Result<Vec<Event>, ScreeningError>`,
//! `State::evolve(&Event)`, and [`missed_deadlines`] for the deadline watcher.
//! A missed deadline is always an event: the watcher records it when the due
//! time passes, and a check or assessment done late records it in its own commit.
//! Personal data never enters this crate: the service carries it beside the events.

mod decide;
pub mod facilities;
pub mod model;

use std::collections::BTreeMap;

use pathway::{Category, CategoryStatus, Urgency};
use time::{Date, Duration, OffsetDateTime, Time};

pub use decide::{decide, missed_deadlines};
pub use model::*;

/// Screening ends within 7 days of arrival (Screening Regulation Art. 8(3)).
pub const SCREENING_DEADLINE: Duration = Duration::days(7);
/// The assessment is completed within 30 days of the application (Directive Art. 25).
pub const ASSESSMENT_DEADLINE: Duration = Duration::days(30);

/// What `decide` needs to know about the world.
#[derive(Debug, Clone)]
pub struct Context {
    pub now: OffsetDateTime,
}

/// A relative whose case is linked to this one, so that a family is kept together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyLink {
    pub case_id: CaseId,
    pub relation: Relation,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenCase {
    pub case_id: CaseId,
    pub arrival_place: PlaceCode,
    pub arrived_at: OffsetDateTime,
    pub province: Province,
    pub facility_id: FacilityId,
    pub family_links: Vec<FamilyLink>,
    pub application_date: Option<Date>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspicion {
    pub category: Category,
    pub indicators: Vec<Code>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreliminaryCheck {
    pub suspected: Vec<Suspicion>,
    pub urgent_care_needed: bool,
    pub health_flags: Vec<Code>,
    pub urgency: Urgency,
    pub place: PlaceCode,
    pub checked_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    pub suspected: Suspicion,
    pub urgency: Urgency,
    pub raised_by_role: Code,
    pub raised_by_organisation: String,
    pub raised_at: OffsetDateTime,
    /// A disclosure of gender-based violence happened; its details are never recorded.
    pub gbv_disclosure: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub outcomes: Vec<(Category, Outcome)>,
    pub special_reception_needs: bool,
    pub special_procedural_guarantees: bool,
    pub assessed_at: OffsetDateTime,
    pub assessor_role: Code,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub facility_id: FacilityId,
    pub province: Province,
    pub facility_kind: FacilityKind,
    pub placed_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Open(OpenCase),
    RecordPreliminaryCheck(PreliminaryCheck),
    RaiseSignal(Signal),
    RecordAssessment(Assessment),
    RecordApplication {
        application_date: Date,
    },
    Place(Placement),
    Close {
        reason: CloseReason,
        closed_at: OffsetDateTime,
    },
    /// From the deadline watcher: screening not completed within 7 days.
    MarkScreeningDeadlineMissed,
    /// From the deadline watcher: assessment not completed within 30 days.
    MarkAssessmentDeadlineMissed,
    /// Erase the person's personal data (their key is destroyed by the service).
    ErasePersonalData {
        reason: ErasureReason,
    },
    /// Record that identifying data was read, and why.
    RecordIdentityRead {
        purpose: ReadPurpose,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    CaseOpened(OpenCase),
    PreliminaryCheckRecorded(PreliminaryCheck),
    VulnerabilitySignalRaised(Signal),
    AssessmentRecorded {
        assessment: Assessment,
        reassessment: bool,
    },
    ApplicationRecorded {
        application_date: Date,
    },
    CasePlaced(Placement),
    CaseClosed {
        reason: CloseReason,
        closed_at: OffsetDateTime,
    },
    ScreeningDeadlineMissed {
        due_at: OffsetDateTime,
        detected_at: OffsetDateTime,
    },
    AssessmentDeadlineMissed {
        due_at: OffsetDateTime,
        detected_at: OffsetDateTime,
    },
    PersonalDataErased {
        reason: ErasureReason,
        erased_at: OffsetDateTime,
    },
    IdentityRead {
        purpose: ReadPurpose,
        read_at: OffsetDateTime,
    },
}

/// Why a command is refused. Messages name fields and rules, never case data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScreeningError {
    /// The command's content is not acceptable (maps to INVALID_ARGUMENT).
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: &'static str },
    #[error("case not found")]
    CaseNotFound,
    #[error("case already opened")]
    AlreadyOpened,
    #[error("case is closed")]
    CaseClosed,
    #[error("the preliminary check is already recorded")]
    PreliminaryCheckAlreadyRecorded,
    #[error("the application date is already recorded")]
    ApplicationAlreadyRecorded,
    #[error("a category of the assessment already has that status")]
    CategoryAlreadyInStatus,
    #[error("the person is already placed in that facility")]
    AlreadyPlacedThere,
    #[error("the deadline has not passed, or was met or already marked")]
    DeadlineNotMissed,
    #[error("the person's personal data is erased")]
    PersonalDataErased,
}

/// The screening record as decided so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub opened: Option<OpenCase>,
    pub closed: bool,
    pub application_date: Option<Date>,
    pub preliminary_check_at: Option<OffsetDateTime>,
    pub last_assessment_at: Option<OffsetDateTime>,
    pub categories: BTreeMap<Category, CategoryStatus>,
    pub placement: Option<Placement>,
    pub screening_deadline_missed: bool,
    pub assessment_deadline_missed: bool,
    pub personal_data_erased: bool,
}

impl State {
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> State {
        pathway::replay(events, State::evolve)
    }

    pub fn evolve(mut self, event: &Event) -> State {
        match event {
            Event::CaseOpened(open) => {
                self.application_date = open.application_date;
                self.opened = Some(open.clone());
            }
            Event::PreliminaryCheckRecorded(check) => {
                self.preliminary_check_at = Some(check.checked_at);
                for suspicion in &check.suspected {
                    self.suspect(suspicion.category);
                }
            }
            Event::VulnerabilitySignalRaised(signal) => self.suspect(signal.suspected.category),
            Event::AssessmentRecorded { assessment, .. } => {
                self.last_assessment_at = Some(assessment.assessed_at);
                for (category, outcome) in &assessment.outcomes {
                    self.categories.insert(*category, outcome.status());
                }
            }
            Event::ApplicationRecorded { application_date } => {
                self.application_date = Some(*application_date);
            }
            Event::CasePlaced(placement) => self.placement = Some(placement.clone()),
            Event::CaseClosed { .. } => self.closed = true,
            Event::ScreeningDeadlineMissed { .. } => self.screening_deadline_missed = true,
            Event::AssessmentDeadlineMissed { .. } => self.assessment_deadline_missed = true,
            Event::PersonalDataErased { .. } => self.personal_data_erased = true,
            Event::IdentityRead { .. } => {}
        }
        self
    }

    /// A new suspicion: unknown or ruled-out categories become suspected again
    /// (needs that appear later must still be assessed); confirmed ones stay.
    fn suspect(&mut self, category: Category) {
        let status = self
            .categories
            .entry(category)
            .or_insert(CategoryStatus::Suspected);
        if *status == CategoryStatus::RuledOut {
            *status = CategoryStatus::Suspected;
        }
    }

    pub fn arrived_at(&self) -> Option<OffsetDateTime> {
        self.opened.as_ref().map(|open| open.arrived_at)
    }

    /// When screening must be completed: 7 days after arrival.
    pub fn screening_due_at(&self) -> Option<OffsetDateTime> {
        self.arrived_at().map(|at| at + SCREENING_DEADLINE)
    }

    /// When the assessment must be completed: 30 days after the application was
    /// made (from the start of that day, UTC).
    pub fn assessment_due_at(&self) -> Option<OffsetDateTime> {
        self.application_date
            .map(|date| date.with_time(Time::MIDNIGHT).assume_utc() + ASSESSMENT_DEADLINE)
    }

    /// The assessment is met by an assessment recorded after the application
    /// (or any assessment when the application came later).
    pub fn assessment_done(&self) -> bool {
        self.last_assessment_at.is_some()
    }
}
