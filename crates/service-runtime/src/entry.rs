//! The `main` of every service binary: arguments, configuration, telemetry,
//! listener, signal handling, exit code.

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{self, ServiceConfig};
use crate::serve::ServeError;

/// Every program linking the runtime (the services, the gateway, their tests)
/// allocates with jemalloc: with glibc's allocator a service's resident memory
/// grew to 530-740 MiB over a log of a million commits, most of it freed pages
/// held by per-thread arenas (tokio workers and sled's blocking threads), and
/// `malloc_consolidate` showed among the top functions of a profile
/// (BENCHMARKS.md, "A million events"). Here, once, so no binary can forget it.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Parses `[--config FILE]`, loads the configuration, and runs the service until
/// SIGTERM or Ctrl-C. Exits non-zero with a one-line reason on failure.
pub fn main<F, Fut>(name: &'static str, run: F) -> ExitCode
where
    F: FnOnce(ServiceConfig, TcpListener, CancellationToken, Arc<dyn crate::Clock>) -> Fut,
    Fut: Future<Output = Result<(), ServeError>>,
{
    let file = match config_argument() {
        Ok(file) => file,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let config: ServiceConfig = match config::load(name, file.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{name}: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{name}: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let _telemetry = match telemetry::init(name, &config.telemetry) {
            Ok(guard) => guard,
            Err(error) => {
                eprintln!("{name}: {error}");
                return ExitCode::from(2);
            }
        };
        let listener = match TcpListener::bind(config.listen).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::error!(%error, listen = %config.listen, "cannot listen");
                return ExitCode::FAILURE;
            }
        };
        let shutdown = crate::shutdown::on_signal();
        match run(config, listener, shutdown, Arc::new(crate::SystemClock)).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(error = %with_causes(&error), "service failed");
                ExitCode::FAILURE
            }
        }
    })
}

/// An error and every cause under it, so that a startup failure names what
/// actually failed (the file, the address, the store), not only the step.
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text.push_str(": ");
        text.push_str(&next.to_string());
        cause = next.source();
    }
    text
}

fn config_argument() -> Result<Option<PathBuf>, String> {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next(), args.next()) {
        (None, _, _) => Ok(None),
        (Some("--config"), Some(path), None) => Ok(Some(PathBuf::from(path))),
        _ => Err(
            "usage: <service> [--config FILE]   (environment: APPRODO_<SERVICE>__<KEY>)".to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_startup_error_names_its_causes() {
        let error = ServeError::DataDir(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "permission denied",
        ));
        assert_eq!(
            with_causes(&error),
            "cannot create the data directory: permission denied"
        );
    }
}
