//! Phase 3: end-to-end catch-up through the projection runner: a fresh store
//! follows a log of pre-appended commits until `wait_for(last sequence)` returns.
//! The baseline is the one-row projection through the same runner.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use case_log_jetstream::{CaseLog, CaseLogConfig};
use nats_test_server::{NatsServer, ServerOptions};
use projection_sled::{Catalogue, Projection, ProjectionStore, RunnerConfig, Timings, catalogue};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::apply;
use crate::stats::{Run, Summary};
use crate::workload::{self, ONE_ROW_TABLE, OneRow, case, new_commit};

/// Commits per aggregate in the pre-appended log.
const COMMITS_PER_AGGREGATE: usize = 10;
/// Concurrent tasks appending the log (not measured).
const APPEND_WORKERS: usize = 32;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub runs: usize,
    pub commits: usize,
    /// Longest one catch-up may take before the benchmark gives up.
    pub patience: Duration,
    /// Longest the pre-append may take.
    pub fill_time: Duration,
}

pub struct Figures {
    pub commits: u64,
    pub batch: usize,
    pub fill: Duration,
    pub one_row: Summary,
    pub catalogue: Summary,
    /// The sled baseline measured between the runs: the one-row projection's
    /// `apply_batch` over as many commits in memory, in batches of the runner's size.
    pub sled_one_row: Summary,
    /// Where the runner's time went, summed over the runs, and their wall time.
    pub one_row_time: Spent,
    pub catalogue_time: Spent,
}

/// The runner's own counters summed over runs, beside the runs' wall time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Spent {
    pub elapsed: Duration,
    pub timings: Timings,
}

impl Spent {
    fn add(&mut self, elapsed: Duration, timings: Timings) {
        self.elapsed += elapsed;
        let t = &mut self.timings;
        t.batches += timings.batches;
        t.commits += timings.commits;
        t.waiting += timings.waiting;
        t.decoding += timings.decoding;
        t.applying += timings.applying;
    }
}

pub async fn measure(limits: Limits) -> Result<Figures> {
    let server = NatsServer::start_with(ServerOptions::default()).context("start nats-server")?;
    let config = CaseLogConfig {
        url: server.url(),
        ..CaseLogConfig::default()
    };
    let log = CaseLog::connect(&config).await?;
    eprintln!("  appending {} commits", limits.commits);
    let started = Instant::now();
    tokio::time::timeout(limits.fill_time, fill(&log, limits.commits))
        .await
        .context("pre-appending the log took too long")??;
    let fill_time = started.elapsed();
    let last = log.last_sequence().await?;
    ensure!(
        last == limits.commits as u64,
        "log holds {last} commits, expected {}",
        limits.commits
    );

    let config = RunnerConfig::default();
    let (mut one_rows, mut catalogues) = (Vec::new(), Vec::new());
    let (mut one_row_time, mut catalogue_time) = (Spent::default(), Spent::default());
    let in_memory = workload::recorded_commits(limits.commits)?;
    let mut sled_one_rows = Vec::new();
    for run in 0..limits.runs {
        eprintln!("  run {}/{}", run + 1, limits.runs);
        sled_one_rows.push(tokio::task::block_in_place(|| {
            apply::apply_run(
                &OneRow,
                ONE_ROW_TABLE,
                &in_memory,
                config.batch,
                apply::Limits {
                    runs: 1,
                    time: limits.patience,
                },
            )
        })?);
        let (one_row, timings) =
            catch_up(&log, OneRow, ONE_ROW_TABLE, last, &config, limits).await?;
        one_row_time.add(one_row.elapsed, timings);
        one_rows.push(one_row);
        let catalogue = Catalogue::new("bench-catalogue");
        let (catalogue, timings) =
            catch_up(&log, catalogue, catalogue::EVENTS, last, &config, limits).await?;
        catalogue_time.add(catalogue.elapsed, timings);
        catalogues.push(catalogue);
    }
    Ok(Figures {
        commits: last,
        batch: config.batch,
        fill: fill_time,
        one_row: Summary::of(&one_rows),
        catalogue: Summary::of(&catalogues),
        sled_one_row: Summary::of(&sled_one_rows),
        one_row_time,
        catalogue_time,
    })
}

/// Appends `count` commits, `COMMITS_PER_AGGREGATE` per case, from concurrent tasks.
async fn fill(log: &CaseLog, count: usize) -> Result<()> {
    let aggregates = count.div_ceil(COMMITS_PER_AGGREGATE);
    let mut tasks = JoinSet::new();
    for worker in 0..APPEND_WORKERS {
        let log = log.clone();
        tasks.spawn(async move {
            for aggregate in (worker..aggregates).step_by(APPEND_WORKERS) {
                let address = case(&format!("fill-{aggregate}"))?;
                let first = aggregate * COMMITS_PER_AGGREGATE;
                let mut previous = 0;
                for i in first..(first + COMMITS_PER_AGGREGATE).min(count) {
                    let commit = new_commit(&address, previous, &format!("f{i}"), i);
                    previous = log.append(&commit).await?.sequence;
                }
            }
            anyhow::Ok(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined??;
    }
    Ok(())
}

/// Starts the runner on a fresh store and times it until it has applied `last`.
async fn catch_up<P: Projection>(
    log: &CaseLog,
    projection: P,
    table: &str,
    last: u64,
    config: &RunnerConfig,
    limits: Limits,
) -> Result<(Run, Timings)> {
    let dir = tempfile::Builder::new()
        .prefix("approdo-bench-runner-")
        .tempdir()
        .context("temporary store directory")?;
    let store = ProjectionStore::open(dir.path())?;
    let name = projection.name();
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let (handle, task) = projection_sled::spawn(
        log.clone(),
        store,
        projection,
        config.clone(),
        shutdown.clone(),
    )?;
    let reached = handle.wait_for(last, limits.patience).await;
    let elapsed = started.elapsed();
    let timings = handle.timings();
    shutdown.cancel();
    task.await.context("projection runner panicked")?;
    reached.map_err(|error| anyhow!("{name}: {error} (status {:?})", handle.status()))?;
    let rows = handle.store().scan(table, b"")?.len();
    ensure!(
        rows as u64 == last,
        "{name} has {rows} rows in {table} after catching up to {last}"
    );
    Ok((Run::new(last as usize, elapsed, vec![elapsed]), timings))
}
