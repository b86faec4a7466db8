//! `approdo`: the command-line client of the four services, over gRPC.
//! Locally it needs no configuration: it finds the services on the ports of
//! `deploy/local/` and signs in with development tokens.

mod landing;
mod monitoring;
mod protection;
mod referral;
mod replay;
mod safe_space;
mod screening;
mod visits;

use std::time::{Duration, Instant};

use access_token::{OrganisationType, TokenIssuer, Validity};
use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use contracts::admin::v1 as admin;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};

const SERVICES: [(&str, u16); 4] = [
    ("screening", 50051),
    ("referral", 50052),
    ("safe-space", 50053),
    ("monitoring", 50054),
];

#[derive(Parser)]
#[command(name = "approdo", about = "Approdo command-line client")]
struct Cli {
    /// Host where the services listen.
    #[arg(long, default_value = "127.0.0.1", global = true)]
    host: String,
    /// Talk to the sandbox (`cargo xtask up --sandbox`: ports 50061-50064)
    /// instead of the system (50051-50054).
    #[arg(long, global = true)]
    sandbox: bool,
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// gRPC health of every service.
    Health,
    /// Projection status of every service: position in the case log, lag,
    /// commits parked (skipped as untrusted or not applicable), digest.
    Status,
    /// Rebuilds a service's projection from zero (administrator).
    Rebuild {
        /// screening, referral, safe-space or monitoring
        service: String,
    },
    /// Creates the local token issuer's key and the key-encryption key in .local/keys (once), and the issuer's JWK set.
    Keys,
    /// Prints a token signed by the local issuer, valid for an hour (for grpcurl and other clients).
    Token {
        #[arg(long, default_value = "administrator")]
        org_type: String,
        #[arg(long, default_value = "local-admin")]
        org: String,
        #[arg(long, default_value = "RM")]
        province: String,
    },
    /// Cases in the screening service.
    Case {
        #[command(subcommand)]
        command: screening::CaseCommand,
    },
    /// The directory, consents, referrals and inboxes of the referral service.
    Referral {
        #[command(subcommand)]
        command: referral::ReferralCommand,
    },
    /// Safe spaces and shelters: the registry, requests for a place, arrivals, releases, occupancy, the waiting list.
    Space {
        #[command(subcommand)]
        command: safe_space::SpaceCommand,
    },
    /// A seeded synthetic landing through the running services: people arriving at a hotspot and their pathway (screening, referral, safe spaces); the same seed appends nothing the second time.
    Landing(landing::LandingArgs),
    /// Analyst replay: a case's history and state as of any past time or log
    /// sequence, and deadline compliance under another policy (monitoring).
    Replay {
        #[command(subcommand)]
        command: replay::ReplayCommand,
    },
    /// The pathway's indicators (analysts, prefectures): tables, and CSV or Parquet exports.
    Monitoring {
        #[command(subcommand)]
        command: monitoring::MonitoringCommand,
    },
    /// Waits for the system to be ready, shows what it serves, and walks one case through screening, referral and a place in a shelter.
    Demo,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // One line, the refusal or the cause, never a backtrace: this is a user's tool.
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Added to every service port: 10 for the sandbox.
static PORT_OFFSET: std::sync::OnceLock<u16> = std::sync::OnceLock::new();

async fn run(cli: Cli) -> Result<()> {
    let _ = PORT_OFFSET.set(if cli.sandbox { 10 } else { 0 });
    if !matches!(cli.command, Commands::Health | Commands::Keys) {
        load_issuer()?;
    }
    match cli.command {
        Commands::Health => {
            for (service, port) in SERVICES {
                let status = match connect(&cli.host, port).await {
                    Ok(channel) => health(channel).await,
                    Err(_) => ServingStatus::Unknown,
                };
                println!("{service:<11} {}", status.as_str_name());
            }
        }
        Commands::Status => {
            for (service, port) in SERVICES {
                let channel = connect(&cli.host, port).await?;
                print_status(service, &projection_status(channel).await?);
            }
        }
        Commands::Rebuild { service } => {
            let Some((_, port)) = SERVICES.iter().find(|(name, _)| *name == service) else {
                bail!("unknown service {service}");
            };
            let channel = connect(&cli.host, *port).await?;
            let mut client =
                admin::projection_admin_service_client::ProjectionAdminServiceClient::new(channel);
            let status = client
                .rebuild_projection(authorised(
                    admin::RebuildProjectionRequest {},
                    OrganisationType::Administrator,
                ))
                .await?
                .into_inner()
                .status
                .context("no status")?;
            print_status(&service, &status);
        }
        Commands::Keys => init_keys()?,
        Commands::Token {
            org_type,
            org,
            province,
        } => {
            let org_type = parse_org_type(&org_type)?;
            load_issuer()?;
            println!("{}", token(org_type, &org, &["admin"], Some(&province)));
        }
        Commands::Case { command } => screening::run(&cli.host, command).await?,
        Commands::Referral { command } => referral::run(&cli.host, command).await?,
        Commands::Space { command } => safe_space::run(&cli.host, command).await?,
        Commands::Landing(args) => {
            landing::run(&cli.host, &args).await?;
        }
        Commands::Replay { command } => replay::run(&cli.host, command).await?,
        Commands::Monitoring { command } => monitoring::run(&cli.host, command).await?,
        Commands::Demo => demo(&cli.host).await?,
    }
    Ok(())
}

fn parse_org_type(code: &str) -> Result<OrganisationType> {
    OrganisationType::from_code(code).with_context(|| format!("unknown organisation type {code}"))
}

/// The local issuer: its name and where `approdo keys` keeps its secret seed.
pub(crate) const LOCAL_ISSUER: &str = "approdo-local";

fn keys_dir() -> std::path::PathBuf {
    std::env::var_os("APPRODO_KEYS_DIR").map_or_else(
        || std::path::PathBuf::from(".local/keys"),
        std::path::PathBuf::from,
    )
}

/// Creates the local issuer's key and the key-encryption key if they do not
/// exist yet, from the operating system's randomness (failing if there is
/// none), and writes the JWK set the services read (`deploy/local/*.toml`).
fn init_keys() -> Result<()> {
    let dir = keys_dir();
    std::fs::create_dir_all(&dir)?;
    let seed = dir.join(format!("{LOCAL_ISSUER}.seed"));
    if !seed.is_file() {
        let issuer = TokenIssuer::generate(LOCAL_ISSUER)
            .context("cannot create the local token issuer's key")?;
        write_secret(&seed, &issuer.seed_hex())?;
        println!("created the local token issuer's key in {}", dir.display());
    }
    // The public half, rewritten from the seed each time (older setups had none).
    let jwks = dir.join(format!("{LOCAL_ISSUER}.jwks.json"));
    std::fs::write(&jwks, local_issuer()?.jwks_json())
        .with_context(|| format!("cannot write {}", jwks.display()))?;
    let kek = dir.join("key-encryption.key");
    if !kek.is_file() {
        let key = person_crypto::KeyEncryptionKey::generate_hex()
            .context("cannot create the key-encryption key")?;
        write_secret(&kek, &key)?;
        println!("created the local key-encryption key in {}", dir.display());
    }
    Ok(())
}

/// Writes a secret to a new file only its owner can read.
fn write_secret(path: &std::path::Path, text: &str) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    std::io::Write::write_all(&mut file, text.as_bytes())?;
    Ok(())
}

