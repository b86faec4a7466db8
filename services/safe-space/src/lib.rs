//! The safe-space service: the registry of safe spaces, requests for a
//! place, reservations with holds that expire (the runtime's deadline
//! watcher), arrivals, releases, and the waiting list of each province and
//! kind, on `safe_space_allocation`'s pure domain.
//!
//! `run` builds the service and serves until shutdown; `main.rs` only calls it.
//! Code map: `requests` (validation) -> `api` (handlers; every command goes
//! through the runtime's kernel, allocator commands serialised and retried)
//! -> `aggregate` (a space, an allocator) -> `codec` (the event contract,
//! domain <-> wire) -> `projection` (the index of allocators, cases and
//! holds, the mirrors, arrivals, placements and registrations the watcher
//! completes); `case_record` (the case's own safe-space record, mirrored
//! from its allocators); `case_facts` (what screening recorded); `deadlines`
//! (candidates for the watcher, and its loop); `options` (the service's own
//! configuration).

pub mod aggregate;
pub mod api;
pub mod case_facts;
pub mod case_record;
pub mod codec;
pub mod deadlines;
pub mod needs;
pub mod options;
pub mod projection;
pub mod requests;
pub mod watch;

use std::sync::Arc;

use service_runtime::{Clock, OrganisationType, Rule, ServeError, ServiceConfig, ServiceSpec};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The service's name: its projection, its data folder, its configuration prefix.
pub const NAME: &str = "safe-space";

/// Who may call which RPC of the safe-space service. The domain narrows
/// further: a space is registered by its managing organisation or an
/// administrator, a request is cancelled by its requester, an arrival
/// confirmed by the space's manager; the kernel checks the case is the
/// caller's (its facility, its province, or a space it manages).
pub const AUTHORISATION: &[Rule] = {
    use OrganisationType::*;
    const REQUESTERS: &[OrganisationType] = &[ReceptionOperator, Prefecture];
    const PARTIES: &[OrganisationType] = &[ReceptionOperator, Prefecture, ReceivingService];
    const MANAGERS: &[OrganisationType] = &[ReceptionOperator, ReceivingService];
    &[
        Rule {
            rpc: "/approdo.safe_space.v1.SafeSpaceService/RegisterSafeSpace",
            allowed: &[Administrator, ReceptionOperator, ReceivingService],
        },
        Rule {
            rpc: "/approdo.safe_space.v1.SafeSpaceService/ChangeSafeSpaceCapacity",
            allowed: &[Administrator, ReceptionOperator, ReceivingService],
        },
        Rule {
            rpc: "/approdo.safe_space.v1.SafeSpaceService/CloseSafeSpace",
            allowed: &[Administrator, ReceptionOperator, ReceivingService],
        },
        Rule {
            rpc: "/approdo.safe_space.v1.SafeSpaceService/RequestPlace",
            allowed: REQUESTERS,
        },
        Rule {
            rpc: "/approdo.safe_space.v1.SafeSpaceService/CancelPlaceRequest",
            allowed: REQUESTERS,
        },
        Rule {
            rpc: "/approdo.safe_space.v1.SafeSpaceService/ConfirmArrival",
            allowed: MANAGERS,
        },
        Rule {
            rpc: "/approdo.safe_space.v1.SafeSpaceService/ReleasePlace",
            allowed: PARTIES,
        },
        Rule {
            rpc: "/approdo.safe_space.v1.SafeSpaceService/GetCasePlaces",
            allowed: PARTIES,
        },
        Rule {
            rpc: "/approdo.safe_space.v1.SafeSpaceService/ListOccupancy",
            allowed: &[
                ReceptionOperator,
                Prefecture,
                ReceivingService,
                Analyst,
                Administrator,
            ],
        },
        Rule {
            rpc: "/approdo.safe_space.v1.SafeSpaceService/GetWaitingList",
            allowed: &[Prefecture, Administrator],
        },
        Rule {
            rpc: "/approdo.safe_space.v1.SafeSpaceService/DiscloseLocation",
            allowed: MANAGERS,
        },
        Rule {
            rpc: "/approdo.safe_space.v1.SafeSpaceService/Reserve",
            allowed: REQUESTERS,
        },
        Rule {
            rpc: "/approdo.safe_space.v1.SafeSpaceService/GetWaitingPosition",
            allowed: REQUESTERS,
        },
        Rule {
            rpc: "/approdo.safe_space.v1.SafeSpaceService/WatchAvailability",
            allowed: &[
                Prefecture,
                Administrator,
                ReceptionOperator,
                ReceivingService,
            ],
        },
    ]
};

/// Serves the safe-space service on `listener` until `shutdown` is cancelled;
/// `clock` drives its holds (the system clock in production, moved by hand in tests).
pub async fn run(
    config: ServiceConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
    clock: Arc<dyn Clock>,
) -> Result<(), ServeError> {
    let spec = ServiceSpec::with_catalogue(
        NAME,
        projection::SafeSpaceProjection,
        "approdo.safe_space.v1.SafeSpaceService",
        AUTHORISATION,
    );
    let options: options::SafeSpaceOptions = config.options()?;
    // The keeper of space keys: a space's name and address are sealed with its own key.
    let space_keys = service_runtime::SpaceKeyKeeper::from_config(
        &config.encryption,
        "approdo.facility.*.safe-space",
    )?;
    // The keeper of needs keys: a case's places to avoid are sealed with its own key.
    let needs_keeper = service_runtime::NeedsKeyKeeper::from_config(&config.encryption)?;
    service_runtime::run(spec, config, listener, shutdown, clock, move |context| {
        let space_keys = Arc::new(space_keys.measured(context.metrics.clone()));
        let needs_keys = Arc::new(needs::NeedsKeys::new(
            needs_keeper.measured(context.metrics.clone()),
        ));
        let api = Arc::new(api::SafeSpaceApi {
            kernel: context.kernel.clone(),
            projection: context.projection.clone(),
            callers: context.callers.clone(),
            policy: options.policy(),
            conflict_retries: options.conflict_retries,
            backoff_max: std::time::Duration::from_millis(options.conflict_backoff_max_ms),
            allocators: Default::default(),
            space_keys: space_keys.clone(),
            needs_keys: needs_keys.clone(),
            watches: watch::limit(options.max_watches_per_organisation)
                .measured(context.metrics.clone()),
            shutdown: context.shutdown.clone(),
            token_leeway_secs: i64::try_from(context.config.auth.leeway_secs).unwrap_or(i64::MAX),
            watch_recheck: context.config.deadline_check_interval(),
            urgency_checked: Default::default(),
        });
        // The one watcher: allocators (holds, releases, registrations), then case records.
        tokio::spawn(deadlines::watch(
            context.kernel.clone(),
            api.clone(),
            context.config.deadline_check_interval(),
            context.deadline_passes.clone(),
            context.shutdown.clone(),
        ));
        tonic::service::Routes::new(
            contracts::safe_space::v1::safe_space_service_server::SafeSpaceServiceServer::from_arc(
                api,
            ),
        )
    })
    .await
}
