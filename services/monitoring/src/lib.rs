//! The monitoring service. Its domain is not built yet: it runs only what
//! every service gets from the runtime: the case log followed into a catalogue
//! projection (events applied, per type and per root), gRPC health, server
//! reflection and the projection admin API.
//!
//! `run` serves until shutdown; `main.rs` only calls it.

pub mod visits;

use std::sync::Arc;

use service_runtime::{Clock, ServeError, ServiceConfig};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The service's name: its projection, its data folder, its configuration prefix.
pub const NAME: &str = "monitoring";

/// Serves the monitoring service on `listener` until `shutdown` is cancelled.
pub async fn run(
    config: ServiceConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
    clock: Arc<dyn Clock>,
) -> Result<(), ServeError> {
    service_runtime::run_without_rpcs(NAME, config, listener, shutdown, clock).await
}
