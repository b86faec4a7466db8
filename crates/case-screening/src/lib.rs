//! The screening record of a case, where the case begins and where every
//! vulnerability is detected (rilevazione) and assessed: Screening Regulation
//! (EU) 2024/1356 Art. 8, 12, 17; Reception Conditions Directive (EU) 2024/1346
//! Art. 24-25. Pure: time arrives in the [`Context`], ids in the commands.
//!
//! `decide(&State, Command, &Context) -> Result<Vec<Event>, ScreeningError>`,
//! `State::evolve(&Event)`, and [`missed_deadlines`] for the deadline watcher.
//! A missed deadline is always an event: the watcher records it when the due
//! time passes, and a check or assessment done late records it in its own commit.
//! Deadlines in days are calendar days in Europe/Rome
//! ([`pathway::calendar::limit_ends`]): screening within 7 days (of arrival at a
//! hotspot, of the opening elsewhere), the assessment within 30 days of the
//! application, each need identified after the first assessment within 30
//! days of being raised ([`screening_due_at`], [`assessment_due_at`],
//! [`need_assessment_due_at`]: the one place of each rule).
//! Personal data never enters this crate: the service carries it beside the events.

mod decide;
pub mod facilities;
pub mod follow_up;
pub mod minors;
pub mod model;

use std::collections::BTreeMap;

use pathway::calendar::{date_in_rome, limit_ends};
use pathway::{CaseUrgency, Category, CategoryStatus, Urgency};
use time::{Date, OffsetDateTime};

pub use decide::{decide, missed_deadlines};
pub use follow_up::{FollowUpRecord, FollowUpSchedule, FollowUps};
pub use minors::{AgeAssessment, GuardianAppointment, MinorRecord};
pub use model::*;
pub use pathway::{AgeBand, Sex};

/// Screening ends within 7 days (Screening Regulation Art. 8(3)).
pub const SCREENING_DAYS: i64 = 7;
/// The assessment is completed within 30 days of the application (Directive
/// Art. 25); a need identified after the first assessment is assessed within
/// 30 days of being raised.
pub const ASSESSMENT_DAYS: i64 = 30;

/// When screening must be completed: 7 calendar days (in Rome) from the day
/// of arrival for a case opened at a landing or hotspot (and for cases opened
/// before the facility kind was recorded), from the day of the opening for a
/// case opened in the territory (any other kind of facility), where the
/// person may arrive weeks after landing.
pub fn screening_due_at(
    arrived_at: OffsetDateTime,
    facility_kind: Option<FacilityKind>,
    opened_at: Option<OffsetDateTime>,
) -> OffsetDateTime {
    DeadlineDays::IN_FORCE.screening_due_at(arrived_at, facility_kind, opened_at)
}

/// When the assessment must be completed: 30 calendar days (in Rome) from the
/// day the application was made.
pub fn assessment_due_at(application_date: Date) -> OffsetDateTime {
    DeadlineDays::IN_FORCE.assessment_due_at(application_date)
}

/// The days of the screening and assessment rules: the law's
/// ([`DeadlineDays::IN_FORCE`]) everywhere a case is decided; other values
/// only where a deadline policy is replayed as a what-if (monitoring).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlineDays {
    pub screening: i64,
    pub assessment: i64,
}

impl DeadlineDays {
    pub const IN_FORCE: DeadlineDays = DeadlineDays {
        screening: SCREENING_DAYS,
        assessment: ASSESSMENT_DAYS,
    };

    /// [`screening_due_at`] with `self.screening` days.
    pub fn screening_due_at(
        &self,
        arrived_at: OffsetDateTime,
        facility_kind: Option<FacilityKind>,
        opened_at: Option<OffsetDateTime>,
    ) -> OffsetDateTime {
        let from = match (facility_kind, opened_at) {
            (Some(kind), Some(opened_at)) if kind != FacilityKind::Hotspot => opened_at,
            _ => arrived_at,
        };
        in_utc(limit_ends(date_in_rome(from), self.screening))
    }

    /// [`assessment_due_at`] with `self.assessment` days.
    pub fn assessment_due_at(&self, application_date: Date) -> OffsetDateTime {
        in_utc(limit_ends(application_date, self.assessment))
    }
}

