//! `approdo-bench million`: fills a log with synthetic landings through the real
//! services over gRPC (64 clients by default, no queries), and at a tenth of the
//! target and at the target measures: each service's projection rebuild (the
//! release binary started on an empty data folder, until its admin status is
//! live, without lag, at the position it had), a case history read
//! (`GetCaseHistory`, read from the log), a list page (`ListCases`,
//! `ListInbox`), command latency with one client, and each service's resident
//! memory; then prints how each figure changed between the two.
//!
//! Counted in commits (log messages; a commit holds one or more events).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use contracts::referral::v1 as referral;
use contracts::screening::v1 as screening;
use synthetic_landing::registry;

use crate::cli::Million;
use crate::load::{self, Load};
use crate::stats::{Run, Summary};
use crate::system::{SERVICES, System, with_token};

/// How long the one-client command run at each checkpoint lasts.
const COMMAND_RUN: Duration = Duration::from_secs(5);

/// What one checkpoint measured.
struct Checkpoint {
    commits: u64,
    fill: Duration,
    history: Summary,
    history_entries: f64,
    list_cases: Summary,
    list_inbox: Summary,
    commands: Summary,
    /// By service: rebuild time, resident memory while following (before the
    /// rebuild) and right after its rebuild caught up.
    services: Vec<ServiceFigures>,
}

struct ServiceFigures {
    name: &'static str,
    rebuild: Duration,
    rss_following: f64,
    rss_rebuilt: f64,
}

pub async fn run(options: &Million) -> Result<()> {
    let started = Instant::now();
    eprintln!("million: starting the system ({})", options.mode.name());
    let mut system = System::start(options.mode).await?;
    let idle: Vec<(&str, f64)> = SERVICES
        .iter()
        .map(|s| (*s, system.rss_mib(s).unwrap_or(0.0)))
        .collect();
    synthetic_landing::register(&system.endpoints()?, system.credentials.as_ref()).await?;
    let load = Load {
        endpoints: system.endpoints()?,
        credentials: Arc::clone(&system.credentials),
        people: options.people,
        queries: false,
        last_sequence: Arc::new(AtomicU64::new(0)),
    };
    let mut cases = Vec::new();
    let mut checkpoints = Vec::new();
    for (i, target) in options.checkpoints().into_iter().enumerate() {
        eprintln!("million: filling to {target} commits with {} clients", options.clients);
        let fill_started = Instant::now();
        let progress = tokio::spawn(progress(Arc::clone(&load.last_sequence)));
        let filled = load::run(&load, options.clients, 1_000 + i as u64, move |load: &Load| {
            load.last_sequence.load(Ordering::Relaxed) >= target
        })
        .await;
        progress.abort();
        let filled = filled?;
        let fill = fill_started.elapsed();
        eprintln!(
            "million: filled in {:.0} s ({:.0} commands/s, {} errors{})",
            fill.as_secs_f64(),
            filled.command_rate(),
            filled.errors,
            filled
                .first_error
                .as_deref()
                .map_or(String::new(), |e| format!(", first: {e}"))
        );
        cases.extend(filled.cases);
        checkpoints.push(measure(&mut system, &load, options, &cases, fill).await?);
    }
    print(options, &idle, &checkpoints, started.elapsed());
    system.stop().await;
    Ok(())
}

/// Prints the fill's progress every 30 s (stderr).
async fn progress(sequence: Arc<AtomicU64>) {
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_secs(30)).await;
        let now = sequence.load(Ordering::Relaxed);
        eprintln!(
            "  {now} commits after {:.0} s ({:.0}/s)",
            started.elapsed().as_secs_f64(),
            now as f64 / started.elapsed().as_secs_f64()
        );
    }
}

