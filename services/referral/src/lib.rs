//! Referral: the directory of receiving organisations, the consent ledger, the
//! referral lifecycle with its deadlines, and each receiver's inbox (a list and
//! a resumable server-streaming watch).
//!
//! `run` builds the service and serves until shutdown; `main.rs` only calls it.
//! Code map: `requests` (validation) -> `api` (decide on the case's referral
//! history, append; queries; inbox) -> `codec` (domain <-> wire events) ->
//! `projection` (directory, case referrals, case facts, inbox feed);
//! `case_facts` (what screening recorded); `deadlines` (the watcher).

pub mod api;
pub mod case_facts;
pub mod codec;
pub mod deadlines;
pub mod projection;
pub mod requests;

use std::sync::Arc;

use case_referral::DeadlinePolicy;
use case_referral::pathway_rules::PathwayRules;
use projection_sled::Catalogue;
use service_runtime::{
    CallerExtractor, Clock, ServeError, ServiceConfig, ServiceSpec, SystemClock,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The service's name: its projection, its data folder, its configuration prefix.
pub const NAME: &str = "referral";

/// Serves the referral service on `listener` until `shutdown` is cancelled.
pub async fn run(
    config: ServiceConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    run_with_clock(config, listener, shutdown, Arc::new(SystemClock)).await
}

/// As [`run`], with the clock that drives deadlines (tests move it by hand).
pub async fn run_with_clock(
    config: ServiceConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
    clock: Arc<dyn Clock>,
) -> Result<(), ServeError> {
    let spec = ServiceSpec {
        name: NAME,
        projection: (projection::ReferralProjection, Catalogue::new(NAME)),
        grpc_services: vec![
            "approdo.referral.v1.ReferralService",
            "approdo.admin.v1.ProjectionAdminService",
        ],
    };
    service_runtime::run(spec, config, listener, shutdown, move |context| {
        let api = Arc::new(api::ReferralApi {
            log: context.log.clone(),
            projection: context.projection.clone(),
            clock,
            callers: CallerExtractor,
            read_patience: context.config.read_patience(),
            deadlines: DeadlinePolicy::default(),
            default_rules: PathwayRules::default(),
            shutdown: context.shutdown.clone(),
        });
        tokio::spawn(deadlines::watch(
            api.clone(),
            context.config.deadline_check_interval(),
            context.shutdown.clone(),
        ));
        tonic::service::Routes::new(
            contracts::referral::v1::referral_service_server::ReferralServiceServer::from_arc(api),
        )
    })
    .await
}
