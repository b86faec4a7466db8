//! Screening: where a person's case begins; arrivals, preliminary vulnerability
//! checks, vulnerability signals, assessments of special reception needs,
//! placements and transfers, and the 7-day and 30-day deadlines.
//!
//! `run` builds the service and serves until shutdown; `main.rs` only calls it.
//! Code map: `requests` (validation at the edge) -> `api` (handlers: each
//! command goes through the runtime's kernel) -> `aggregate` (the case's
//! screening record for the kernel) -> `codec` (the shared
//! `event_codecs::screening` contract, domain <-> wire, plus sealing) -> `projection` (case views) -> `queries` (listing); `deadlines`
//! (candidates for the runtime's deadline watcher); `erasures` (completes
//! erasures whose key destruction failed); `identity_access` (who reads identities);
//! minors, detention and follow-up in `protection` (handlers, deadline request
//! ids), `protection_requests`, `protection_view` (their codec is
//! `event_codecs::screening_protection`); `options`
//! (the service's own configuration: the anti-trafficking bodies, the
//! authorities for age assessments and guardians, the time to find a
//! transferred person).

pub mod aggregate;
pub mod api;
pub mod codec;
pub mod deadlines;
pub mod erasures;
pub mod facilities;
pub mod identity_access;
pub mod options;
pub mod projection;
pub mod protection;
pub mod protection_requests;
pub mod protection_view;
pub mod queries;
pub mod referred_to;
pub mod requests;
pub mod safe_space_arrivals;

use std::sync::Arc;

use service_runtime::{Clock, OrganisationType, Rule, ServeError, ServiceConfig, ServiceSpec};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The service's name: its projection, its data folder, its configuration prefix.
pub const NAME: &str = "screening";

/// Who may call which RPC of the screening service (ARCHITECTURE.md, authorisation).
pub const AUTHORISATION: &[Rule] = {
    use OrganisationType::*;
    &[
        Rule {
            rpc: "/approdo.screening.v1.ScreeningService/OpenCase",
            allowed: &[ReceptionOperator, Police, Prefecture],
        },
        Rule {
            rpc: "/approdo.screening.v1.ScreeningService/RecordPreliminaryCheck",
            allowed: &[ReceptionOperator, Police],
        },
        // Any front-line actor may raise a signal.
        Rule {
            rpc: "/approdo.screening.v1.ScreeningService/RaiseVulnerabilitySignal",
            allowed: &[ReceptionOperator, Police, Prefecture, ReceivingService],
        },
        // Specialists: in reception, or of a receiving service (health, anti-trafficking).
        Rule {
            rpc: "/approdo.screening.v1.ScreeningService/RecordAssessment",
            allowed: &[ReceptionOperator, ReceivingService],
        },
        // Anti-trafficking bodies (receiving services the case is referred
        // to), and among them only those the configuration names.
        Rule {
            rpc: "/approdo.screening.v1.ScreeningService/RecordFormalIdentification",
            allowed: &[ReceivingService],
        },
        Rule {
            rpc: "/approdo.screening.v1.ScreeningService/RecordApplication",
            allowed: &[Police, ReceptionOperator, Prefecture],
        },
        Rule {
            rpc: "/approdo.screening.v1.ScreeningService/PlaceCase",
            allowed: &[Prefecture, ReceptionOperator],
        },
        Rule {
            rpc: "/approdo.screening.v1.ScreeningService/CloseCase",
            allowed: &[Prefecture, ReceptionOperator],
        },
        Rule {
            rpc: "/approdo.screening.v1.ScreeningService/GetCase",
            allowed: &[ReceptionOperator, Prefecture, Police],
        },
        Rule {
            rpc: "/approdo.screening.v1.ScreeningService/ListCases",
            allowed: &[ReceptionOperator, Prefecture],
        },
        Rule {
            rpc: "/approdo.screening.v1.ScreeningService/GetCaseIdentity",
            allowed: &[ReceptionOperator, Prefecture, Police],
        },
        Rule {
            rpc: "/approdo.screening.v1.ScreeningService/EraseCase",
            allowed: &[Prefecture, Administrator],
        },
        Rule {
            rpc: "/approdo.screening.v1.ScreeningService/RegisterFacility",
            allowed: &[Administrator],
        },
        Rule {
            rpc: "/approdo.screening.v1.ScreeningService/PublishVocabularies",
            allowed: &[Administrator],
        },
        Rule {
            rpc: "/approdo.screening.v1.ScreeningService/GetVocabularies",
            allowed: &[
                ReceptionOperator,
                Police,
                Prefecture,
                ReceivingService,
                Analyst,
                Administrator,
            ],
        },
        // Event types and times only: analysts may replay it.
        Rule {
            rpc: "/approdo.screening.v1.ScreeningService/GetCaseHistory",
            allowed: &[ReceptionOperator, Prefecture, Analyst],
        },
        // Competent authorities: the juvenile court (a receiving service of the
        // pathway), a prefecture or the police; only the organisations the
        // configuration names pass the handler.
        Rule {
            rpc: "/approdo.screening.v1.ScreeningService/RecordAgeAssessment",
            allowed: &[ReceivingService, Prefecture, Police],
        },
        Rule {
            rpc: "/approdo.screening.v1.ScreeningService/AppointGuardian",
            allowed: &[ReceivingService, Prefecture, Police],
        },
        // The case's facility, or a receiver with the person in care.
        Rule {
            rpc: "/approdo.screening.v1.ScreeningService/ScheduleFollowUp",
            allowed: &[ReceptionOperator, ReceivingService],
        },
        Rule {
            rpc: "/approdo.screening.v1.ScreeningService/RecordFollowUp",
            allowed: &[ReceptionOperator, ReceivingService],
        },
    ]
};

/// Serves the screening service on `listener` until `shutdown` is cancelled; `clock`
/// drives its deadlines (the system clock in production, moved by hand in tests).
pub async fn run(
    config: ServiceConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
    clock: Arc<dyn Clock>,
) -> Result<(), ServeError> {
    let options: options::ScreeningOptions = config.options()?;
    let options = options.checked()?;
    // The keeper of person keys: it creates them as cases open, destroys them on erasure.
    let keys = service_runtime::PersonKeyKeeper::from_config(
        &config.encryption,
        "approdo.case.*.screening",
    )?;
    let spec = ServiceSpec::with_catalogue(
        NAME,
        projection::ScreeningProjection,
        "approdo.screening.v1.ScreeningService",
        AUTHORISATION,
    );
    service_runtime::run(spec, config, listener, shutdown, clock, move |context| {
        let api = Arc::new(api::ScreeningApi {
            kernel: context.kernel.clone(),
            keys: keys.measured(context.metrics.clone()),
            projection: context.projection.clone(),
            callers: context.callers.clone(),
            reads: context.reads(),
            options,
        });
        context.watch_deadlines(api.clone());
        tokio::spawn(erasures::reconcile(
            api.clone(),
            context.config.deadline_check_interval(),
            context.erasures_pending.clone(),
            context.shutdown.clone(),
        ));
        tonic::service::Routes::new(
            contracts::screening::v1::screening_service_server::ScreeningServiceServer::from_arc(
                api,
            ),
        )
    })
    .await
}