/// The local issuer, from the seed `approdo keys` wrote, signing for the
/// audience `APPRODO_AUDIENCE` (default `approdo`, the services' default).
pub(crate) fn local_issuer() -> Result<TokenIssuer> {
    let seed = keys_dir().join(format!("{LOCAL_ISSUER}.seed"));
    let issuer = TokenIssuer::from_seed_file(LOCAL_ISSUER, &seed).with_context(|| {
        format!(
            "no local signing key at {} (run `approdo keys` or `cargo xtask up`)",
            seed.display()
        )
    })?;
    Ok(match std::env::var("APPRODO_AUDIENCE") {
        Ok(audience) => issuer.with_audience(&audience),
        Err(_) => issuer,
    })
}

/// The issuer every token of this run is signed with, loaded before a command
/// that calls the services runs.
static ISSUER: std::sync::OnceLock<TokenIssuer> = std::sync::OnceLock::new();

/// How long the CLI's tokens are valid: well within the services' maximum lifetime (12 h by default).
const TOKEN_LIFETIME_SECS: i64 = 3_600;

fn load_issuer() -> Result<()> {
    if ISSUER.get().is_none() {
        let _ = ISSUER.set(local_issuer()?);
    }
    Ok(())
}

/// A token of the local issuer, issued now. Signing cannot fail with a loaded
/// key; if it does, the command stops with the reason rather than calling
/// without a token.
pub(crate) fn token(
    org_type: OrganisationType,
    org: &str,
    roles: &[&str],
    province: Option<&str>,
) -> String {
    let signed = ISSUER
        .get()
        .context("no local signing key loaded")
        .and_then(|issuer| {
            Ok(issuer.token(
                "approdo-cli",
                org,
                org_type,
                roles,
                province,
                Validity::from_now(TOKEN_LIFETIME_SECS),
            )?)
        });
    signed.unwrap_or_else(|error| {
        eprintln!("error: {error:#}");
        std::process::exit(1)
    })
}

