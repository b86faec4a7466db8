//! Clients of the real services over gRPC: each runs synthetic landings (the
//! landing's own request builders, [`synthetic_landing::Stepper`]) one step at a
//! time, timing every command by its kind, and after every second command one
//! query in turn: `GetCase` (the case of that step), `ListCases` (a page of its
//! province), `ListInbox` (a page of a receiver's inbox). Bounded by time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use contracts::referral::v1 as referral;
use contracts::screening::v1 as screening;
use synthetic_landing::{Endpoints, Landing, RealTime, Stepper, registry};

use crate::stats::Run;
use crate::system::{BenchCredentials, with_token};

/// Steps that make no call (the landing skips them): not counted.
const NO_CALL: &[&str] = &["", "court_not_seized"];
/// A query after every this many commands.
const COMMANDS_PER_QUERY: usize = 2;
/// A client stops after this many failures in a row (the system is down: a
/// run must end, not spin).
const FAILURES_IN_A_ROW: usize = 100;
/// A page of a list query.
pub const PAGE_SIZE: u32 = 20;

/// What the clients of one run did.
#[derive(Debug, Default)]
pub struct LoadRun {
    /// Latencies by RPC (commands by their landing kind mapped to the RPC, queries by name).
    pub latencies: BTreeMap<&'static str, Vec<Duration>>,
    pub commands: usize,
    pub queries: usize,
    /// Steps or queries that failed (counted, not timed), and the first error.
    pub errors: usize,
    pub first_error: Option<String>,
    /// Queries answered NOT_FOUND or PERMISSION_DENIED (a case moved to another
    /// province than the querying prefecture's): counted, not timed.
    pub out_of_reach: usize,
    pub elapsed: Duration,
    /// Case ids opened (for later reads).
    pub cases: Vec<String>,
}