/// When a need identified after the first assessment must be assessed: 30
/// calendar days (in Rome) from the day it was raised.
pub fn need_assessment_due_at(raised_at: OffsetDateTime) -> OffsetDateTime {
    in_utc(limit_ends(date_in_rome(raised_at), ASSESSMENT_DAYS))
}

/// The instant in UTC, as every other time of the record (the same instant).
fn in_utc(at: OffsetDateTime) -> OffsetDateTime {
    at.to_offset(time::UtcOffset::UTC)
}

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
    /// The kind of the facility the case is opened in, as registered (never
    /// what a request says): screening runs from arrival at a hotspot, from the
    /// opening elsewhere. `None` only in events recorded before it existed
    /// (their screening ran from arrival).
    pub facility_kind: Option<FacilityKind>,
    /// When the case was opened: `decide` records the command's time (the
    /// context's), whatever the command holds. `None` only in events recorded
    /// before it existed.
    pub opened_at: Option<OffsetDateTime>,
    pub family_links: Vec<FamilyLink>,
    pub application_date: Option<Date>,
    /// The person's age band at opening, in clear (`unknown` when not known,
    /// and in events recorded before it existed); the date of birth stays sealed.
    pub age_band: AgeBand,
    /// The person's sex as recorded at registration, in clear (`unknown` when
    /// not recorded, and in events recorded before it existed).
    pub sex: Sex,
}

impl OpenCase {
    /// When screening must be completed ([`screening_due_at`]).
    pub fn screening_due_at(&self) -> OffsetDateTime {
        screening_due_at(self.arrived_at, self.facility_kind, self.opened_at)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspicion {
    pub category: Category,
    pub indicators: Vec<Code>,
    /// For `OTHER` only, which need: a code of the `other_need` vocabulary in force.
    pub other_need: Option<Code>,
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
    /// The case's urgency as the assessment sets it, lower than before too;
    /// `None` leaves it as it was.
    pub urgency: Option<Urgency>,
    /// When the outcomes hold `OTHER`, which need: a code of the `other_need`
    /// vocabulary in force (a category is assessed once per assessment).
    pub other_need: Option<Code>,
}

/// A need identified after the first assessment (a check or signal that made a
/// category suspected again, or for the first time): it has an assessment
/// duty and deadline of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateNeed {
    pub raised_at: OffsetDateTime,
    pub due_at: OffsetDateTime,
    /// Its deadline passed unmet (an event records it).
    pub deadline_missed: bool,
}

/// A formal identification by the body competent for a category, after an
/// assessment confirmed it (made it presumed): today TRAFFICKING only, by an
/// anti-trafficking body. Which organisations are such bodies is the
/// service's configuration, checked against the caller's verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormalIdentification {
    pub category: Category,
    /// The identifying body: the caller's verified organisation.
    pub identified_by_organisation: String,
    pub identified_at: OffsetDateTime,
}

/// The categories that have a formal identification (by an anti-trafficking body).
pub fn has_formal_identification(category: Category) -> bool {
    category == Category::Trafficking
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub facility_id: FacilityId,
    pub province: Province,
    pub facility_kind: FacilityKind,
    pub placed_at: OffsetDateTime,
    /// When the new facility must have confirmed the person arrived (a
    /// follow-up found them), or they are lost to follow-up; `None` in
    /// placements recorded before arrivals were expected.
    pub arrival_due_at: Option<OffsetDateTime>,
    /// For a placement in detention: why, and who decided.
    pub detention: Option<DetentionGrounds>,
}

