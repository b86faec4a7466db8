//! `approdo-bench e2e`: the real services as separate release processes, driven
//! over gRPC by clients running synthetic landings (see [`crate::load`]),
//! against raw expected-sequence publishing to JetStream on a second, identically
//! configured nats-server, in the same run: one client against one publish at a
//! time (latency), many clients against as many publishes in flight (throughput).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use anyhow::{Context, Result};
use case_log_jetstream::{CaseLog, CaseLogConfig};
use nats_test_server::{Durability, NatsServer, ServerOptions};

use crate::cli::E2e;
use crate::load::{self, Load, LoadRun, QUERIES};
use crate::raw_nats::{InFlightSubject, RawClient};
use crate::stats::{Run, Sampler, Summary, median, millis};
use crate::system::System;
use crate::workload::payload;

/// Raw publishes before measuring.
const RAW_WARMUP: usize = 200;

pub async fn run(options: &E2e) -> Result<()> {
    for (m, mode) in options.modes.iter().enumerate() {
        eprintln!("e2e: {}", mode.name());
        measure_mode(options, *mode, m as u64).await?;
    }
    Ok(())
}

/// The figures of one durability mode.
struct Figures {
    raw_one: Summary,
    raw_many: Summary,
    one: Vec<LoadRun>,
    many: Vec<LoadRun>,
}

async fn measure_mode(options: &E2e, mode: Durability, seeds: u64) -> Result<()> {
    let mut system = System::start(mode).await?;
    let raw_server = NatsServer::start_with(ServerOptions {
        sync: mode,
        ..ServerOptions::default()
    })
    .context("start the raw baseline's nats-server")?;
    // The same stream as the services' (CaseLog::connect provisions it).
    let _stream = CaseLog::connect(&CaseLogConfig {
        url: raw_server.url(),
        ..CaseLogConfig::default()
    })
    .await?;
    let mut raw = RawClient::connect(raw_server.port()).await?;
    let mut warm = InFlightSubject::fresh("raw-warmup", 1);
    for i in 0..RAW_WARMUP {
        let sequence = raw
            .publish_expecting(&warm[0].subject, warm[0].last, &payload(i))
            .await?;
        warm[0].last = sequence;
    }

    let registered =
        synthetic_landing::register(&system.endpoints()?, system.credentials.as_ref()).await?;
    drop(registered);
    let load = Load {
        endpoints: system.endpoints()?,
        credentials: Arc::clone(&system.credentials),
        people: options.people,
        queries: true,
        last_sequence: Arc::new(AtomicU64::new(0)),
    };
    let seconds = Duration::from_secs(options.seconds);
    eprintln!("  warm-up: 8 clients, 3 s");
    load::run(
        &load,
        8,
        seeds * 100 + 99,
        load::for_time(Duration::from_secs(3)),
    )
    .await?;

    let (mut raw_ones, mut raw_manys, mut ones, mut manys) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 0..options.runs {
        let tag = format!("m{seeds}r{run}");
        eprintln!(
            "  run {}/{}: raw, one publish at a time",
            run + 1,
            options.runs
        );
        raw_ones.push(raw_one_at_a_time(&mut raw, &tag, seconds).await?);
        eprintln!("  run {}/{}: gRPC, one client", run + 1, options.runs);
        ones.push(
            load::run(
                &load,
                1,
                seeds * 100 + run as u64 * 2,
                load::for_time(seconds),
            )
            .await?,
        );
        eprintln!(
            "  run {}/{}: raw, {} publishes in flight",
            run + 1,
            options.runs,
            options.clients
        );
        raw_manys.push(raw_in_flight(&mut raw, &tag, options.clients, seconds).await?);
        eprintln!(
            "  run {}/{}: gRPC, {} clients",
            run + 1,
            options.runs,
            options.clients
        );
        manys.push(
            load::run(
                &load,
                options.clients,
                seeds * 100 + run as u64 * 2 + 1,
                load::for_time(seconds),
            )
            .await?,
        );
    }
    let figures = Figures {
        raw_one: Summary::of(&raw_ones),
        raw_many: Summary::of(&raw_manys),
        one: ones,
        many: manys,
    };
    let mut rss = Vec::new();
    for service in crate::system::SERVICES {
        rss.push((service, system.rss_mib(service).unwrap_or(0.0)));
    }
    print(options, mode, &figures, &rss);
    system.stop().await;
    Ok(())
}

async fn raw_one_at_a_time(raw: &mut RawClient, tag: &str, time: Duration) -> Result<Run> {
    let mut subject = InFlightSubject::fresh(&format!("raw-one-{tag}"), 1).remove(0);
    let mut sampler = Sampler::new(usize::MAX, time);
    let mut i = 0;
    while sampler.more() {
        let started = std::time::Instant::now();
        subject.last = raw
            .publish_expecting(&subject.subject, subject.last, &payload(i))
            .await?;
        sampler.record(started.elapsed(), 1);
        i += 1;
    }
    Ok(sampler.finish())
}

async fn raw_in_flight(
    raw: &mut RawClient,
    tag: &str,
    in_flight: usize,
    time: Duration,
) -> Result<Run> {
    let mut subjects = InFlightSubject::fresh(&format!("raw-many-{tag}"), in_flight);
    let mut sampler = Sampler::new(usize::MAX, time);
    raw.publish_in_flight(&mut subjects, &payload(0), &mut sampler)
        .await?;
    Ok(sampler.finish())
}

/// The median over runs of a figure of each run.
fn median_of(runs: &[LoadRun], figure: impl Fn(&LoadRun) -> f64) -> f64 {
    median(runs.iter().map(figure).collect())
}

fn ratio(ours: f64, baseline: f64) -> String {
    if baseline > 0.0 {
        format!("{:.2}x", ours / baseline)
    } else {
        "-".to_owned()
    }
}

