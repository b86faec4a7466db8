//! What every service shares at its edge: configuration, shutdown, serving
//! (health, reflection, projection admin, load shedding), caller identity, and
//! the mapping of errors to gRPC statuses, the command kernel every command runs
//! through, and the deadline watcher. Domain code never sees any of it.

pub mod admin;
pub mod authorisation;
pub mod caller;
pub mod clock;
pub mod config;
pub mod deadlines;
pub mod entry;
pub mod error;
pub mod jurisdiction;
pub mod kernel;
pub mod log_usage;
pub mod metrics;
pub mod paging;
pub mod person_keys;
pub mod reads;
pub mod refusals;
pub mod serve;
pub mod shutdown;
pub mod vocabularies;
pub mod watches;

pub use admin::ErasuresPending;
pub use authorisation::{AuthorisationTable, Rule};
pub use caller::{Caller, CallerExtractor, IssuerConfig, OrganisationType, TokenIssuer};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::ServiceConfig;
pub use deadlines::{DeadlinePasses, DeadlineWatch, Prepared};
pub use error::{FieldViolation, Refusal, ServiceError, Violations};
pub use jurisdiction::{Jurisdiction, Whereabouts};
pub use kernel::{Aggregate, Authority, EncodeError, Kernel, Preview, Target};
pub use metrics::{Metrics, MetricsConfig};
pub use person_keys::{NeedsKey, NeedsKeyKeeper, PersonKeyKeeper, PersonKeyReader, SpaceKeyKeeper};
pub use serve::{ServeError, ServiceContext, ServiceSpec, run, run_without_rpcs};
