//! `approdo-bench million`: fills a log with synthetic landings through the real
//! services over gRPC (64 clients by default, no queries), and at a hundredth, a
//! tenth of the target and at the target measures: each service's projection rebuild (the
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
        eprintln!(
            "million: filling to {target} commits with {} clients",
            options.clients
        );
        let fill_started = Instant::now();
        let progress = tokio::spawn(progress(Arc::clone(&load.last_sequence)));
        let filled = load::run(
            &load,
            options.clients,
            1_000 + i as u64,
            move |load: &Load| load.last_sequence.load(Ordering::Relaxed) >= target,
        )
        .await;
        progress.abort();
        let filled = filled?;
        let fill = fill_started.elapsed();
        let reached = load.last_sequence.load(Ordering::Relaxed);
        if reached < target {
            anyhow::bail!(
                "the fill stopped at {reached} commits ({} errors, first: {})",
                filled.errors,
                filled.first_error.as_deref().unwrap_or("none")
            );
        }
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
        // Printed at each point, so a long run that is stopped keeps what it measured.
        print(options, &idle, &checkpoints, started.elapsed());
    }
    system.stop().await;
    Ok(())
}

/// Prints the fill's progress every 30 s (stderr).
async fn progress(sequence: Arc<AtomicU64>) {
    let started = Instant::now();
    let from = sequence.load(Ordering::Relaxed);
    loop {
        tokio::time::sleep(Duration::from_secs(30)).await;
        let now = sequence.load(Ordering::Relaxed);
        eprintln!(
            "  {now} commits after {:.0} s ({:.0}/s since this fill began)",
            started.elapsed().as_secs_f64(),
            now.saturating_sub(from) as f64 / started.elapsed().as_secs_f64()
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
            rebuild,
            rss_following,
            rss_rebuilt: system.rss_mib(service)?,
        });
    }
    let summary = |latencies: Vec<Duration>| {
        Summary::of(&[Run::new(latencies.len(), Duration::ZERO, latencies)])
    };
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

/// One row: a name, a value per checkpoint, whether the change between the
/// last two is worth showing, and the target.
struct Row {
    name: String,
    values: Vec<f64>,
    show: fn(f64) -> String,
    change: bool,
    target: &'static str,
}

