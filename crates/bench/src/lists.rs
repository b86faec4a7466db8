//! `approdo-bench lists`: a list page read from the screening projection's
//! index (`ListCases`), at 1,000 and at 100,000 cases, against the raw sled
//! floor measured in the same run (a range read of one page of case rows,
//! decoded). No NATS: the store is filled through `ProjectionStore::apply_batch`
//! with the screening projection, from commits built in memory.

use std::time::{Duration, Instant};

use anyhow::Result;
use case_log_jetstream::RecordedCommit;
use case_log_jetstream::envelope::timestamp;
use contracts::log::v1 as log;
use contracts::screening::v1 as wire;
use projection_sled::ProjectionStore;
use prost::Message;
use screening::projection::{CASES, ScreeningProjection};
use screening::queries::ListQuery;

use crate::stats::{Run, Sampler, millis};

/// Cases in the two stores compared.
const SIZES: [usize; 2] = [1_000, 100_000];
/// Cases in a page (the RPC's default).
const PAGE: u32 = 50;
/// Page reads per query, at most, and the time they may take.
const OPS: usize = 2_000;
const TIME: Duration = Duration::from_secs(4);
/// Decoding every case (the list before the index): a few reads.
const SCAN_OPS: usize = 20;

const PROVINCES: [&str; 5] = ["AG", "RM", "TO", "PA", "MI"];
const URGENCIES: [&str; 4] = ["", "immediate", "high", "standard"];

/// xorshift: the same store every run.
struct Draw(u64);