/// The facility a reception operator works in: its organisation id, and the
/// only facility whose cases it may act on (APPRODO_FACILITY, default the demo's hotspot).
pub(crate) fn operator_facility() -> String {
    std::env::var("APPRODO_FACILITY").unwrap_or_else(|_| "hotspot-lampedusa".to_owned())
}

pub(crate) fn authorised<T>(message: T, org_type: OrganisationType) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    // Cases are limited to the caller's province (AG in the demo; APPRODO_PROVINCE sets it),
    // and for a reception operator to its facility.
    let province = std::env::var("APPRODO_PROVINCE").unwrap_or_else(|_| "AG".to_owned());
    let organisation = match org_type {
        OrganisationType::ReceptionOperator => operator_facility(),
        _ => "local-admin".to_owned(),
    };
    let bearer = format!(
        "Bearer {}",
        token(org_type, &organisation, &["admin"], Some(&province))
    );
    if let Ok(value) = bearer.parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// A protobuf timestamp of `at`.
pub(crate) fn timestamp(at: time::OffsetDateTime) -> prost_types::Timestamp {
    let nanos = at.unix_timestamp_nanos();
    prost_types::Timestamp {
        seconds: nanos.div_euclid(1_000_000_000) as i64,
        nanos: nanos.rem_euclid(1_000_000_000) as i32,
    }
}

pub(crate) async fn connect(host: &str, port: u16) -> Result<Channel> {
    let port = port + PORT_OFFSET.get().copied().unwrap_or(0);
    Channel::from_shared(format!("http://{host}:{port}"))?
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
        .with_context(|| format!("nothing answers on {host}:{port}"))
}

async fn health(channel: Channel) -> ServingStatus {
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(|r| r.into_inner().status())
        .unwrap_or(ServingStatus::Unknown)
}

async fn projection_status(channel: Channel) -> Result<admin::ProjectionStatus> {
    admin::projection_admin_service_client::ProjectionAdminServiceClient::new(channel)
        .get_projection_status(authorised(
            admin::GetProjectionStatusRequest {
                with_content_digest: true,
            },
            OrganisationType::Administrator,
        ))
        .await?
        .into_inner()
        .status
        .context("no status in answer")
}

fn print_status(service: &str, status: &admin::ProjectionStatus) {
    println!(
        "{service:<11} projection {:<11} state {:<11} position {:>6} lag {:>4} parked {:>4} erasures pending {:>3} log {} digest {}",
        status.name,
        status
            .state()
            .as_str_name()
            .trim_start_matches("PROJECTION_STATE_"),
        status.position,
        status.lag,
        status.parked_commits,
        status.erasures_pending,
        log_usage(status),
        &status.content_digest[..status.content_digest.len().min(16)],
    );
}

