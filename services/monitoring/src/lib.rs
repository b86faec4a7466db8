//! The monitoring service: the case log followed into a catalogue projection
//! (events applied, per type and per root), gRPC health, server reflection,
//! the projection admin API, and analyst replay (`replay`: a case's history
//! and state as of any point, what-if deadline compliance).
//!
//! `run` serves until shutdown; `main.rs` only calls it.

pub mod replay;
pub mod visits;

use std::sync::Arc;

use service_runtime::{Clock, OrganisationType, Rule, ServeError, ServiceConfig, ServiceSpec};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The service's name: its projection, its data folder, its configuration prefix.
pub const NAME: &str = "monitoring";

/// Who may call which RPC of the monitoring service. Replay narrows further:
/// an analyst whose token names a province sees only that province's cases.
pub const AUTHORISATION: &[Rule] = {
    use OrganisationType::*;
    &[
        Rule {
            rpc: "/approdo.monitoring.v1.CaseReplayService/GetCaseHistoryAsOf",
            allowed: &[Analyst, Administrator],
        },
        Rule {
            rpc: "/approdo.monitoring.v1.CaseReplayService/ReplayDeadlineCompliance",
            allowed: &[Analyst, Administrator],
        },
    ]
};

/// Serves the monitoring service on `listener` until `shutdown` is cancelled.
pub async fn run(
    config: ServiceConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
    clock: Arc<dyn Clock>,
) -> Result<(), ServeError> {
    let spec = ServiceSpec {
        name: NAME,
        projection: projection_sled::Catalogue::new(NAME),
        grpc_services: vec![replay::SERVICE],
        authorisation: AUTHORISATION,
    };
    service_runtime::run(spec, config, listener, shutdown, clock, |context| {
        tonic::service::Routes::new(replay::server(context))
    })
    .await
}
