//! Minors on the screening record: the age band (in clear; the date of birth
//! stays sealed), its assessment by the competent authority, the guardian
//! (tutore) of a minor, and the stay in first reception that an unaccompanied
//! minor may not prolong beyond 45 days (D.Lgs. 142/2015 art. 19).
//!
//! Who is a minor is one rule, `pathway::minority::is_minor`: the age band says so, or a
//! minor category is not ruled out and no age assessment decided the band (in
//! doubt, minority is presumed, whatever band the opening declared). Every rule about minors (detention, guardian, first reception)
//! asks it, and the screening projection asks it too for its candidates.

use pathway::AgeBand;
use time::{Date, OffsetDateTime};

use crate::{Event, FacilityId, FacilityKind, GuardianKind, State};

/// An unaccompanied minor stays at most this many days in first reception.
pub const FIRST_RECEPTION_LIMIT_DAYS: i64 = 45;

/// The person's age as the competent authority assessed it (the juvenile
/// court, or an authority the configuration names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgeAssessment {
    /// Never `unknown`: an assessment concludes.
    pub age_band: AgeBand,
    /// The caller's verified organisation, one the configuration names.
    pub assessed_by_organisation: String,
    pub assessed_at: OffsetDateTime,
}

/// The appointment of a minor's guardian (tutore): who the guardian is by kind
/// and, where it is an organisation, its id; never a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardianAppointment {
    pub guardian_kind: GuardianKind,
    /// The guardian's organisation (social services, the facility), if any.
    pub guardian_organisation_id: Option<String>,
    /// The caller's verified organisation, one the configuration names.
    pub appointed_by_organisation: String,
    /// When the appointment was decided.
    pub appointed_at: OffsetDateTime,
}

pub use pathway::minority::{is_minor, is_presumed_minor, is_unaccompanied_minor};

/// The kinds of facility that are first reception (hotspot, CPA, CAS).
pub fn is_first_reception(kind: FacilityKind) -> bool {
    matches!(
        kind,
        FacilityKind::Hotspot | FacilityKind::FirstReception | FacilityKind::Cas
    )
}

/// The person's stay in first reception, as the events tell it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirstReceptionStay {
    /// How many stays in first reception began (each has its own limit).
    pub stays: u32,
    /// The day (in Rome) the current stay began; `None` when not in first reception.
    pub entered_on: Option<Date>,
    /// The facility the person is in, while in first reception.
    pub facility_id: Option<FacilityId>,
    /// The current stay's limit was recorded as exceeded.
    pub limit_recorded: bool,
}

impl FirstReceptionStay {
    fn moved(&mut self, facility_id: &FacilityId, kind: Option<FacilityKind>, at: OffsetDateTime) {
        if kind.is_some_and(is_first_reception) {
            // From one first-reception facility to another, the stay goes on.
            if self.entered_on.is_none() {
                self.stays += 1;
                self.entered_on = Some(pathway::calendar::date_in_rome(at));
                self.limit_recorded = false;
            }
            self.facility_id = Some(facility_id.clone());
        } else {
            self.entered_on = None;
            self.facility_id = None;
        }
    }

    /// When the current stay's 45 days end, if the person is in first reception.
    pub fn limit_ends_at(&self) -> Option<OffsetDateTime> {
        self.entered_on
            .map(|day| pathway::calendar::limit_ends(day, FIRST_RECEPTION_LIMIT_DAYS))
    }
}

/// The minors' part of the screening record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinorRecord {
    /// At opening, then as assessed.
    pub age_band: AgeBand,
    /// The last age assessment, if any.
    pub age_assessed: Option<AgeAssessment>,
    /// The guardian appointed last, if any.
    pub guardian: Option<GuardianAppointment>,
    pub first_reception: FirstReceptionStay,
}

/// Before any opening the age is unknown.
impl Default for MinorRecord {
    fn default() -> Self {
        MinorRecord {
            age_band: AgeBand::Unknown,
            age_assessed: None,
            guardian: None,
            first_reception: FirstReceptionStay::default(),
        }
    }
}

impl MinorRecord {
    pub(crate) fn evolve(&mut self, event: &Event) {
        match event {
            Event::CaseOpened(open) => {
                self.age_band = open.age_band;
                self.first_reception
                    .moved(&open.facility_id, open.facility_kind, open.arrived_at);
            }
            Event::CasePlaced(placement) => self.first_reception.moved(
                &placement.facility_id,
                Some(placement.facility_kind),
                placement.placed_at,
            ),
            Event::AgeAssessed(assessment) => {
                self.age_band = assessment.age_band;
                self.age_assessed = Some(assessment.clone());
            }
            Event::GuardianAppointed(appointment) => self.guardian = Some(appointment.clone()),
            Event::FirstReceptionLimitExceeded { .. } => self.first_reception.limit_recorded = true,
            _ => {}
        }
    }
}

impl State {
    /// The case's age band now.
    pub fn age_band(&self) -> AgeBand {
        self.minor.age_band
    }

    /// A minor by the one rule ([`is_minor`]).
    pub fn is_minor(&self) -> bool {
        is_minor(self.age_band(), self.minor.age_assessed.is_some(), |c| {
            self.categories.get(&c).copied()
        })
    }

    /// Presumed a minor: band unknown, a minor category not ruled out.
    pub fn is_presumed_minor(&self) -> bool {
        is_presumed_minor(self.age_band(), self.minor.age_assessed.is_some(), |c| {
            self.categories.get(&c).copied()
        })
    }

    /// An unaccompanied minor, or presumed one.
    pub fn is_unaccompanied_minor(&self) -> bool {
        is_unaccompanied_minor(self.age_band(), self.minor.age_assessed.is_some(), |c| {
            self.categories.get(&c).copied()
        })
    }
}
