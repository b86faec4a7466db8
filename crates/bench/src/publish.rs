//! Phase 1: writing to the case log, one request at a time. The baseline is a raw
//! `PUB` with a reply inbox awaiting JetStream's PubAck; against it,
//! `CaseLog::append` (envelope, `Nats-Msg-Id`, expected last subject sequence) and
//! `CaseLog::execute` (the aggregate's history, decide, append) on an aggregate
//! this connection used recently (its history in memory, the hot path) and on
//! one it never saw (the history read from the log: batched direct gets, the
//! end confirmed by the stream's leader).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use case_log_jetstream::{
    AggregateAddress, CaseLog, CaseLogConfig, ExecuteError, HistoryBound, HistoryScope,
};
use nats_test_server::{NatsServer, ServerOptions};
use prost::Message;
use tokio::task::JoinSet;

use crate::raw_nats::RawClient;
use crate::stats::{Run, Sampler, Summary};
use crate::workload::{PAYLOAD_BYTES, case, new_commit, payload, pending};

/// Where the raw baseline publishes: a subject inside the case log's stream.
const RAW_SUBJECT: &str = "approdo.case.bench-raw.screening";
/// Prior commits of each aggregate a command is executed on.
pub const PRIOR_COMMITS: usize = 5;
/// Operations before measuring, to open files, consumers and caches.
const WARMUP: usize = 50;
/// Concurrent tasks preparing aggregates (not measured).
const PREPARE_WORKERS: usize = 16;
/// Aggregates whose histories are read again and again (reading changes nothing).
const HISTORY_AGGREGATES: usize = 50;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub runs: usize,
    pub publish_ops: usize,
    pub publish_time: Duration,
    pub execute_ops: usize,
    pub execute_time: Duration,
}

pub struct Figures {
    pub raw: Summary,
    pub append: Summary,
    /// `execute` on aggregates whose `PRIOR_COMMITS` commits this connection
    /// appended (their histories in memory).
    pub execute: Summary,
    /// `execute` on aggregates this connection never saw (history cache off).
    pub execute_cold: Summary,
    /// `CaseLog::history` of one aggregate with `PRIOR_COMMITS` commits read
    /// from the log: the read inside a cold `execute`.
    pub history: Summary,
    /// `CaseLog::history` of one such aggregate held in memory: one request
    /// to the stream's leader confirms nothing was added.
    pub history_held: Summary,
    /// Bytes of an encoded commit with one 200-byte event (what `append` publishes).
    pub commit_bytes: usize,
}

pub async fn measure(limits: Limits) -> Result<Figures> {
    let server = NatsServer::start_with(ServerOptions::default()).context("start nats-server")?;
    let config = CaseLogConfig {
        url: server.url(),
        ..CaseLogConfig::default()
    };
    let log = CaseLog::connect(&config).await?;
    // Another instance of a service: it never saw the aggregates and keeps nothing.
    let cold = CaseLog::connect(&CaseLogConfig {
        history_cache_bytes: 0,
        ..config.clone()
    })
    .await?;
    let mut raw = RawClient::connect(server.port()).await?;

    // Warm up all three paths on aggregates that are not measured.
    for i in 0..WARMUP {
        raw.publish_and_ack(RAW_SUBJECT, &payload(i)).await?;
    }
    let warm = case("warmup-append")?;
    let mut previous = 0;
    let mut commit_bytes = 0;
    for i in 0..WARMUP {
        let receipt = log
            .append(&new_commit(&warm, previous, &format!("w{i}"), i))
            .await?;
        previous = receipt.sequence;
        commit_bytes = receipt.commit.encoded_len();
    }
    for address in prepare(&log, "warmup", 10).await? {
        execute_one(&log, &address, 0).await?;
    }
    for address in prepare(&log, "warmup-cold", 10).await? {
        execute_one(&cold, &address, 0).await?;
    }
    let histories = prepare(&log, "history", HISTORY_AGGREGATES).await?;

    let (mut raws, mut appends, mut executes, mut colds, mut reads, mut held) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for run in 0..limits.runs {
        // Alternate which of the two goes first, so that drift favours neither.
        eprintln!(
            "  run {}/{}: raw publish and CaseLog::append",
            run + 1,
            limits.runs
        );
        if run % 2 == 0 {
            raws.push(raw_run(&mut raw, limits).await?);
            appends.push(append_run(&log, run, limits).await?);
        } else {
            appends.push(append_run(&log, run, limits).await?);
            raws.push(raw_run(&mut raw, limits).await?);
        }
        eprintln!(
            "  run {}/{}: preparing {} aggregates with {PRIOR_COMMITS} commits each",
            run + 1,
            limits.runs,
            limits.execute_ops
        );
        let aggregates = prepare(&log, &format!("r{run}"), limits.execute_ops).await?;
        let unseen = prepare(&log, &format!("c{run}"), limits.execute_ops).await?;
        eprintln!("  run {}/{}: CaseLog::execute", run + 1, limits.runs);
        executes.push(execute_run(&log, &aggregates, limits).await?);
        colds.push(execute_run(&cold, &unseen, limits).await?);
        eprintln!("  run {}/{}: CaseLog::history", run + 1, limits.runs);
        reads.push(history_run(&cold, &histories, limits).await?);
        held.push(history_run(&log, &histories, limits).await?);
    }
    Ok(Figures {
        raw: Summary::of(&raws),
        append: Summary::of(&appends),
        execute: Summary::of(&executes),
        execute_cold: Summary::of(&colds),
        history: Summary::of(&reads),
        history_held: Summary::of(&held),
        commit_bytes,
    })
}

