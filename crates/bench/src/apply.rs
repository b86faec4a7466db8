//! Phase 2: projection apply throughput, the store alone (no NATS). The baseline
//! is `ProjectionStore::apply_batch` with the one-row projection (one row and the
//! position per transaction); against it, the catalogue in the same store.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use case_log_jetstream::RecordedCommit;
use projection_sled::{Catalogue, Projection, ProjectionStore, catalogue};

use crate::stats::{Run, Sampler, Summary};
use crate::workload::{ONE_ROW_TABLE, OneRow};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub runs: usize,
    /// Longest a run may take; it stops earlier when the commits run out.
    pub time: Duration,
}

/// Figures for one batch size.
pub struct Figures {
    pub batch: usize,
    pub one_row: Summary,
    pub catalogue: Summary,
}

pub fn measure(
    commits: &[(RecordedCommit, telemetry::TraceContext)],
    batches: &[usize],
    limits: Limits,
) -> Result<Vec<Figures>> {
    let catalogue = Catalogue::new("bench-catalogue");
    let mut figures = Vec::new();
    for &batch in batches {
        let (mut one_rows, mut catalogues) = (Vec::new(), Vec::new());
        for run in 0..limits.runs {
            eprintln!("  batch {batch}, run {}/{}", run + 1, limits.runs);
            one_rows.push(apply_run(&OneRow, ONE_ROW_TABLE, commits, batch, limits)?);
            catalogues.push(apply_run(
                &catalogue,
                catalogue::EVENTS,
                commits,
                batch,
                limits,
            )?);
        }
        figures.push(Figures {
            batch,
            one_row: Summary::of(&one_rows),
            catalogue: Summary::of(&catalogues),
        });
    }
    Ok(figures)
}

/// Applies `commits` in batches of `batch` to a fresh store; one latency per transaction.
/// `table` holds exactly one row per applied commit (checked after the run, untimed).
pub fn apply_run<P: Projection>(
    projection: &P,
    table: &str,
    commits: &[(RecordedCommit, telemetry::TraceContext)],
    batch: usize,
    limits: Limits,
) -> Result<Run> {
    let dir = tempfile::Builder::new()
        .prefix("approdo-bench-store-")
        .tempdir()
        .context("temporary store directory")?;
    let store = ProjectionStore::open(dir.path())?;
    let mut chunks = commits.chunks(batch);
    let mut sampler = Sampler::new(commits.len().div_ceil(batch), limits.time);
    while sampler.more() {
        let Some(chunk) = chunks.next() else {
            break;
        };
        let started = Instant::now();
        let position = store.apply_batch(projection, chunk)?;
        sampler.record(started.elapsed(), chunk.len());
        ensure!(
            Some(position) == chunk.last().map(|(c, _)| c.sequence),
            "store position {position} does not match the batch"
        );
    }
    let run = sampler.finish();
    let rows = store.scan(table, b"")?.len();
    ensure!(
        rows == run.items,
        "{} has {rows} rows in {table} after applying {} commits",
        projection.name(),
        run.items
    );
    Ok(run)
}
