//! approdo-bench: measures the case log and the projections against the raw
//! NATS and plain-store baselines in the same run, and prints ratios.
//!
//! Run it with `cargo run --release -p bench --bin approdo-bench`; what each
//! figure means is in BENCHMARKS.md. It starts its own nats-server (JetStream,
//! `sync_interval: always`) on 127.0.0.1 and keeps every store in a temporary folder.
//!
//! `approdo-bench e2e` and `approdo-bench million` run the real services as
//! release processes (build them first: `cargo build --release -p screening -p
//! referral -p safe-space -p monitoring -p bench`): [`e2e`] and [`million`].

mod apply;
mod catch_up;
mod cli;
mod e2e;
mod lists;
mod load;
mod million;
mod publish;
mod raw_nats;
mod stats;
mod system;
mod workload;

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::stats::{Summary, millis};

/// Runs of each measurement; every figure is the median of these.
const RUNS: usize = 3;

const PUBLISH: publish::Limits = publish::Limits {
    runs: RUNS,
    publish_ops: 3_000,
    publish_time: Duration::from_secs(5),
    execute_ops: 1_000,
    execute_time: Duration::from_secs(6),
};

/// Commits built in memory for phase 2, and the batch sizes compared.
const APPLY_COMMITS: usize = 20_000;
const APPLY_BATCHES: [usize; 2] = [512, 1];
const APPLY: apply::Limits = apply::Limits {
    runs: RUNS,
    time: Duration::from_secs(5),
};

const CATCH_UP: catch_up::Limits = catch_up::Limits {
    runs: RUNS,
    commits: 20_000,
    patience: Duration::from_secs(60),
    fill_time: Duration::from_secs(90),
};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match cli::parse(&args) {
        Ok(command) => command,
        Err(error) => {
            eprintln!("approdo-bench: {error:#}\n{}", cli::USAGE);
            std::process::exit(2);
        }
    };
    // `approdo-bench lists`: list pages from the projection's index (no NATS).
    if command == cli::Command::Lists {
        return lists::run();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // On Ctrl-C or SIGTERM the benchmark returns, so the processes it
        // started (nats-server, the services) are stopped as it unwinds.
        tokio::select! {
            done = async {
                match command {
                    cli::Command::Micro => run(true).await,
                    cli::Command::Projections => run(false).await,
                    cli::Command::Lists => unreachable!("run before the runtime"),
                    cli::Command::E2e(options) => e2e::run(&options).await,
                    cli::Command::Million(options) => million::run(&options).await,
                }
            } => done,
            signal = interrupted() => {
                signal?;
                anyhow::bail!("interrupted");
            }
        }
    })
}

/// Ctrl-C or SIGTERM.
async fn interrupted() -> Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        signal = tokio::signal::ctrl_c() => Ok(signal?),
        _ = terminate.recv() => Ok(()),
    }
}