/// Why a person is detained and who decided: required to detain a person
/// with a confirmed vulnerability or a minor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetentionGrounds {
    pub justification: DetentionJustification,
    /// The caller's verified organisation.
    pub decided_by_organisation: String,
    /// The authority that ordered it, when not the recording organisation.
    pub authority: Option<DetentionAuthority>,
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
    /// From the deadline watcher: a need identified after the first
    /// assessment (of `category`, raised at `raised_at`) not assessed within 30 days.
    MarkNeedAssessmentDeadlineMissed {
        category: Category,
        raised_at: OffsetDateTime,
    },
    /// A formal identification by the competent body (the caller, checked by the service).
    RecordFormalIdentification(FormalIdentification),
    /// Erase the person's personal data (their key is destroyed by the service).
    ErasePersonalData {
        reason: ErasureReason,
    },
    /// Record that identifying data was read, and why.
    RecordIdentityRead {
        purpose: ReadPurpose,
    },
    /// The age as the competent authority assessed it.
    AssessAge(AgeAssessment),
    /// A minor's guardian (tutore) appointed.
    AppointGuardian(GuardianAppointment),
    ScheduleFollowUp(FollowUpSchedule),
    RecordFollowUp(FollowUpRecord),
    /// From the deadline watcher: an unaccompanied minor is still in first
    /// reception after 45 days.
    MarkFirstReceptionLimitExceeded,
    /// From the deadline watcher: a follow-up's day ended unrecorded.
    MarkFollowUpMissed {
        follow_up_id: FollowUpId,
    },
    /// From the deadline watcher: a transferred person was not found at the new facility in time.
    MarkLostToFollowUp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    CaseOpened(OpenCase),
    PreliminaryCheckRecorded(PreliminaryCheck),
    VulnerabilitySignalRaised(Signal),
    AssessmentRecorded {
        assessment: Assessment,
        reassessment: bool,
        /// The categories suspected before the first assessment that are, after
        /// this one, still neither confirmed nor ruled out: the assessment is
        /// completed by the first one that leaves none (empty in events recorded
        /// before it existed: any first assessment completed it).
        still_to_assess: Vec<Category>,
    },
    /// A check or signal after the first assessment made `category` suspected:
    /// a need identified later, to be assessed by `due_at`.
    NeedIdentifiedAfterAssessment {
        category: Category,
        raised_at: OffsetDateTime,
        due_at: OffsetDateTime,
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
    /// A need identified after the first assessment was not assessed by its due time.
    NeedAssessmentDeadlineMissed {
        category: Category,
        raised_at: OffsetDateTime,
        due_at: OffsetDateTime,
        detected_at: OffsetDateTime,
    },
    FormalIdentificationRecorded(FormalIdentification),
    PersonalDataErased {
        reason: ErasureReason,
        erased_at: OffsetDateTime,
    },
    IdentityRead {
        purpose: ReadPurpose,
        read_at: OffsetDateTime,
    },
    AgeAssessed(AgeAssessment),
    GuardianAppointed(GuardianAppointment),
    /// A person with a confirmed vulnerability, or a minor, placed in
    /// detention (indicator 8): in the commit of the placement.
    VulnerablePersonDetained {
        facility_id: FacilityId,
        /// The categories confirmed on the case.
        categories: Vec<Category>,
        age_band: AgeBand,
        grounds: DetentionGrounds,
        detained_at: OffsetDateTime,
    },
    /// An unaccompanied minor still in first reception when the 45 days ended.
    FirstReceptionLimitExceeded {
        facility_id: FacilityId,
        entered_on: Date,
        due_at: OffsetDateTime,
        detected_at: OffsetDateTime,
    },
    FollowUpScheduled(FollowUpSchedule),
    FollowUpRecorded(FollowUpRecord),
    FollowUpMissed {
        follow_up_id: FollowUpId,
        due_on: Date,
        detected_at: OffsetDateTime,
    },
    /// A transferred person not found at the new facility in time.
    LostToFollowUp {
        facility_id: FacilityId,
        placed_at: OffsetDateTime,
        due_at: OffsetDateTime,
        detected_at: OffsetDateTime,
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
    #[error("the category is not confirmed by an assessment: it is not presumed")]
    NotPresumed,
    #[error("the category is already formally identified")]
    AlreadyFormallyIdentified,
    #[error("a formally identified category cannot be ruled out by an assessment")]
    FormallyIdentified,
    #[error("the case is not a minor's (by age band, or presumed)")]
    NotAMinor,
    #[error("an unaccompanied minor, or a person presumed a minor, is never placed in detention")]
    MinorInDetention,
    #[error(
        "detaining a minor or a person with a confirmed vulnerability needs a recorded justification"
    )]
    DetentionNeedsJustification,
    #[error("the follow-up is already recorded")]
    FollowUpAlreadyRecorded,
    #[error("too many follow-ups wait to be recorded on this case")]
    TooManyOpenFollowUps,
}