/// How full the case log is: `bytes/limit (percent)`, with a warning when the
/// service reports it nearly full (full, appends are refused).
fn log_usage(status: &admin::ProjectionStatus) -> String {
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    if status.log_max_bytes == 0 {
        return format!("{:.1}/unlimited MiB", mib(status.log_bytes));
    }
    let percent = status.log_bytes as f64 * 100.0 / status.log_max_bytes as f64;
    let warning = if status.log_nearly_full {
        " NEARLY FULL"
    } else {
        ""
    };
    format!(
        "{:.1}/{:.1} MiB ({percent:.0}%){warning}",
        mib(status.log_bytes),
        mib(status.log_max_bytes)
    )
}

async fn reflected(channel: Channel) -> Result<Vec<String>> {
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await?
        .into_inner();
    match answers.message().await?.and_then(|a| a.message_response) {
        Some(MessageResponse::ListServicesResponse(list)) => {
            Ok(list.service.into_iter().map(|s| s.name).collect())
        }
        _ => bail!("unexpected reflection answer"),
    }
}

async fn demo(host: &str) -> Result<()> {
    println!("\n== Approdo demo: the foundation ==");
    for (service, port) in SERVICES {
        let started = Instant::now();
        let channel = loop {
            match connect(host, port).await {
                Ok(channel) if health(channel.clone()).await == ServingStatus::Serving => {
                    break channel;
                }
                _ if started.elapsed() > Duration::from_secs(60) => {
                    bail!("{service} is not serving after 60 s")
                }
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        println!(
            "\n{service} on {host}:{port}: SERVING after {:.1?}",
            started.elapsed()
        );
        println!(
            "  gRPC services: {}",
            reflected(channel.clone()).await?.join(", ")
        );
        print!("  ");
        print_status(service, &projection_status(channel).await?);
    }
    println!(
        "\nEach service follows the case log (JetStream stream APPRODO_CASE_LOG) into its own sled projection."
    );
    println!("\n== A case through screening ==");
    let case_id = screening::journey(host).await?;
    println!("\n== The case referred to an anti-violence centre ==");
    let referral_id = referral::journey(host, &case_id).await?;
    // The demo's case opened in AG (screening::journey): its shelter is there.
    const PROVINCE: &str = "AG";
    println!("\n== A place in a GBV shelter for her, linked to the accepted referral ==");
    let shelter = safe_space::journey(host, &case_id, PROVINCE, &referral_id).await?;
    println!("\n== The referral taken in charge and completed ==");
    referral::completion(host, &case_id, &referral_id).await?;
    println!("\n== The person's identity: read on record, then erased on request ==");
    screening::erasure(host, &case_id).await?;
    safe_space::after_erasure(host, PROVINCE, &shelter).await?;
    println!("\n== Everything that happened to the person, in log order, across services ==");
    screening::print_history(&mut screening::client(host).await?, &case_id).await?;
    println!(
        "\n== A synthetic landing through screening, referral and safe spaces (monitoring follows the log) =="
    );
    let landed = landing::run(
        host,
        &landing::LandingArgs {
            seed: 2026,
            people: 200,
        },
    )
    .await?;
    println!("\n== The pathway's indicators, computed by monitoring from the whole log ==");
    monitoring::print_indicators(host, landed.last_sequence).await?;
    println!(
        "\n== The demo's case replayed by an analyst: payloads as ids and codes, personal data erased =="
    );
    replay::print_case(host, &case_id).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_usage_shows_its_figures_and_warns_when_nearly_full() {
        let status = |bytes, max, nearly_full| admin::ProjectionStatus {
            log_bytes: bytes,
            log_max_bytes: max,
            log_nearly_full: nearly_full,
            ..Default::default()
        };
        assert_eq!(log_usage(&status(1 << 20, 0, false)), "1.0/unlimited MiB");
        assert_eq!(
            log_usage(&status(1 << 20, 4 << 20, false)),
            "1.0/4.0 MiB (25%)"
        );
        assert_eq!(
            log_usage(&status(7 << 19, 4 << 20, true)),
            "3.5/4.0 MiB (88%) NEARLY FULL"
        );
    }
}