fn print(options: &Million, idle: &[(&str, f64)], checkpoints: &[Checkpoint], took: Duration) {
    println!(
        "## million: {} of {} commits, {}",
        checkpoints.last().map_or(0, |c| c.commits),
        options.events,
        options.mode.name()
    );
    println!();
    println!(
        "approdo-bench million {} on {}; {}; approdo {}; release services; filled over gRPC by \
         {} clients running synthetic landings of {} people; {} reads per read figure; load \
         average now: {}; {:.0} s so far",
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
    let ms = |d: Duration| d.as_secs_f64() * 1_000.0;
    let three = |v: f64| format!("{v:.3}");
    let one = |v: f64| format!("{v:.1}");
    let whole = |v: f64| format!("{v:.0}");
    let each = |f: &dyn Fn(&Checkpoint) -> f64| checkpoints.iter().map(f).collect::<Vec<_>>();
    let mut rows = vec![
        Row {
            name: "fill through gRPC since the previous point (commands/s)".to_owned(),
            values: checkpoints
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let before = if i == 0 {
                        0
                    } else {
                        checkpoints[i - 1].commits
                    };
                    c.commits.saturating_sub(before) as f64 / c.fill.as_secs_f64().max(1e-9)
                })
                .collect(),
            show: whole,
            change: true,
            target: "",
        },
        Row {
            name: "case history (GetCaseHistory) p50 ms".to_owned(),
            values: each(&|c| ms(c.history.p50)),
            show: three,
            change: true,
            target: "",
        },
        Row {
            name: "case history (GetCaseHistory) p99 ms".to_owned(),
            values: each(&|c| ms(c.history.p99)),
            show: three,
            change: true,
            target: "<= 5 ms at 1M; within 20 %",
        },
        Row {
            name: "commits per case history (mean)".to_owned(),
            values: each(&|c| c.history_entries),
            show: one,
            change: false,
            target: "",
        },
        Row {
            name: "ListCases page p50 ms".to_owned(),
            values: each(&|c| ms(c.list_cases.p50)),
            show: three,
            change: true,
            target: "",
        },
        Row {
            name: "ListCases page p99 ms".to_owned(),
            values: each(&|c| ms(c.list_cases.p99)),
            show: three,
            change: true,
            target: "<= 10 ms at 1M; within 20 %",
        },
        Row {
            name: "ListInbox page p50 ms".to_owned(),
            values: each(&|c| ms(c.list_inbox.p50)),
            show: three,
            change: true,
            target: "",
        },
        Row {
            name: "ListInbox page p99 ms".to_owned(),
            values: each(&|c| ms(c.list_inbox.p99)),
            show: three,
            change: true,
            target: "<= 10 ms at 1M; within 20 %",
        },
        Row {
            name: "command p50 ms (one client)".to_owned(),
            values: each(&|c| ms(c.commands.p50)),
            show: three,
            change: true,
            target: "",
        },
        Row {
            name: "command p99 ms (one client)".to_owned(),
            values: each(&|c| ms(c.commands.p99)),
            show: three,
            change: true,
            target: "within 20 %",
        },
    ];
    for (s, service) in SERVICES.iter().enumerate() {
        rows.push(Row {
            name: format!("{service} rebuild s"),
            values: each(&|c| c.services[s].rebuild.as_secs_f64()),
            show: one,
            change: true,
            target: "",
        });
        rows.push(Row {
            name: format!("{service} rebuild, log commits/s"),
            values: each(&|c| c.commits as f64 / c.services[s].rebuild.as_secs_f64()),
            show: whole,
            change: true,
            target: "linear (the rate holds)",
        });
    }
    for (s, service) in SERVICES.iter().enumerate() {
        let idle = idle
            .iter()
            .find(|(name, _)| name == service)
            .map_or(0.0, |(_, m)| *m);
        rows.push(Row {
            name: format!("{service} VmRSS MiB following (idle on the empty log: {idle:.0})"),
            values: each(&|c| c.services[s].rss_following),
            show: whole,
            change: true,
            target: "<= 150 MB at 1M",
        });
        rows.push(Row {
            name: format!("{service} VmRSS MiB just rebuilt"),
            values: each(&|c| c.services[s].rss_rebuilt),
            show: whole,
            change: true,
            target: "<= 150 MB at 1M",
        });
    }
    let columns: Vec<String> = checkpoints
        .iter()
        .map(|c| format!("at {} commits", c.commits))
        .collect();
    println!(
        "| figure | {} | change (last two) | target |",
        columns.join(" | ")
    );
    println!("|---|{}---:|---|", "---:|".repeat(columns.len()));
    for row in rows {
        let values: Vec<String> = row.values.iter().map(|v| (row.show)(*v)).collect();
        let change_cell = match row.values.as_slice() {
            [.., a, b] if row.change => change(*a, *b),
            _ => String::new(),
        };
        println!(
            "| {} | {} | {change_cell} | {} |",
            row.name,
            values.join(" | "),
            row.target
        );
    }
    println!();
    println!(
        "Reads timed at each point: histories {}, ListCases pages {}, ListInbox pages {}, commands {}.",
        checkpoints
            .iter()
            .map(|c| c.history.min_ops.to_string())
            .collect::<Vec<_>>()
            .join("/"),
        checkpoints
            .iter()
            .map(|c| c.list_cases.min_ops.to_string())
            .collect::<Vec<_>>()
            .join("/"),
        checkpoints
            .iter()
            .map(|c| c.list_inbox.min_ops.to_string())
            .collect::<Vec<_>>()
            .join("/"),
        checkpoints
            .iter()
            .map(|c| c.commands.min_ops.to_string())
            .collect::<Vec<_>>()
            .join("/"),
    );
    println!();
}