/// The screening record as decided so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub opened: Option<OpenCase>,
    pub closed: bool,
    pub application_date: Option<Date>,
    pub preliminary_check_at: Option<OffsetDateTime>,
    pub last_assessment_at: Option<OffsetDateTime>,
    /// When the assessment was completed: every category suspected before the
    /// first assessment confirmed or ruled out.
    pub assessment_completed_at: Option<OffsetDateTime>,
    pub categories: BTreeMap<Category, CategoryStatus>,
    /// Needs identified after the first assessment, not assessed yet.
    pub late_needs: BTreeMap<Category, LateNeed>,
    /// The case's urgency now (raised by checks and signals, set by assessments).
    pub urgency: CaseUrgency,
    /// Formal identifications, by category.
    pub formal_identifications: BTreeMap<Category, FormalIdentification>,
    pub placement: Option<Placement>,
    pub screening_deadline_missed: bool,
    pub assessment_deadline_missed: bool,
    pub personal_data_erased: bool,
    /// Age band, guardian, first-reception stay (`minors.rs`).
    pub minor: MinorRecord,
    /// Follow-ups and the arrival a transfer expects (`follow_up.rs`).
    pub follow_ups: FollowUps,
}

impl State {
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> State {
        pathway::replay(events, State::evolve)
    }

    pub fn evolve(mut self, event: &Event) -> State {
        self.minor.evolve(event);
        self.follow_ups.evolve(event);
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
                self.urgency = self.urgency.raised(check.urgency);
            }
            Event::VulnerabilitySignalRaised(signal) => {
                self.suspect(signal.suspected.category);
                self.urgency = self.urgency.raised(signal.urgency);
            }
            Event::AssessmentRecorded {
                assessment,
                still_to_assess,
                ..
            } => {
                self.last_assessment_at = Some(assessment.assessed_at);
                for (category, outcome) in &assessment.outcomes {
                    self.categories.insert(*category, outcome.status());
                    self.late_needs.remove(category);
                }
                if self.assessment_completed_at.is_none() && still_to_assess.is_empty() {
                    self.assessment_completed_at = Some(assessment.assessed_at);
                }
                if let Some(urgency) = assessment.urgency {
                    self.urgency = self.urgency.assessed(urgency);
                }
            }
            Event::NeedIdentifiedAfterAssessment {
                category,
                raised_at,
                due_at,
            } => {
                self.late_needs.insert(
                    *category,
                    LateNeed {
                        raised_at: *raised_at,
                        due_at: *due_at,
                        deadline_missed: false,
                    },
                );
            }
            Event::NeedAssessmentDeadlineMissed {
                category,
                raised_at,
                ..
            } => {
                if let Some(need) = self.late_needs.get_mut(category)
                    && need.raised_at == *raised_at
                {
                    need.deadline_missed = true;
                }
            }
            Event::FormalIdentificationRecorded(identification) => {
                self.categories
                    .insert(identification.category, CategoryStatus::Confirmed);
                self.formal_identifications
                    .insert(identification.category, identification.clone());
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
            // Kept by their own records (`minor`, `follow_ups`), evolved above.
            Event::AgeAssessed(_)
            | Event::GuardianAppointed(_)
            | Event::VulnerablePersonDetained { .. }
            | Event::FirstReceptionLimitExceeded { .. }
            | Event::FollowUpScheduled(_)
            | Event::FollowUpRecorded(_)
            | Event::FollowUpMissed { .. }
            | Event::LostToFollowUp { .. } => {}
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

    /// When screening must be completed ([`screening_due_at`]).
    pub fn screening_due_at(&self) -> Option<OffsetDateTime> {
        self.opened.as_ref().map(OpenCase::screening_due_at)
    }

    /// When the assessment must be completed ([`assessment_due_at`]).
    pub fn assessment_due_at(&self) -> Option<OffsetDateTime> {
        self.application_date.map(assessment_due_at)
    }

    /// The assessment is completed: every category suspected before the first
    /// assessment is confirmed or ruled out (needs identified later have
    /// duties of their own). An application recorded after it finds it done.
    pub fn assessment_completed(&self) -> bool {
        self.assessment_completed_at.is_some()
    }

    /// Where a category with a formal identification stands: presumed once
    /// an assessment confirmed it, formally identified once the competent body
    /// identified the person; `None` otherwise.
    pub fn identification(&self, category: Category) -> Option<Identification> {
        if self.formal_identifications.contains_key(&category) {
            Some(Identification::FormallyIdentified)
        } else if has_formal_identification(category)
            && self.categories.get(&category) == Some(&CategoryStatus::Confirmed)
        {
            Some(Identification::Presumed)
        } else {
            None
        }
    }
}
