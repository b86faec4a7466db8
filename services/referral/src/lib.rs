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
    Clock, OrganisationType, Rule, ServeError, ServiceConfig, ServiceSpec, SystemClock,
};
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
            rpc: "/approdo.referral.v1.ReferralService/SuggestReceivers",
            allowed: REFERRERS,
        },
        Rule {
            rpc: "/approdo.referral.v1.ReferralService/GiveConsent",
            allowed: PARTIES,
        },
        Rule {
            rpc: "/approdo.referral.v1.ReferralService/WithdrawConsent",
            allowed: PARTIES,
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

fn deadline_policy(config: &service_runtime::ReferralDeadlines) -> DeadlinePolicy {
    let hours = |h: u32| time::Duration::hours(i64::from(h));
    DeadlinePolicy {
        acknowledge_immediate: hours(config.acknowledge_immediate_hours),
        acknowledge_high: hours(config.acknowledge_high_hours),
        acknowledge_standard: hours(config.acknowledge_standard_hours),
        answer_windows: i32::try_from(config.answer_windows.max(1)).unwrap_or(i32::MAX),
        take_charge: time::Duration::days(i64::from(config.take_charge_days)),
    }
}

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
        authorisation: AUTHORISATION,
    };
    let keys = Arc::new(service_runtime::PersonKeyReader::from_config(
        &config.encryption,
    )?);
    service_runtime::run(spec, config, listener, shutdown, move |context| {
        let api = Arc::new(api::ReferralApi {
            log: context.log.clone(),
            keys,
            projection: context.projection.clone(),
            clock,
            callers: context.callers.clone(),
            read_patience: context.config.read_patience(),
            deadlines: deadline_policy(&context.config.referral_deadlines),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_deadlines_replace_the_defaults() {
        let configured = service_runtime::ReferralDeadlines {
            acknowledge_immediate_hours: 1,
            acknowledge_high_hours: 12,
            acknowledge_standard_hours: 48,
            answer_windows: 3,
            take_charge_days: 5,
        };
        let policy = deadline_policy(&configured);
        assert_eq!(
            policy.acknowledge_within(pathway::Urgency::Immediate),
            time::Duration::hours(1)
        );
        assert_eq!(
            policy.acknowledge_within(pathway::Urgency::Standard),
            time::Duration::hours(48)
        );
        assert_eq!(policy.answer_windows, 3);
        assert_eq!(policy.take_charge, time::Duration::days(5));
        assert_eq!(
            deadline_policy(&Default::default()),
            DeadlinePolicy::default()
        );
    }
}
