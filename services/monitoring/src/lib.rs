//! The monitoring service: the pathway's indicators (the domain brief's
//! "Monitoring", 1-10) computed from the whole case log, and their exports;
//! uniform monitoring visits to facilities and staff training records
//! (`visits`); analyst replay (`replay`: a case's history and state as of any
//! point, what-if deadline compliance).
//!
//! `run` builds the service and serves until shutdown; `main.rs` only calls
//! it. Code map: `projection` (every producer's events, read by an explicit
//! allowlist, folded into each case's `pathway`, the safe spaces' places and
//! the facilities' visits) -> `compute` (the indicators' definitions, one
//! table each, protected by the `indicators` crate) -> `export` (CSV and
//! Parquet, pseudonyms) -> `api` (`MonitoringService`: validation, the
//! caller's province scope, streaming); `options` (population per province,
//! chunk size). Only `visits` appends (through the runtime's kernel); the
//! indicators and the replay read.

pub mod api;
pub mod compute;
pub mod export;
pub mod options;
pub mod pathway;
pub mod projection;
pub mod replay;
pub mod visits;

use std::sync::Arc;

use contracts::monitoring::v1::facility_monitoring_service_server::FacilityMonitoringServiceServer;
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
/// whose token names a province, see only that province; visits and training
/// records are checked against the facility's or organisation's jurisdiction.
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
        Rule {
            rpc: "/approdo.monitoring.v1.CaseReplayService/GetCaseHistoryAsOf",
            allowed: &[Analyst, Administrator],
        },
        Rule {
            rpc: "/approdo.monitoring.v1.CaseReplayService/ReplayDeadlineCompliance",
            allowed: &[Analyst, Administrator],
        },
        Rule {
            rpc: "/approdo.monitoring.v1.FacilityMonitoringService/GetChecklist",
            allowed: &[
                Administrator,
                Prefecture,
                ReceptionOperator,
                ReceivingService,
                Analyst,
                Police,
            ],
        },
        Rule {
            rpc: "/approdo.monitoring.v1.FacilityMonitoringService/RecordVisit",
            allowed: &[Administrator, Prefecture],
        },
        Rule {
            rpc: "/approdo.monitoring.v1.FacilityMonitoringService/RecordTrainingSession",
            allowed: &[
                Administrator,
                Prefecture,
                ReceptionOperator,
                ReceivingService,
            ],
        },
        Rule {
            rpc: "/approdo.monitoring.v1.FacilityMonitoringService/GetFacilityScorecard",
            allowed: &[Administrator, Prefecture, ReceptionOperator, Analyst],
        },
        Rule {
            rpc: "/approdo.monitoring.v1.FacilityMonitoringService/CompareFacilities",
            allowed: &[Administrator, Prefecture, Analyst],
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
    let mut spec = ServiceSpec::with_catalogue(
        NAME,
        projection::MonitoringProjection,
        "approdo.monitoring.v1.MonitoringService",
        AUTHORISATION,
    );
    spec.grpc_services.push(replay::SERVICE);
    spec.grpc_services.push(visits::SERVICE);
    let options: options::MonitoringOptions = config.options()?;
    service_runtime::run(spec, config, listener, shutdown, clock, move |context| {
        routes(context, options)
    })
    .await
}

/// The service's gRPC services (each also named in `run`'s spec).
fn routes(context: &ServiceContext, options: options::MonitoringOptions) -> Routes {
    let visits = visits::api::FacilityMonitoringApi {
        kernel: context.kernel.clone(),
        callers: context.callers.clone(),
        index: Arc::new(projection::Visits(context.projection.clone())),
    };
    Routes::new(api::MonitoringApi::new(context, options).into_server())
        .add_service(replay::server(context))
        .add_service(FacilityMonitoringServiceServer::new(visits))
}