async fn raw_run(raw: &mut RawClient, limits: Limits) -> Result<Run> {
    let mut sampler = Sampler::new(limits.publish_ops, limits.publish_time);
    let mut last = 0;
    let mut i = 0;
    while sampler.more() {
        let message = payload(i);
        debug_assert_eq!(message.len(), PAYLOAD_BYTES);
        let started = Instant::now();
        let sequence = raw.publish_and_ack(RAW_SUBJECT, &message).await?;
        sampler.record(started.elapsed(), 1);
        ensure!(sequence > last, "stream sequence went backwards");
        last = sequence;
        i += 1;
    }
    Ok(sampler.finish())
}

/// Appends to one aggregate, each commit after the previous one (a correct expectation).
async fn append_run(log: &CaseLog, run: usize, limits: Limits) -> Result<Run> {
    let address = case(&format!("append-{run}"))?;
    let mut sampler = Sampler::new(limits.publish_ops, limits.publish_time);
    let mut previous = 0;
    let mut i = 0;
    while sampler.more() {
        let commit = new_commit(&address, previous, &format!("a{i}"), i);
        let started = Instant::now();
        let receipt = log.append(&commit).await?;
        sampler.record(started.elapsed(), 1);
        ensure!(!receipt.duplicate, "append {i} was taken for a duplicate");
        previous = receipt.sequence;
        i += 1;
    }
    Ok(sampler.finish())
}

/// One command on each prepared aggregate, in turn.
async fn execute_run(
    log: &CaseLog,
    aggregates: &[AggregateAddress],
    limits: Limits,
) -> Result<Run> {
    let mut sampler = Sampler::new(
        limits.execute_ops.min(aggregates.len()),
        limits.execute_time,
    );
    let mut next = aggregates.iter().enumerate();
    while sampler.more() {
        let Some((i, address)) = next.next() else {
            break;
        };
        let started = Instant::now();
        execute_one(log, address, i).await?;
        sampler.record(started.elapsed(), 1);
    }
    Ok(sampler.finish())
}

/// Reads the history of the prepared aggregates in turn, as `execute` does first.
async fn history_run(
    log: &CaseLog,
    aggregates: &[AggregateAddress],
    limits: Limits,
) -> Result<Run> {
    let mut sampler = Sampler::new(limits.execute_ops, limits.execute_time);
    let mut next = aggregates.iter().cycle();
    while sampler.more() {
        let Some(address) = next.next() else {
            break;
        };
        let scope = HistoryScope::Aggregate(address.clone());
        let started = Instant::now();
        let history = log.history(&scope, HistoryBound::All).await?;
        sampler.record(started.elapsed(), 1);
        ensure!(
            history.len() == PRIOR_COMMITS,
            "read {} commits, expected {PRIOR_COMMITS}",
            history.len()
        );
    }
    Ok(sampler.finish())
}

async fn execute_one(log: &CaseLog, address: &AggregateAddress, seed: usize) -> Result<()> {
    let executed = log
        .execute(address, "bench-command", |history| {
            if history.len() != PRIOR_COMMITS {
                return Err(format!(
                    "expected {PRIOR_COMMITS} prior commits, read {}",
                    history.len()
                ));
            }
            Ok(pending("bench-command", seed))
        })
        .await;
    match executed {
        Ok(executed) if !executed.replayed => Ok(()),
        Ok(_) => bail!("command was answered from the log instead of executed"),
        Err(ExecuteError::Rejected(reason)) => bail!(reason),
        Err(ExecuteError::Log(error)) => Err(error.into()),
    }
}

/// `count` fresh aggregates, each with `PRIOR_COMMITS` commits executed
/// through `log` (prepared concurrently, not measured): as a service that just
/// ran those commands holds them.
async fn prepare(log: &CaseLog, tag: &str, count: usize) -> Result<Vec<AggregateAddress>> {
    let addresses = (0..count)
        .map(|i| case(&format!("exec-{tag}-{i}")))
        .collect::<Result<Vec<_>>>()?;
    let mut tasks = JoinSet::new();
    for chunk in addresses.chunks(count.div_ceil(PREPARE_WORKERS).max(1)) {
        let log = log.clone();
        let chunk = chunk.to_vec();
        tasks.spawn(async move {
            for address in &chunk {
                for k in 0..PRIOR_COMMITS {
                    let request = format!("prior-{k}");
                    log.execute(address, &request, |_| {
                        Ok::<_, std::convert::Infallible>(pending(&request, k))
                    })
                    .await
                    .map_err(|e| anyhow::anyhow!("prepare: {e}"))?;
                }
            }
            anyhow::Ok(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined??;
    }
    Ok(addresses)
}
