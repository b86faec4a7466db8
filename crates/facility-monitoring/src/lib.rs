//! Uniform monitoring of reception and detention facilities
//! (`shared/design/domain.md`, "Monitoring"): monitoring visits scored
//! against one checklist ([`checklist`]), staff training sessions
//! ([`training`]), and what they show: a facility's scorecard and its trend,
//! facilities and provinces compared ([`scorecard`]).
//!
//! One aggregate, [`record`]: the monitoring record of a facility
//! (`approdo.facility.<facility_id>.monitoring`: its visits and its staff's
//! training sessions) or of an organisation that is not a facility
//! (`approdo.organisation.<organisation_id>.monitoring`: training sessions
//! only). Pure: time, the acting organisation and what the facility registry
//! says of the facility arrive in the [`Context`]. No personal data: visits
//! carry scores, never free text; training sessions a count of participants.

pub mod checklist;
pub mod decide;
pub mod record;
pub mod scorecard;
pub mod training;

use pathway::Province;
use time::OffsetDateTime;

pub use checklist::{CHECKLIST_VERSION, INDICATORS, Indicator, Score, Scoring, Section};
pub use decide::decide;
pub use record::{Command, Event, RecordError, State, TrainingRecorded, Visit, VisitRecorded};
pub use training::{TrainingSession, TrainingTopic};

/// Who is acting, from the verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A prefecture, a monitoring body of a province (its token's province).
    Prefecture { organisation_id: String },
    /// A national monitoring body or the platform's administrators.
    Administrator { organisation_id: String },
    /// A reception operator (its organisation id is its facility's id).
    ReceptionOperator { organisation_id: String },
    /// A receiving service (an organisation of the referral directory).
    ReceivingService { organisation_id: String },
}

impl Actor {
    pub fn organisation_id(&self) -> &str {
        match self {
            Actor::Prefecture { organisation_id }
            | Actor::Administrator { organisation_id }
            | Actor::ReceptionOperator { organisation_id }
            | Actor::ReceivingService { organisation_id } => organisation_id,
        }
    }
}

/// Whose monitoring record a command is about, as the registry says (never a
/// request field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOf {
    /// A facility registered in screening's facility registry, with the
    /// province and kind it is registered with.
    Facility {
        facility_id: String,
        province: Province,
        /// `case_screening::FacilityKind` code (`hotspot`, `cas`, `detention`, ...).
        kind: String,
    },
    /// An organisation that runs no facility (a receiving service).
    Organisation { organisation_id: String },
}

/// What a decision needs besides the record's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub now: OffsetDateTime,
    pub actor: Actor,
    pub record: RecordOf,
}
