//! What every service shares at its edge: configuration, shutdown, serving
//! (health, reflection, projection admin, load shedding), caller identity, and
//! the mapping of errors to gRPC statuses. Domain code never sees any of it.

pub mod admin;
pub mod authorisation;
pub mod caller;
pub mod clock;
pub mod config;
pub mod entry;
pub mod error;
pub mod jurisdiction;
pub mod person_keys;
pub mod serve;
pub mod shutdown;

pub use authorisation::{AuthorisationTable, Rule};
pub use caller::{Caller, CallerExtractor, IssuerConfig, OrganisationType, TokenIssuer};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{ReferralDeadlines, ServiceConfig};
pub use error::{FieldViolation, ServiceError, Violations};
pub use jurisdiction::{Jurisdiction, Whereabouts};
pub use person_keys::{PersonKeyKeeper, PersonKeyReader};
pub use serve::{ServeError, ServiceContext, ServiceSpec, run};