fn print(options: &E2e, mode: Durability, f: &Figures, rss: &[(&str, f64)]) {
    println!("## e2e, {}", mode.name());
    println!();
    println!(
        "approdo-bench e2e {} on {}; {}; approdo {}; release services; {} s runs, medians of {}; \
         load average at the end: {}",
        time::OffsetDateTime::now_utc().date(),
        crate::system::machine(),
        crate::system::nats_version(),
        env!("CARGO_PKG_VERSION"),
        options.seconds,
        options.runs,
        crate::load_average(),
    );
    println!();
    let commands_many = median_of(&f.many, LoadRun::command_rate);
    let queries_many = median_of(&f.many, LoadRun::query_rate);
    let commands_one = median_of(&f.one, LoadRun::command_rate);
    let all_many = Summary::of(&f.many.iter().map(LoadRun::all_commands).collect::<Vec<_>>());
    let all_one = Summary::of(&f.one.iter().map(LoadRun::all_commands).collect::<Vec<_>>());
    println!("| figure | ours | raw baseline | ratio | target |");
    println!("|---|---:|---:|---:|---|");
    println!(
        "| commands/s, {} gRPC clients / raw {} in flight | {:.0} (+{:.0} queries/s) | {:.0} | {} | >= 0.5x |",
        options.clients,
        options.clients,
        commands_many,
        queries_many,
        f.raw_many.rate,
        ratio(commands_many, f.raw_many.rate)
    );
    println!(
        "| commands/s, 1 gRPC client / raw one at a time | {:.0} | {:.0} | {} | |",
        commands_one,
        f.raw_one.rate,
        ratio(commands_one, f.raw_one.rate)
    );
    println!(
        "| command p50 ms, 1 client / raw one at a time | {} | {} | {} | |",
        millis(all_one.p50),
        millis(f.raw_one.p50),
        ratio(all_one.p50.as_secs_f64(), f.raw_one.p50.as_secs_f64())
    );
    let excess = all_one.p99.as_secs_f64() - f.raw_one.p99.as_secs_f64();
    println!(
        "| command p99 ms, 1 client / raw one at a time | {} | {} | {:+.3} ms | <= raw + 1 ms |",
        millis(all_one.p99),
        millis(f.raw_one.p99),
        excess * 1_000.0
    );
    println!(
        "| command p50 / p99 ms, {} clients / raw {} in flight | {} / {} | {} / {} | {} (p99) | |",
        options.clients,
        options.clients,
        millis(all_many.p50),
        millis(all_many.p99),
        millis(f.raw_many.p50),
        millis(f.raw_many.p99),
        ratio(all_many.p99.as_secs_f64(), f.raw_many.p99.as_secs_f64())
    );
    println!();
    println!(
        "Per method. Low load: one client; \"p99 - raw p99\" against raw one at a time \
         ({} ms); load: {} clients.",
        millis(f.raw_one.p99),
        options.clients
    );
    println!();
    println!(
        "| method | calls, 1 client | p50 ms | p99 ms | p99 - raw p99 ms | calls, {} clients | p50 ms | p99 ms |",
        options.clients
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut methods: Vec<&str> = f
        .one
        .iter()
        .chain(&f.many)
        .flat_map(|r| r.latencies.keys().copied())
        .collect();
    methods.sort_unstable_by_key(|m| (QUERIES.contains(m), *m));
    methods.dedup();
    for method in methods {
        let one = Summary::of(&f.one.iter().map(|r| r.method(method)).collect::<Vec<_>>());
        let many = Summary::of(&f.many.iter().map(|r| r.method(method)).collect::<Vec<_>>());
        let calls = |runs: &[LoadRun]| {
            runs.iter()
                .map(|r| r.latencies.get(method).map_or(0, Vec::len))
                .sum::<usize>()
        };
        let (calls_one, calls_many) = (calls(&f.one), calls(&f.many));
        let cell = |calls: usize, d: std::time::Duration| {
            if calls == 0 {
                "-".to_owned()
            } else {
                millis(d)
            }
        };
        println!(
            "| {method} | {calls_one} | {} | {} | {} | {calls_many} | {} | {} |",
            cell(calls_one, one.p50),
            cell(calls_one, one.p99),
            if calls_one == 0 {
                "-".to_owned()
            } else {
                format!(
                    "{:+.3}",
                    (one.p99.as_secs_f64() - f.raw_one.p99.as_secs_f64()) * 1_000.0
                )
            },
            cell(calls_many, many.p50),
            cell(calls_many, many.p99),
        );
    }
    println!();
    let errors: usize = f.one.iter().chain(&f.many).map(|r| r.errors).sum();
    let out_of_reach: usize = f.one.iter().chain(&f.many).map(|r| r.out_of_reach).sum();
    println!(
        "Calls per run (all methods): 1 client {}, {} clients {}; raw one at a time {} and {} in \
         flight {} publishes per run (fewest). Errors {errors}{}; queries out of the \
         prefecture's reach (case moved to another province), not timed: {out_of_reach}.",
        f.one
            .iter()
            .map(|r| r.commands + r.queries)
            .min()
            .unwrap_or(0),
        options.clients,
        f.many
            .iter()
            .map(|r| r.commands + r.queries)
            .min()
            .unwrap_or(0),
        f.raw_one.min_ops,
        options.clients,
        f.raw_many.min_ops,
        f.one
            .iter()
            .chain(&f.many)
            .find_map(|r| r.first_error.as_deref())
            .map_or(String::new(), |e| format!(" (first: {e})")),
    );
    println!(
        "Resident memory at the end (VmRSS, MiB): {}",
        rss.iter()
            .map(|(s, m)| format!("{s} {m:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!();
}
