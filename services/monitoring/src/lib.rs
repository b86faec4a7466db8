//! Monitoring: indicators computed from the case log, for analysts, without identities.
//!
//! `run` builds the service and serves until shutdown; `main.rs` only calls it.

use projection_sled::Catalogue;
use service_runtime::{ServeError, ServiceConfig, ServiceSpec};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The service's name: its projection, its data folder, its configuration prefix.
pub const NAME: &str = "monitoring";

/// Serves the monitoring service on `listener` until `shutdown` is cancelled.
pub async fn run(
    config: ServiceConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let spec = ServiceSpec {
        name: NAME,
        projection: Catalogue::new(NAME),
        grpc_services: vec!["approdo.admin.v1.ProjectionAdminService"],
        // No domain RPCs yet: only the projection admin API, whose rules the runtime adds.
        authorisation: &[],
    };
    service_runtime::run(spec, config, listener, shutdown, |_| {
        tonic::service::Routes::default()
    })
    .await
}