impl LoadRun {
    pub fn command_rate(&self) -> f64 {
        self.commands as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn query_rate(&self) -> f64 {
        self.queries as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Every command's latency, as one run (for p50/p99 over all commands).
    pub fn all_commands(&self) -> Run {
        let latencies: Vec<Duration> = self
            .latencies
            .iter()
            .filter(|(name, _)| !QUERIES.contains(name))
            .flat_map(|(_, l)| l.iter().copied())
            .collect();
        Run::new(latencies.len(), self.elapsed, latencies)
    }

    /// The latencies of `method` as a run.
    pub fn method(&self, method: &str) -> Run {
        let latencies = self.latencies.get(method).cloned().unwrap_or_default();
        Run::new(latencies.len(), self.elapsed, latencies)
    }

    fn merge(&mut self, other: LoadRun) {
        for (name, mut latencies) in other.latencies {
            self.latencies
                .entry(name)
                .or_default()
                .append(&mut latencies);
        }
        self.commands += other.commands;
        self.queries += other.queries;
        self.errors += other.errors;
        self.out_of_reach += other.out_of_reach;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.cases.extend(other.cases);
    }
}

pub const QUERIES: [&str; 3] = ["GetCase", "ListCases", "ListInbox"];

/// The RPC behind a step of the landing, by the kind the landing reports.
pub fn rpc_of(what: &str) -> &'static str {
    match what {
        "open" => "OpenCase",
        "preliminary_check" => "RecordPreliminaryCheck",
        "signal" => "RaiseVulnerabilitySignal",
        "application" => "RecordApplication",
        "transfer" => "PlaceCase",
        "assessment" => "RecordAssessment",
        "consent" => "GiveConsent",
        "consent_refused" => "RefuseConsent",
        "referral_sent" => "CreateReferral",
        "consent_withdrawn" => "WithdrawConsent",
        "receive" | "accept" | "decline" | "redirect" | "take_charge" | "answer_too_late" => {
            "UpdateReferral"
        }
        "age_assessment" => "RecordAgeAssessment",
        "guardian" => "AppointGuardian",
        "place_reserved" | "place_waiting" | "place_refused" => "RequestPlace",
        "arrival" | "arrival_too_late" => "ConfirmArrival",
        "close" => "CloseCase",
        _ => "other",
    }
}

/// What the clients share.
#[derive(Clone)]
pub struct Load {
    pub endpoints: Endpoints,
    pub credentials: Arc<BenchCredentials>,
    /// People in each landing a client runs (a client runs landing after landing).
    pub people: u32,
    /// Whether clients also query (the fill of the million run does not).
    pub queries: bool,
    /// The highest log sequence any answer named.
    pub last_sequence: Arc<AtomicU64>,
}

/// Runs `clients` clients until `until` says stop (checked before each step);
/// `seeds` makes each run's landings distinct from every other run's.
pub async fn run(
    load: &Load,
    clients: usize,
    seeds: u64,
    until: impl Fn(&Load) -> bool + Clone + Send + Sync + 'static,
) -> Result<LoadRun> {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..clients {
        let load = load.clone();
        let until = until.clone();
        let seed_base = seeds * 1_000_000 + client as u64 * 10_000;
        tasks.spawn(async move { one_client(load, client, seed_base, until).await });
    }
    let mut total = LoadRun::default();
    while let Some(done) = tasks.join_next().await {
        total.merge(done?);
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

/// A stop condition: `duration` from now.
pub fn for_time(duration: Duration) -> impl Fn(&Load) -> bool + Clone + Send + Sync + 'static {
    let deadline = Instant::now() + duration;
    move |_: &Load| Instant::now() >= deadline
}

async fn one_client(
    load: Load,
    client: usize,
    seed_base: u64,
    until: impl Fn(&Load) -> bool,
) -> LoadRun {
    let mut out = LoadRun::default();
    let credentials: &BenchCredentials = &load.credentials;
    let mut screening = screening::screening_service_client::ScreeningServiceClient::new(
        load.endpoints.screening.clone(),
    );
    let mut referral = referral::referral_service_client::ReferralServiceClient::new(
        load.endpoints.referral.clone(),
    );
    let mut queries_done = 0_usize;
    let mut since_query = 0_usize;
    let mut failures = 0_usize;
    'landings: for landing_number in 0.. {
        let landing = Landing::plan(seed_base + landing_number, load.people);
        let pace = RealTime::ending_now(&landing);
        let mut stepper = Stepper::new(&landing, &load.endpoints, credentials, &pace);
        loop {
            if until(&load) {
                break 'landings;
            }
            let sent = Instant::now();
            let Some(done) = stepper.step().await else {
                break;
            };
            let took = sent.elapsed();
            let done = match done {
                Ok(done) => done,
                Err(error) => {
                    out.errors += 1;
                    out.first_error.get_or_insert_with(|| format!("{error:#}"));
                    failures += 1;
                    if failures >= FAILURES_IN_A_ROW {
                        break 'landings;
                    }
                    continue;
                }
            };
            failures = 0;
            if NO_CALL.contains(&done.what) {
                continue;
            }
            out.commands += 1;
            out.latencies
                .entry(rpc_of(done.what))
                .or_default()
                .push(took);
            load.last_sequence
                .fetch_max(stepper.report().last_sequence, Ordering::Relaxed);
            let case = stepper.report().cases.get(&done.person).cloned();
            if done.what == "open"
                && let Some(case) = &case
            {
                out.cases.push(case.clone());
            }
            since_query += 1;
            if !load.queries || since_query < COMMANDS_PER_QUERY {
                continue;
            }
            since_query = 0;
            let which = QUERIES[(queries_done + client) % QUERIES.len()];
            queries_done += 1;
            let sent = Instant::now();
            let answer = match which {
                "GetCase" => screening
                    .get_case(with_token(
                        screening::GetCaseRequest {
                            case_id: case.unwrap_or_default(),
                            min_log_sequence: 0,
                        },
                        &credentials.prefecture("AG"),
                    ))
                    .await
                    .map(drop),
                "ListCases" => list_cases(&mut screening, credentials).await,
                _ => {
                    let receiver = registry::RECEIVERS[queries_done % registry::RECEIVERS.len()];
                    list_inbox(&mut referral, credentials, receiver.organisation_id).await
                }
            };
            let took = sent.elapsed();
            match answer {
                Ok(()) => {
                    out.queries += 1;
                    out.latencies.entry(which).or_default().push(took);
                }
                Err(status)
                    if matches!(
                        status.code(),
                        tonic::Code::NotFound | tonic::Code::PermissionDenied
                    ) =>
                {
                    out.out_of_reach += 1;
                }
                Err(status) => {
                    out.errors += 1;
                    out.first_error
                        .get_or_insert_with(|| format!("{which}: {status}"));
                }
            }
        }
    }
    out
}

/// The first page of the newest cases of province AG, as its prefecture.
pub async fn list_cases(
    screening: &mut screening::screening_service_client::ScreeningServiceClient<
        tonic::transport::Channel,
    >,
    credentials: &BenchCredentials,
) -> Result<(), tonic::Status> {
    screening
        .list_cases(with_token(
            screening::ListCasesRequest {
                province: "AG".to_owned(),
                order: screening::ListOrder::Newest as i32,
                page_size: PAGE_SIZE,
                ..Default::default()
            },
            &credentials.prefecture("AG"),
        ))
        .await
        .map(drop)
}

/// The first page of `receiver`'s inbox, as the receiver.
pub async fn list_inbox(
    referral: &mut referral::referral_service_client::ReferralServiceClient<
        tonic::transport::Channel,
    >,
    credentials: &BenchCredentials,
    receiver: &str,
) -> Result<(), tonic::Status> {
    use synthetic_landing::{Actor, Credentials};
    referral
        .list_inbox(with_token(
            referral::ListInboxRequest {
                page_size: PAGE_SIZE,
                ..Default::default()
            },
            &credentials.token(Actor::Receiver {
                organisation: receiver,
            }),
        ))
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_the_landing_reports_has_its_rpc() {
        for what in [
            "open",
            "preliminary_check",
            "signal",
            "application",
            "transfer",
            "assessment",
            "consent",
            "consent_refused",
            "referral_sent",
            "consent_withdrawn",
            "receive",
            "accept",
            "decline",
            "redirect",
            "take_charge",
            "answer_too_late",
            "age_assessment",
            "guardian",
            "place_reserved",
            "place_waiting",
            "place_refused",
            "arrival",
            "arrival_too_late",
            "close",
        ] {
            assert_ne!(rpc_of(what), "other", "{what}");
        }
        assert_eq!(rpc_of("accept"), "UpdateReferral");
    }
}
