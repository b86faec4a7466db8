//! The monitoring service: the pathway's indicators (the domain brief's
//! "Monitoring", 1-10) computed from the whole case log, and their exports.
//!
//! `run` builds the service and serves until shutdown; `main.rs` only calls
//! it. Code map: `projection` (every producer's events, read by an explicit
//! allowlist, folded into each case's `pathway` and the safe spaces' places)
//! -> `compute` (the indicators' definitions, one table each, protected by
//! the `indicators` crate) -> `export` (CSV and Parquet, pseudonyms) ->
//! `api` (`MonitoringService`: validation, the caller's province scope,
//! streaming); `options` (population per province, chunk size).
//! It appends nothing: no kernel, no deadlines.

pub mod api;
pub mod compute;
pub mod export;
pub mod options;
pub mod pathway;
pub mod projection;

use std::sync::Arc;

use service_runtime::{
    Clock, OrganisationType, Rule, ServeError, ServiceConfig, ServiceContext, ServiceSpec,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

/// The service's name: its projection, its data folder, its configuration prefix.
pub const NAME: &str = "monitoring";

/// Who may call which RPC of the monitoring service (ARCHITECTURE.md,
/// authorisation). Handlers narrow further: a prefecture, and an analyst
/// whose token names a province, see only that province.
pub const AUTHORISATION: &[Rule] = {
    use OrganisationType::*;
    &[
        Rule {
            rpc: "/approdo.monitoring.v1.MonitoringService/GetIndicators",
            allowed: &[Analyst, Prefecture, Administrator],
        },
        Rule {
            rpc: "/approdo.monitoring.v1.MonitoringService/ExportIndicators",
            allowed: &[Analyst, Prefecture, Administrator],
        },
        // Per-case rows, pseudonymised: the analysts' and prefectures' only.
        Rule {
            rpc: "/approdo.monitoring.v1.MonitoringService/ExportCasePathways",
            allowed: &[Analyst, Prefecture],
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
    let spec = ServiceSpec::with_catalogue(
        NAME,
        projection::MonitoringProjection,
        "approdo.monitoring.v1.MonitoringService",
        AUTHORISATION,
    );
    let options: options::MonitoringOptions = config.options()?;
    service_runtime::run(spec, config, listener, shutdown, clock, move |context| {
        routes(context, options)
    })
    .await
}

/// The service's gRPC services (each also named in `run`'s spec).
fn routes(context: &ServiceContext, options: options::MonitoringOptions) -> Routes {
    Routes::new(api::MonitoringApi::new(context, options).into_server())
}