/// Phases 1-3 (`everything`), or only 2 and 3 (`approdo-bench projections`:
/// the projections against the sled baseline).
async fn run(everything: bool) -> Result<()> {
    let started = Instant::now();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let date = time::OffsetDateTime::now_utc().date();
    println!("approdo-bench {date}, {cores} cores, medians of {RUNS} runs");
    println!("load average at start: {}", load_average());
    println!();

    if everything {
        eprintln!("phase 1: writing to the case log");
        let written = publish::measure(PUBLISH).await?;
        print_publish(&written);
    }

    eprintln!("phase 2: projection apply (store only)");
    let commits = workload::recorded_commits(APPLY_COMMITS)?;
    let applied =
        tokio::task::spawn_blocking(move || apply::measure(&commits, &APPLY_BATCHES, APPLY))
            .await??;
    print_apply(&applied);

    eprintln!("phase 3: catch-up through the runner");
    let caught_up = catch_up::measure(CATCH_UP).await?;
    print_catch_up(&caught_up);

    println!("load average at end: {}", load_average());
    println!(
        "total time {:.0} s (including preparation that is not measured)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The 1, 5 and 15 minute load averages (Linux), to judge how quiet the machine was.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Lowest and highest rate of the runs.
fn spread(s: &Summary) -> String {
    format!("{:.0}-{:.0}", s.rate_min, s.rate_max)
}

/// `ours / baseline`, two decimals.
fn ratio(ours: f64, baseline: f64) -> String {
    if baseline > 0.0 {
        format!("{:.2}x", ours / baseline)
    } else {
        "-".to_owned()
    }
}

fn print_publish(figures: &publish::Figures) {
    println!(
        "(1) writing to the case log, one request at a time; payload {} B \
         (a commit with one such event is {} B encoded)",
        workload::PAYLOAD_BYTES,
        figures.commit_bytes
    );
    println!();
    println!(
        "| operation | ops/s | runs' ops/s | p50 ms | p99 ms | rate / baseline | p50 / baseline | ops per run |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let base = figures.raw;
    let row = |name: &str, s: &Summary| {
        println!(
            "| {name} | {:.0} | {} | {} | {} | {} | {} | {} |",
            s.rate,
            spread(s),
            millis(s.p50),
            millis(s.p99),
            ratio(s.rate, base.rate),
            ratio(s.p50.as_secs_f64(), base.p50.as_secs_f64()),
            s.min_ops,
        );
    };
    row("raw PUB + await PubAck (baseline)", &figures.raw);
    row("CaseLog::append", &figures.append);
    let prior = publish::PRIOR_COMMITS;
    row(
        &format!("CaseLog::execute ({prior} prior commits, history in memory)"),
        &figures.execute,
    );
    row(
        &format!("CaseLog::execute ({prior} prior commits, history read from the log)"),
        &figures.execute_cold,
    );
    row(
        &format!("CaseLog::history ({prior} commits) read from the log"),
        &figures.history,
    );
    row(
        &format!("CaseLog::history ({prior} commits) held, end confirmed by the leader"),
        &figures.history_held,
    );
    println!();
}

fn print_apply(figures: &[apply::Figures]) {
    println!(
        "(2) projection apply, ProjectionStore::apply_batch, {APPLY_COMMITS} commits in memory \
         (one transaction per batch)"
    );
    println!();
    println!(
        "| projection | batch | commits/s | runs' commits/s | p50 txn ms | p99 txn ms | rate / baseline | commits per run |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for f in figures {
        for (name, s) in [
            ("one row (baseline)", &f.one_row),
            ("catalogue", &f.catalogue),
        ] {
            println!(
                "| {name} | {} | {:.0} | {} | {} | {} | {} | {} |",
                f.batch,
                s.rate,
                spread(s),
                millis(s.p50),
                millis(s.p99),
                ratio(s.rate, f.one_row.rate),
                s.min_items,
            );
        }
    }
    println!();
}

fn print_catch_up(f: &catch_up::Figures) {
    println!(
        "(3) catch-up through projection_sled::spawn: {} pre-appended commits (appended in {:.1} s, \
         not measured), runner batch {}, from spawn to wait_for(last sequence)",
        f.commits,
        f.fill.as_secs_f64(),
        f.batch
    );
    println!();
    println!(
        "| projection | time s | commits/s | runs' commits/s | rate / baseline | rate / sled one row, batch {} |",
        f.batch
    );
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| sled one row, `apply_batch` in memory (between the runs) | {:.2} | {:.0} | {} | - | 1.00x |",
        f.commits as f64 / f.sled_one_row.rate.max(1e-9),
        f.sled_one_row.rate,
        spread(&f.sled_one_row),
    );
    for (name, s) in [
        ("one row (baseline)", &f.one_row),
        ("catalogue", &f.catalogue),
    ] {
        println!(
            "| {name} | {:.2} | {:.0} | {} | {} | {} |",
            s.p50.as_secs_f64(),
            s.rate,
            spread(s),
            ratio(s.rate, f.one_row.rate),
            ratio(s.rate, f.sled_one_row.rate),
        );
    }
    println!();
    println!(
        "where the runner's time went (its own counters, summed over the runs, as a share of the catch-up time)"
    );
    println!();
    println!(
        "| projection | batches | commits per batch | waiting for deliveries | decoding | applying |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, spent) in [
        ("one row (baseline)", &f.one_row_time),
        ("catalogue", &f.catalogue_time),
    ] {
        let t = &spent.timings;
        let share = |d: Duration| {
            format!(
                "{:.0} %",
                100.0 * d.as_secs_f64() / spent.elapsed.as_secs_f64().max(1e-9)
            )
        };
        println!(
            "| {name} | {} | {:.0} | {} | {} | {} |",
            t.batches,
            t.commits as f64 / t.batches.max(1) as f64,
            share(t.waiting),
            share(t.decoding),
            share(t.applying),
        );
    }
    println!();
}
