//! What the referral record knows about its case: the facts the screening
//! service recorded (where the case is, its categories, its current urgency,
//! the person's age band, whether it is closed), read by the service from the
//! log before each command and given to `decide` in the [`Context`](crate::Context);
//! and the rules that read them: who is a minor, and who may consent for one
//! ([`MinorsPolicy`], configuration).

use std::collections::BTreeMap;

use pathway::{AgeBand, CaseUrgency, Category, CategoryStatus, Urgency};
use time::OffsetDateTime;

use crate::{Code, FacilityId, Province};

/// Where a case is: the facility it is in and the facility's province.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub province: Province,
    pub facility_id: FacilityId,
}

/// The facts screening recorded about the case, as the service read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFacts {
    /// Where the case is now (where it was last placed, or where it opened);
    /// `None` for a case the service could not place (never opened).
    pub place: Option<Place>,
    /// Each category recorded on the case, with where it stands.
    pub categories: BTreeMap<Category, CategoryStatus>,
    /// Raised by checks and signals, set by assessments (lower too).
    pub urgency: CaseUrgency,
    /// When the case reached its current urgency (the service's time of the
    /// screening commit that stated it): tightened deadlines run from then.
    pub urgency_since: Option<OffsetDateTime>,
    /// From `CaseOpened`, replaced by each `AgeAssessed`; unknown when unsaid.
    pub age_band: AgeBand,
    /// Whether the band is the competent authority's (`AgeAssessed`), not
    /// the one declared at opening.
    pub age_assessed: bool,
    /// Why the case was closed (the screening closure reason code), if it was.
    pub closed: Option<Code>,
}

impl Default for CaseFacts {
    fn default() -> Self {
        CaseFacts {
            place: None,
            categories: BTreeMap::new(),
            urgency: CaseUrgency::default(),
            urgency_since: None,
            age_band: AgeBand::Unknown,
            age_assessed: false,
            closed: None,
        }
    }
}

impl CaseFacts {
    /// The urgency a referral's deadlines follow: the case's current urgency,
    /// standard while none was stated.
    pub fn urgency(&self) -> Urgency {
        self.urgency.current().unwrap_or(Urgency::Standard)
    }

    /// Whether `category` is suspected or confirmed on the case (not ruled
    /// out, not unrecorded).
    pub fn has(&self, category: Category) -> bool {
        matches!(
            self.categories.get(&category),
            Some(CategoryStatus::Suspected | CategoryStatus::Confirmed)
        )
    }

    /// A minor: a minor age band, or a minor category not ruled out while
    /// no assessment decided the age (in doubt, minority is presumed).
    pub fn is_minor(&self) -> bool {
        pathway::minority::is_minor(self.age_band, self.age_assessed, |category| {
            self.categories.get(&category).copied()
        })
    }

    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }
}

/// Who may consent for a minor, by age band (configurable: `[options.minors]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinorsPolicy {
    /// A minor consents alone from the band whose youngest age is at least this.
    pub consent_from_age: u8,
    /// A guardian's consent needs the child's assent unless the whole band is
    /// younger than this.
    pub assent_from_age: u8,
}

impl Default for MinorsPolicy {
    fn default() -> Self {
        MinorsPolicy {
            consent_from_age: 15,
            assent_from_age: 6,
        }
    }
}

/// The oldest age in a band (`None`: unbounded or unknown).
fn oldest(band: AgeBand) -> Option<u8> {
    match band {
        AgeBand::UpTo5 => Some(5),
        AgeBand::From6To13 => Some(13),
        AgeBand::From14To15 => Some(15),
        AgeBand::From16To17 => Some(17),
        AgeBand::Adult | AgeBand::Unknown => None,
    }
}

impl MinorsPolicy {
    /// Whether the person may consent alone: an adult, or a minor whose band
    /// starts at the consent age or later (a presumed minor, whose band is
    /// unknown or disputed, never does).
    pub fn may_consent_alone(&self, case: &CaseFacts) -> bool {
        !case.is_minor()
            || case.age_band.is_minor()
                && case
                    .age_band
                    .youngest()
                    .is_some_and(|youngest| youngest >= self.consent_from_age)
    }

    /// Whether a guardian's consent for this minor needs the child's assent:
    /// yes unless every age of the band is under the assent age (an infant);
    /// an unknown band needs it.
    pub fn assent_needed(&self, band: AgeBand) -> bool {
        oldest(band).is_none_or(|oldest| oldest >= self.assent_from_age)
    }
}