async fn measure(
    system: &mut System,
    load: &Load,
    options: &Million,
    cases: &[String],
    fill: Duration,
) -> Result<Checkpoint> {
    // Monitoring follows the whole log: its position is the log's last commit.
    let commits = system.wait_caught_up("monitoring", 0).await?.position;
    let mut rss_following = Vec::new();
    for service in SERVICES {
        system.wait_caught_up(service, 0).await?;
        rss_following.push(system.rss_mib(service)?);
    }
    eprintln!("million: {commits} commits; reads");
    let sample: Vec<&String> = if cases.is_empty() {
        Vec::new()
    } else {
        (0..options.samples)
            .map(|i| &cases[(i * 7_919) % cases.len()])
            .collect()
    };
    let credentials = Arc::clone(&system.credentials);
    let mut screening = screening::screening_service_client::ScreeningServiceClient::new(
        system.service("screening")?.channel.clone(),
    );
    let mut referral = referral::referral_service_client::ReferralServiceClient::new(
        system.service("referral")?.channel.clone(),
    );
    let (mut history, mut entries) = (Vec::new(), 0_usize);
    for case_id in &sample {
        let sent = Instant::now();
        let answer = screening
            .get_case_history(with_token(
                screening::GetCaseHistoryRequest {
                    case_id: (*case_id).clone(),
                    min_log_sequence: 0,
                },
                &credentials.analyst(),
            ))
            .await;
        let took = sent.elapsed();
        entries += answer?.into_inner().entries.len();
        history.push(took);
    }
    let history_entries = entries as f64 / history.len().max(1) as f64;
    let mut list_cases = Vec::new();
    for _ in 0..options.samples {
        let sent = Instant::now();
        load::list_cases(&mut screening, &credentials).await?;
        list_cases.push(sent.elapsed());
    }
    let mut list_inbox = Vec::new();
    for i in 0..options.samples {
        let receiver = registry::RECEIVERS[i % registry::RECEIVERS.len()].organisation_id;
        let sent = Instant::now();
        load::list_inbox(&mut referral, &credentials, receiver).await?;
        list_inbox.push(sent.elapsed());
    }
    eprintln!("million: commands, one client, {COMMAND_RUN:?}");
    let commands = load::run(load, 1, 5_000 + commits, load::for_time(COMMAND_RUN)).await?;

    let mut services = Vec::new();
    for (service, rss_following) in SERVICES.into_iter().zip(rss_following) {
        let position = system.wait_caught_up(service, 0).await?.position;
        eprintln!("million: rebuilding {service} to {position}");
        system.stop_service(service).await?;
        let started = Instant::now();
        system.start_service(service).await?;
        system.wait_caught_up(service, position).await?;
        let rebuild = started.elapsed();
        services.push(ServiceFigures {
            name: service,
            rebuild,
            rss_following,
            rss_rebuilt: system.rss_mib(service)?,
        });
    }
    let summary = |latencies: Vec<Duration>| Summary::of(&[Run::new(latencies.len(), Duration::ZERO, latencies)]);
    Ok(Checkpoint {
        commits,
        fill,
        history: summary(history),
        history_entries,
        list_cases: summary(list_cases),
        list_inbox: summary(list_inbox),
        commands: Summary::of(&[commands.all_commands()]),
        services,
    })
}

/// `later / earlier`, as a change in percent.
fn change(earlier: f64, later: f64) -> String {
    if earlier > 0.0 {
        format!("{:+.0} %", (later / earlier - 1.0) * 100.0)
    } else {
        "-".to_owned()
    }
}