impl Draw {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn event<M: prost::Name>(message: &M) -> log::Event {
    log::Event {
        event_type: M::full_name(),
        schema_version: 1,
        payload: message.encode_to_vec(),
        ..Default::default()
    }
}

fn at(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(timestamp(
        time::OffsetDateTime::from_unix_timestamp(1_780_000_000 + seconds)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
    ))
}

/// One case's commits: opened, then (two in three) checked with an
/// urgency, then (one in three) closed.
fn case_commits(n: usize, draw: &mut Draw, sequence: &mut u64) -> Vec<RecordedCommit> {
    let province = PROVINCES[draw.below(PROVINCES.len() as u64) as usize];
    let opened = n as i64 * 30 + draw.below(30) as i64;
    let mut events = vec![event(&wire::CaseOpened {
        case_id: format!("case-{n:07}"),
        province: province.to_owned(),
        facility_id: format!("facility-{}-{}", province.to_lowercase(), draw.below(4)),
        facility_kind: "hotspot".to_owned(),
        arrival: Some(wire::Arrival {
            place: "LAMPEDUSA".to_owned(),
            arrived_at: at(opened - draw.below(86_400) as i64),
        }),
        opened_at: at(opened),
        ..Default::default()
    })];
    if draw.below(3) > 0 {
        events.push(event(&wire::PreliminaryCheckRecorded {
            urgency: URGENCIES[draw.below(4) as usize].to_owned(),
            checked_at: at(opened + 600),
            ..Default::default()
        }));
    }
    if draw.below(3) == 0 {
        events.push(event(&wire::CaseClosed {
            reason: "transferred".to_owned(),
            closed_at: at(opened + 1200),
        }));
    }
    events
        .into_iter()
        .map(|event| {
            *sequence += 1;
            RecordedCommit {
                sequence: *sequence,
                subject: format!("approdo.case.case-{n:07}.screening"),
                recorded_at: time::OffsetDateTime::UNIX_EPOCH,
                commit: log::Commit {
                    commit_id: format!("commit-{sequence}"),
                    events: vec![event],
                    ..Default::default()
                },
            }
        })
        .collect()
}

fn filled(cases: usize) -> Result<(tempfile::TempDir, ProjectionStore, Duration, u64)> {
    let dir = tempfile::tempdir()?;
    let store = ProjectionStore::open(dir.path())?;
    let mut draw = Draw(0x1157_5eed_0000_0001);
    let mut sequence = 0;
    let started = Instant::now();
    let mut batch = Vec::with_capacity(600);
    for n in 0..cases {
        for commit in case_commits(n, &mut draw, &mut sequence) {
            batch.push((commit, telemetry::TraceContext::default()));
        }
        if batch.len() >= 512 {
            store.apply_batch(&ScreeningProjection, &batch)?;
            batch.clear();
        }
    }
    store.apply_batch(&ScreeningProjection, &batch)?;
    Ok((dir, store, started.elapsed(), sequence))
}

/// The queries measured: each a request without its page token.
fn queries() -> Vec<(&'static str, contracts::screening::v1::ListCasesRequest)> {
    use contracts::screening::v1::{ListCasesRequest, ListOrder};
    vec![
        ("newest, no filter", ListCasesRequest::default()),
        (
            "province + open, priority",
            ListCasesRequest {
                province: "RM".to_owned(),
                case_status: "open".to_owned(),
                order: ListOrder::Priority as i32,
                ..Default::default()
            },
        ),
        (
            "facility, newest",
            ListCasesRequest {
                facility_id: "facility-to-2".to_owned(),
                ..Default::default()
            },
        ),
        (
            "province + urgency immediate, priority",
            ListCasesRequest {
                province: "PA".to_owned(),
                urgency: "immediate".to_owned(),
                order: ListOrder::Priority as i32,
                ..Default::default()
            },
        ),
        (
            "urgency immediate, newest (filtered on the entries)",
            ListCasesRequest {
                urgency: "immediate".to_owned(),
                ..Default::default()
            },
        ),
    ]
}

struct Row {
    name: String,
    cases: usize,
    run: Run,
    ops: usize,
    entries: u64,
    rows: u64,
}

/// Reads pages one after the other (following the tokens, from the first
/// again after the last or after 40 pages), timing each.
fn pages(
    store: &ProjectionStore,
    request: &contracts::screening::v1::ListCasesRequest,
) -> Result<(Run, usize, u64, u64)> {
    let mut sampler = Sampler::new(OPS, TIME);
    let (mut entries, mut rows, mut token, mut walked) = (0, 0, String::new(), 0);
    while sampler.more() {
        let mut asked = request.clone();
        asked.page_size = PAGE;
        asked.page_token = token;
        let started = Instant::now();
        let query = ListQuery::parse(&asked).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let (page, cost) = query.page(store)?;
        sampler.record(started.elapsed(), page.cases.len());
        entries = entries.max(cost.entries);
        rows = rows.max(cost.rows);
        walked += 1;
        token = if walked % 40 == 0 {
            String::new()
        } else {
            page.next_page_token
        };
    }
    Ok((sampler.finish(), walked, entries, rows))
}

/// The raw floor: one page of case rows read as a sled range and decoded,
/// from a place drawn at random.
fn raw_pages(store: &ProjectionStore, cases: usize) -> Result<(Run, usize)> {
    let mut draw = Draw(7);
    let mut sampler = Sampler::new(OPS, TIME);
    let mut ops = 0;
    while sampler.more() {
        ops += 1;
        let from = format!("case-{:07}", draw.below(cases as u64));
        let started = Instant::now();
        let rows = store.scan_after(CASES, b"", from.as_bytes(), PAGE as usize)?;
        let decoded = rows
            .iter()
            .filter(|(_, bytes)| wire::CaseView::decode(bytes.as_slice()).is_ok())
            .count();
        sampler.record(started.elapsed(), decoded);
    }
    Ok((sampler.finish(), ops))
}

/// Every case decoded, as each page did before the index.
fn full_scans(store: &ProjectionStore) -> Result<(Run, usize)> {
    let mut sampler = Sampler::new(SCAN_OPS, TIME);
    let mut ops = 0;
    while sampler.more() {
        ops += 1;
        let started = Instant::now();
        let cases = screening::projection::all_cases(store)?;
        sampler.record(started.elapsed(), cases.len());
    }
    Ok((sampler.finish(), ops))
}

pub fn run() -> Result<()> {
    println!(
        "(lists) ListCases pages of {PAGE} read from the screening projection's index, \
         release build, store filled through apply_batch (no NATS)"
    );
    println!();
    let mut table = Vec::new();
    let mut fills = Vec::new();
    for cases in SIZES {
        eprintln!("lists: filling a store with {cases} cases");
        let (_dir, store, fill, commits) = filled(cases)?;
        eprintln!("lists: filled in {:.1} s", fill.as_secs_f64());
        fills.push((cases, commits, fill));
        let (run, ops) = raw_pages(&store, cases)?;
        table.push(Row {
            name: "raw sled range of one page, decoded (baseline)".to_owned(),
            cases,
            run,
            ops,
            entries: 0,
            rows: u64::from(PAGE),
        });
        for (name, request) in queries() {
            let (run, ops, entries, rows) = pages(&store, &request)?;
            table.push(Row {
                name: name.to_owned(),
                cases,
                run,
                ops,
                entries,
                rows,
            });
        }
        let (run, ops) = full_scans(&store)?;
        table.push(Row {
            name: "every case decoded (each page before the index)".to_owned(),
            cases,
            run,
            ops,
            entries: 0,
            rows: cases as u64,
        });
    }
    println!(
        "| query | cases | pages | p50 ms | p99 ms | p50 / baseline p50 | p99 / baseline p99 | most entries per page | most rows per page |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let ratio = |ours: Duration, baseline: Duration| {
        if baseline > Duration::ZERO {
            format!("{:.2}x", ours.as_secs_f64() / baseline.as_secs_f64())
        } else {
            "-".to_owned()
        }
    };
    for row in &table {
        let baseline = table
            .iter()
            .find(|b| b.cases == row.cases && b.name.contains("baseline"))
            .map(|b| b.run.clone());
        let (p50, p99) = (row.run.percentile(0.50), row.run.percentile(0.99));
        let (base50, base99) = baseline.map_or((Duration::ZERO, Duration::ZERO), |b| {
            (b.percentile(0.50), b.percentile(0.99))
        });
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.name,
            row.cases,
            row.ops,
            millis(p50),
            millis(p99),
            ratio(p50, base50),
            ratio(p99, base99),
            row.entries,
            row.rows,
        );
    }
    println!();
    for (cases, commits, fill) in fills {
        println!(
            "filling {cases} cases: {commits} commits through apply_batch (batches of 512) in {:.1} s, {:.0} commits/s",
            fill.as_secs_f64(),
            commits as f64 / fill.as_secs_f64().max(1e-9)
        );
    }
    println!();
    Ok(())
}
