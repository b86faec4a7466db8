//! The gateway binary: `gateway [--config FILE]` serves until SIGTERM or
//! Ctrl-C; `gateway [--config FILE] keys` creates its token issuer's key (once)
//! and writes the issuer's public JWK set, for the services' `[auth]`.

use std::path::PathBuf;
use std::process::ExitCode;

use gateway::{GatewayConfig, NAME};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut file: Option<PathBuf> = None;
    let mut keys = false;
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.len()) {
            ("--config", _) => match args.next() {
                Some(path) => file = Some(PathBuf::from(path)),
                None => return usage(),
            },
            ("keys", _) => keys = true,
            _ => return usage(),
        }
    }
    let config: GatewayConfig = match service_runtime::config::load(NAME, file.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{NAME}: {error}");
            return ExitCode::from(2);
        }
    };
    if keys {
        return match create_keys(&config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("{NAME}: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{NAME}: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let _telemetry = match telemetry::init(NAME, &config.telemetry) {
            Ok(guard) => guard,
            Err(error) => {
                eprintln!("{NAME}: {error}");
                return ExitCode::from(2);
            }
        };
        let issuer = match gateway::issuer(&config) {
            Ok(issuer) => issuer,
            Err(error) => {
                tracing::error!(%error, "cannot load the gateway's token issuer (run `gateway keys`)");
                return ExitCode::from(2);
            }
        };
        let listener = match tokio::net::TcpListener::bind(config.listen).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::error!(%error, listen = %config.listen, "cannot listen");
                return ExitCode::FAILURE;
            }
        };
        let shutdown = service_runtime::shutdown::on_signal();
        match gateway::run(config, listener, shutdown, issuer).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(error = %service_runtime::entry::with_causes(&error), "gateway failed");
                ExitCode::FAILURE
            }
        }
    })
}

fn usage() -> ExitCode {
    eprintln!("usage: gateway [--config FILE] [keys]   (environment: APPRODO_GATEWAY__<KEY>)");
    ExitCode::from(2)
}

/// The issuer's seed (created once, readable by its owner only) and its JWK set.
fn create_keys(config: &GatewayConfig) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let section = &config.issuer;
    if !section.seed_file.exists() {
        if let Some(dir) = section.seed_file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let issuer =
            access_token::TokenIssuer::generate(&section.issuer).map_err(|e| e.to_string())?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&section.seed_file)
            .map_err(|e| format!("{}: {e}", section.seed_file.display()))?;
        file.write_all(issuer.seed_hex().as_bytes())
            .map_err(|e| format!("{}: {e}", section.seed_file.display()))?;
        println!(
            "created the gateway's token issuer key in {}",
            section.seed_file.display()
        );
    }
    let issuer = gateway::issuer(config).map_err(|e| e.to_string())?;
    if let Some(jwks) = &section.jwks_file {
        std::fs::write(jwks, issuer.jwks_json()).map_err(|e| format!("{}: {e}", jwks.display()))?;
    }
    println!(
        "the services' [auth] issuers entry: {{ issuer = \"{}\", keys = [{{ kid = \"{}\", public_key = \"{}\" }}] }}",
        issuer.issuer(),
        issuer.kid(),
        issuer.public_key_hex()
    );
    for consumer in &config.pdnd.consumers {
        println!("consumer {}", gateway::describe_consumer(consumer));
    }
    Ok(())
}
