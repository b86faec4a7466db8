//! Referral: the directory of receiving organisations, the consent ledger, the
//! referral lifecycle with its deadlines, and each receiver's inbox (a list and
//! a resumable server-streaming watch).
//!
//! `run` builds the service and serves until shutdown; `main.rs` only calls it.
//! Code map: `requests` (validation) -> `api/` (handlers by concern; every
//! command goes through the runtime's kernel) -> `aggregate` (the case's
//! referral record, the directory and the pathway rules for the kernel) ->
//! `codec` (the event contract, domain <-> wire) -> `projection` (directory,
//! case referrals, case facts, inbox feed); `case_facts` (what screening
//! recorded); `deadlines` (candidates for the runtime's deadline watcher);
//! `options` (the service's own configuration).

pub mod aggregate;
pub mod api;
pub mod case_facts;
pub mod codec;
pub mod deadlines;
pub mod options;
pub mod projection;
pub mod requests;

use std::sync::Arc;

use case_referral::pathway_rules::PathwayRules;
use service_runtime::{Clock, OrganisationType, Rule, ServeError, ServiceConfig, ServiceSpec};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The service's name: its projection, its data folder, its configuration prefix.
pub const NAME: &str = "referral";

/// Who may call which RPC of the referral service (ARCHITECTURE.md, authorisation).
/// Handlers narrow further: receivers act on and see only what is addressed to them,
/// prefectures list their own province.
pub const AUTHORISATION: &[Rule] = {
    use OrganisationType::*;
    const REFERRERS: &[OrganisationType] = &[ReceptionOperator, Prefecture, Police];
    const PARTIES: &[OrganisationType] = &[ReceptionOperator, Prefecture, Police, ReceivingService];
    const EVERYONE: &[OrganisationType] = &[
        ReceptionOperator,
        Prefecture,
        Police,
        ReceivingService,
        Analyst,
        Administrator,
    ];
    &[
        Rule {
            rpc: "/approdo.referral.v1.ReferralService/RegisterOrganisation",
            allowed: &[Administrator],
        },
        Rule {
            rpc: "/approdo.referral.v1.ReferralService/UpdateOrganisation",
            allowed: &[Administrator],
        },
        Rule {
            rpc: "/approdo.referral.v1.ReferralService/ListOrganisations",
            allowed: EVERYONE,
        },
        Rule {
            rpc: "/approdo.referral.v1.ReferralService/PublishPathwayRules",
            allowed: &[Administrator],
        },
        Rule {
            rpc: "/approdo.referral.v1.ReferralService/GetPathwayRules",
            allowed: EVERYONE,
        },
        Rule {
            rpc: "/approdo.referral.v1.ReferralService/PublishVocabularies",
            allowed: &[Administrator],
        },
        Rule {
            rpc: "/approdo.referral.v1.ReferralService/GetVocabularies",
            allowed: EVERYONE,
        },
        Rule {
            rpc: "/approdo.referral.v1.ReferralService/SuggestReceivers",
            allowed: REFERRERS,
        },
        // The person consents through who holds their case; receivers never do.
        Rule {
            rpc: "/approdo.referral.v1.ReferralService/GiveConsent",
            allowed: REFERRERS,
        },
        Rule {
            rpc: "/approdo.referral.v1.ReferralService/WithdrawConsent",
            allowed: REFERRERS,
        },
        Rule {
            rpc: "/approdo.referral.v1.ReferralService/RefuseConsent",
            allowed: REFERRERS,
        },
        Rule {
            rpc: "/approdo.referral.v1.ReferralService/CreateReferral",
            allowed: REFERRERS,
        },
        Rule {
            rpc: "/approdo.referral.v1.ReferralService/UpdateReferral",
            allowed: PARTIES,
        },
        Rule {
            rpc: "/approdo.referral.v1.ReferralService/GetCaseReferrals",
            allowed: PARTIES,
        },
        Rule {
            rpc: "/approdo.referral.v1.ReferralService/ListReferrals",
            allowed: PARTIES,
        },
        Rule {
            rpc: "/approdo.referral.v1.ReferralService/ListInbox",
            allowed: &[ReceivingService],
        },
        Rule {
            rpc: "/approdo.referral.v1.ReferralService/WatchInbox",
            allowed: &[ReceivingService],
        },
    ]
};

/// Serves the referral service on `listener` until `shutdown` is cancelled; `clock`
/// drives its deadlines (the system clock in production, moved by hand in tests).
pub async fn run(
    config: ServiceConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
    clock: Arc<dyn Clock>,
) -> Result<(), ServeError> {
    let spec = ServiceSpec::with_catalogue(
        NAME,
        projection::ReferralProjection,
        "approdo.referral.v1.ReferralService",
        AUTHORISATION,
    );
    let options: options::ReferralOptions = config.options()?;
    let keys = service_runtime::PersonKeyReader::from_config(&config.encryption)?;
    service_runtime::run(spec, config, listener, shutdown, clock, move |context| {
        let api = Arc::new(api::ReferralApi {
            kernel: context.kernel.clone(),
            keys: Arc::new(keys.measured(context.metrics.clone())),
            projection: context.projection.clone(),
            callers: context.callers.clone(),
            reads: context.reads(),
            deadlines: options.deadlines.policy(),
            minors: options.minors.policy(),
            dataset_grace: options.dataset_grace(),
            default_rules: PathwayRules::default(),
            shutdown: context.shutdown.clone(),
            watches: api::watch_limit(options.max_watches_per_organisation)
                .measured(context.metrics.clone()),
            token_leeway_secs: i64::try_from(context.config.auth.leeway_secs).unwrap_or(i64::MAX),
            watch_recheck: context.config.deadline_check_interval(),
        });
        context.watch_deadlines(api.clone());
        tonic::service::Routes::new(
            contracts::referral::v1::referral_service_server::ReferralServiceServer::from_arc(api),
        )
    })
    .await
}
