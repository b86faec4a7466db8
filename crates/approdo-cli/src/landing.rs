//! `approdo landing`: a seeded synthetic landing driven through the running
//! services (`crates/synthetic-landing`), with tokens of the local issuer.
//! The same seed against the same log appends nothing the second time.

use anyhow::Result;
use clap::Args;
use synthetic_landing::{Actor, Credentials, Endpoints, Landing, RealTime};

use crate::{OrganisationType, SERVICES, connect, token};

#[derive(Args)]
pub struct LandingArgs {
    /// The seed: the same seed gives the same people and the same pathway.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// How many people arrive.
    #[arg(long, default_value_t = 200)]
    pub people: u32,
}

/// The local issuer's tokens for the landing's actors.
struct LocalCredentials;

impl Credentials for LocalCredentials {
    fn token(&self, actor: Actor<'_>) -> String {
        match actor {
            Actor::Administrator => token(
                OrganisationType::Administrator,
                "local-admin",
                &["admin"],
                None,
            ),
            Actor::Operator { facility, province } => token(
                OrganisationType::ReceptionOperator,
                facility,
                &["operator"],
                Some(province),
            ),
            Actor::Receiver { organisation } => token(
                OrganisationType::ReceivingService,
                organisation,
                &["operator"],
                None,
            ),
        }
    }
}

/// Plans the landing, runs it in real time (step times in the past, as if
/// the landing happened that long ago) and prints what was done.
pub async fn run(host: &str, args: &LandingArgs) -> Result<synthetic_landing::Report> {
    let landing = Landing::plan(args.seed, args.people);
    let port = |name: &str| {
        SERVICES
            .iter()
            .find(|(service, _)| *service == name)
            .map_or(0, |(_, port)| *port)
    };
    let endpoints = Endpoints {
        screening: connect(host, port("screening")).await?,
        referral: connect(host, port("referral")).await?,
        safe_space: connect(host, port("safe-space")).await?,
    };
    println!(
        "  landing of {} people (seed {}): {} steps over {} days",
        args.people,
        args.seed,
        landing.steps.len(),
        landing.span().whole_days()
    );
    let report = synthetic_landing::run(
        &landing,
        &endpoints,
        &LocalCredentials,
        &RealTime::ending_now(&landing),
    )
    .await?;
    let done: Vec<String> = report
        .done
        .iter()
        .map(|(what, n)| format!("{what} {n}"))
        .collect();
    println!("  done: {}", done.join(", "));
    println!("  last log sequence: {}", report.last_sequence);
    Ok(report)
}