fn print(options: &Million, idle: &[(&str, f64)], checkpoints: &[Checkpoint], took: Duration) {
    println!(
        "## million: {} commits, {}",
        options.events,
        options.mode.name()
    );
    println!();
    println!(
        "approdo-bench million {} on {}; {}; approdo {}; release services; filled over gRPC by \
         {} clients running synthetic landings of {} people; {} reads per read figure; load \
         average at the end: {}; total {:.0} s",
        time::OffsetDateTime::now_utc().date(),
        crate::system::machine(),
        crate::system::nats_version(),
        env!("CARGO_PKG_VERSION"),
        options.clients,
        options.people,
        options.samples,
        crate::load_average(),
        took.as_secs_f64(),
    );
    println!();
    let [small, large] = checkpoints else {
        return;
    };
    println!(
        "| figure | at {} commits | at {} commits | change | target |",
        small.commits, large.commits
    );
    println!("|---|---:|---:|---:|---|");
    let row = |name: &str, a: f64, b: f64, unit: &str, target: &str| {
        println!(
            "| {name} | {a:.3}{unit} | {b:.3}{unit} | {} | {target} |",
            change(a, b)
        );
    };
    let ms = |d: Duration| d.as_secs_f64() * 1_000.0;
    println!(
        "| fill through gRPC (commands/s) | {:.0} | {:.0} | | |",
        small.commits as f64 / small.fill.as_secs_f64(),
        (large.commits - small.commits) as f64 / large.fill.as_secs_f64()
    );
    row(
        "case history (GetCaseHistory) p50 ms",
        ms(small.history.p50),
        ms(large.history.p50),
        "",
        "",
    );
    row(
        "case history (GetCaseHistory) p99 ms",
        ms(small.history.p99),
        ms(large.history.p99),
        "",
        "<= 5 ms at 1M; within 20 %",
    );
    println!(
        "| of which commits per history (mean) | {:.1} | {:.1} | | |",
        small.history_entries, large.history_entries
    );
    for (name, a, b) in [
        ("ListCases page p50 ms", small.list_cases.p50, large.list_cases.p50),
        ("ListCases page p99 ms", small.list_cases.p99, large.list_cases.p99),
        ("ListInbox page p50 ms", small.list_inbox.p50, large.list_inbox.p50),
        ("ListInbox page p99 ms", small.list_inbox.p99, large.list_inbox.p99),
    ] {
        row(
            name,
            ms(a),
            ms(b),
            "",
            if name.contains("p99") {
                "<= 10 ms at 1M; within 20 %"
            } else {
                ""
            },
        );
    }
    row(
        "command p50 ms (one client)",
        ms(small.commands.p50),
        ms(large.commands.p50),
        "",
        "",
    );
    row(
        "command p99 ms (one client)",
        ms(small.commands.p99),
        ms(large.commands.p99),
        "",
        "within 20 %",
    );
    for (a, b) in small.services.iter().zip(&large.services) {
        println!(
            "| {} rebuild s (log commits/s) | {:.1} ({:.0}/s) | {:.1} ({:.0}/s) | {} (rate) | linear |",
            a.name,
            a.rebuild.as_secs_f64(),
            small.commits as f64 / a.rebuild.as_secs_f64(),
            b.rebuild.as_secs_f64(),
            large.commits as f64 / b.rebuild.as_secs_f64(),
            change(
                small.commits as f64 / a.rebuild.as_secs_f64(),
                large.commits as f64 / b.rebuild.as_secs_f64()
            ),
        );
    }
    for (a, b) in small.services.iter().zip(&large.services) {
        let idle = idle
            .iter()
            .find(|(s, _)| *s == a.name)
            .map_or(0.0, |(_, m)| *m);
        println!(
            "| {} VmRSS MiB: idle on an empty log {idle:.0}; following / just rebuilt | {:.0} / {:.0} | {:.0} / {:.0} | {} | <= 150 MB at 1M |",
            a.name,
            a.rss_following,
            a.rss_rebuilt,
            b.rss_following,
            b.rss_rebuilt,
            change(a.rss_rebuilt.max(a.rss_following), b.rss_rebuilt.max(b.rss_following)),
        );
    }
    println!();
    println!(
        "Reads timed: histories {} and {}, pages {} each; commands {} and {}.",
        small.history.min_ops,
        large.history.min_ops,
        large.list_cases.min_ops,
        small.commands.min_ops,
        large.commands.min_ops,
    );
}
