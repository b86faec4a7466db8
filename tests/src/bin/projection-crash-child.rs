//! A projection process for the crash-consistency test: follows the log into a
//! sled store until it is killed. Arguments: NATS URL, store directory, batch size.

use std::path::PathBuf;

use case_log_jetstream::{CaseLog, CaseLogConfig};
use projection_sled::{Catalogue, ProjectionStore, RunnerConfig};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, dir, batch] = args.as_slice() else {
        eprintln!("usage: projection-crash-child NATS_URL STORE_DIR BATCH");
        return std::process::ExitCode::from(2);
    };
    let config = CaseLogConfig {
        url: url.clone(),
        ..CaseLogConfig::default()
    };
    let Ok(log) = CaseLog::connect(&config).await else {
        eprintln!("cannot connect to {url}");
        return std::process::ExitCode::FAILURE;
    };
    let Ok(store) = ProjectionStore::open(&PathBuf::from(dir)) else {
        eprintln!("cannot open the store");
        return std::process::ExitCode::FAILURE;
    };
    let shutdown = tokio_util::sync::CancellationToken::new();
    let runner = RunnerConfig {
        batch: batch.parse().unwrap_or(16),
        ..RunnerConfig::default()
    };
    let Ok((_handle, task)) =
        projection_sled::spawn(log, store, Catalogue::new("crash"), runner, shutdown)
    else {
        eprintln!("cannot start the projection");
        return std::process::ExitCode::FAILURE;
    };
    // Runs until killed.
    let _ = task.await;
    std::process::ExitCode::SUCCESS
}
