//! The command kernel's contract, against a real nats-server with JetStream,
//! through a test-only aggregate: a tally of visits to a place, with a deadline.
//! It is everything a new service writes to get the whole pipeline: the
//! `Aggregate` (decide, evolve, refusal, codec, whereabouts, due commands)
//! and one `execute` per command.

use std::sync::Arc;
use std::time::Duration;

use case_log_jetstream::{
    Actor, CaseLog, CaseLogConfig, DecodeError, NewEvent, Producer, RootKind,
};
use contracts::log::v1 as log;
use nats_test_server::NatsServer;
use service_runtime::deadlines::{self, DeadlinePasses};
use service_runtime::{
    Aggregate, Authority, DeadlineWatch, Jurisdiction, Kernel, ManualClock, Prepared, Refusal,
    ServiceError, Target, Whereabouts,
};
use time::OffsetDateTime;

/// A tally of visits, kept in one province, due to be visited by a time.
struct Tally;

#[derive(Debug, Clone)]
enum Command {
    Visit { by: u8 },
    MarkOverdue,
}

#[derive(Debug, Clone, PartialEq)]
enum Event {
    Visited { by: u8 },
    Overdue,
}

#[derive(Debug, Default)]
struct State {
    visits: u32,
    overdue: bool,
}

#[derive(Debug)]
enum TallyError {
    TooMany,
    Zero,
    NotOverdue,
}

/// Where every tally is, what time it is, and whether the place closed (a
/// fact read before deciding: nothing is due at a closed place).
struct Place {
    province: &'static str,
    now: OffsetDateTime,
    closed: bool,
    /// Appends a competing visit while the first decision is being encoded:
    /// a lost race, deterministically.
    interloper: Option<Interloper>,
}

struct Interloper {
    kernel: Kernel,
    fired: std::sync::atomic::AtomicBool,
}

impl Interloper {
    /// Once: a visit to `id` by another request, appended before the decision
    /// under way is (needs the multi-threaded runtime).
    fn strike(&self, id: &str) {
        if self.fired.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let place = Place {
            province: "RM",
            now: start(),
            closed: false,
            interloper: None,
        };
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async {
                self.kernel
                    .execute(
                        Target::<Tally> {
                            id,
                            codec: &(),
                            context: &place,
                        },
                        &organisation("pref-rm", "RM"),
                        "interloper",
                        Command::Visit { by: 1 },
                    )
                    .await
                    .expect("the interloper's visit")
            })
        });
    }
}

const VISITED: &str = "test.v1.Visited";
const OVERDUE: &str = "test.v1.Overdue";

impl Aggregate for Tally {
    type Command = Command;
    type Event = Event;
    type State = State;
    type Error = TallyError;
    type Context = Place;
    type Codec = ();

    const PRODUCER: Producer = Producer::Monitoring;
    const ROOT: RootKind = RootKind::Case;

    fn decide(state: &State, command: Command, place: &Place) -> Result<Vec<Event>, TallyError> {
        match command {
            Command::Visit { by: 0 } => Err(TallyError::Zero),
            Command::Visit { by } if state.visits + u32::from(by) > 100 => Err(TallyError::TooMany),
            Command::Visit { by } => Ok(vec![Event::Visited { by }]),
            Command::MarkOverdue if state.overdue || place.now < due_at() => {
                Err(TallyError::NotOverdue)
            }
            Command::MarkOverdue => Ok(vec![Event::Overdue]),
        }
    }

    fn evolve(mut state: State, event: &Event) -> State {
        match event {
            Event::Visited { by } => state.visits += u32::from(*by),
            Event::Overdue => state.overdue = true,
        }
        state
    }

    fn refusal(error: &TallyError) -> Refusal {
        match error {
            TallyError::Zero => Refusal::Invalid {
                field: "by".to_owned(),
                reason: "must be positive".to_owned(),
            },
            TallyError::TooMany => Refusal::Rule("a tally holds at most 100 visits".to_owned()),
            TallyError::NotOverdue => Refusal::Rule("not overdue".to_owned()),
        }
    }

    fn decode(_: &(), event: &log::Event) -> Result<Option<Event>, DecodeError> {
        match (event.event_type.as_str(), event.payload.as_slice()) {
            (VISITED, [by]) => Ok(Some(Event::Visited { by: *by })),
            (OVERDUE, []) => Ok(Some(Event::Overdue)),
            _ => Err(DecodeError::new(event, "not a tally event")),
        }
    }

    fn encode(
        _: &(),
        place: &Place,
        event: &Event,
    ) -> Result<NewEvent, service_runtime::EncodeError<TallyError>> {
        if let Some(interloper) = &place.interloper {
            interloper.strike("t-race");
        }
        let (event_type, payload) = match event {
            Event::Visited { by } => (VISITED, vec![*by]),
            Event::Overdue => (OVERDUE, Vec::new()),
        };
        Ok(NewEvent {
            event_type: event_type.to_owned(),
            schema_version: 1,
            payload,
        })
    }

    fn whereabouts(_: &State, _: &Command, place: &Place) -> Option<Whereabouts> {
        Some(Whereabouts::at(place.province, "facility-1"))
    }

    fn due_commands(state: &State, place: &Place, now: OffsetDateTime) -> Vec<(String, Command)> {
        if place.closed || state.overdue || now < due_at() {
            return Vec::new();
        }
        vec![("deadline.overdue.tally".to_owned(), Command::MarkOverdue)]
    }
}

fn start() -> OffsetDateTime {
    time::macros::datetime!(2026-11-27 09:00 UTC)
}

fn due_at() -> OffsetDateTime {
    start() + time::Duration::hours(1)
}

struct Tallies {
    kernel: Kernel,
    clock: ManualClock,
    ids: Vec<String>,
    /// Whether the place is closed, as the watcher's context will say.
    closed: bool,
    /// An aggregate the watcher cannot prepare (its store does not answer).
    unpreparable: Option<String>,
}

impl Tallies {
    async fn start(server: &NatsServer) -> Tallies {
        let log = CaseLog::connect(&CaseLogConfig {
            url: server.url(),
            ..CaseLogConfig::default()
        })
        .await
        .expect("connect");
        let clock = ManualClock::new(start());
        Tallies {
            kernel: Kernel::new(log, Arc::new(clock.clone())),
            clock,
            ids: Vec::new(),
            closed: false,
            unpreparable: None,
        }
    }

    fn place(&self) -> Place {
        Place {
            province: "RM",
            now: self.kernel.now(),
            closed: self.closed,
            interloper: None,
        }
    }

    async fn execute(
        &self,
        id: &str,
        authority: &Authority,
        request_id: &str,
        command: Command,
    ) -> Result<u64, ServiceError> {
        let place = self.place();
        let target = Target::<Tally> {
            id,
            codec: &(),
            context: &place,
        };
        let executed = self
            .kernel
            .execute(target, authority, request_id, command)
            .await?;
        Ok(executed.sequence)
    }

    async fn visits(&self, id: &str) -> u32 {
        self.kernel
            .state::<Tally>(id, &())
            .await
            .expect("state")
            .visits
    }

    async fn last_sequence(&self) -> u64 {
        self.kernel.log().last_sequence().await.expect("last")
    }
}

impl DeadlineWatch for Tallies {
    type Aggregate = Tally;

    const WATCHER: &'static str = "tally-watcher";

    fn candidates(&self, _now: OffsetDateTime) -> Result<Vec<String>, ServiceError> {
        Ok(self.ids.clone())
    }

    async fn prepare(&self, id: &str) -> Result<Prepared<Tally>, ServiceError> {
        if self.unpreparable.as_deref() == Some(id) {
            return Err(ServiceError::Internal(
                "the store does not answer".to_owned(),
            ));
        }
        Ok(Prepared {
            codec: (),
            context: self.place(),
        })
    }
}

fn organisation(id: &str, province: &str) -> Authority {
    Authority {
        actor: Actor {
            subject: format!("{id}-user"),
            organisation_id: id.to_owned(),
            organisation_type: "prefecture".to_owned(),
            roles: Vec::new(),
            province: province.to_owned(),
        },
        jurisdiction: Jurisdiction::Province(province.to_owned()),
    }
}

#[tokio::test]
async fn commands_are_decided_on_the_log_and_a_retry_answers_the_first_commit() {
    let server = NatsServer::start();
    let tallies = Tallies::start(&server).await;
    let rome = organisation("pref-rm", "RM");

    let first = tallies
        .execute("t-1", &rome, "r-1", Command::Visit { by: 2 })
        .await
        .expect("first");
    let second = tallies
        .execute("t-1", &rome, "r-2", Command::Visit { by: 3 })
        .await
        .expect("second");
    assert!(second > first);
    assert_eq!(tallies.visits("t-1").await, 5);

    let head = tallies.last_sequence().await;
    let retried = tallies
        .execute("t-1", &rome, "r-1", Command::Visit { by: 50 })
        .await
        .expect("retry");
    assert_eq!(retried, first, "the retry answers the first commit");
    assert_eq!(tallies.last_sequence().await, head, "and appends nothing");
    assert_eq!(tallies.visits("t-1").await, 5);
}

#[tokio::test]
async fn refusals_map_to_the_error_set_and_append_nothing() {
    let server = NatsServer::start();
    let tallies = Tallies::start(&server).await;
    let rome = organisation("pref-rm", "RM");
    tallies
        .execute("t-1", &rome, "r-1", Command::Visit { by: 99 })
        .await
        .expect("visit");
    let head = tallies.last_sequence().await;

    let invalid = tallies
        .execute("t-1", &rome, "r-2", Command::Visit { by: 0 })
        .await;
    let Err(ServiceError::InvalidArgument(fields)) = invalid else {
        panic!("invalid: {invalid:?}");
    };
    assert_eq!(fields[0].field, "by");
    let rule = tallies
        .execute("t-1", &rome, "r-3", Command::Visit { by: 2 })
        .await;
    assert!(
        matches!(rule, Err(ServiceError::FailedPrecondition(_))),
        "{rule:?}"
    );

    // Outside the caller's province, checked on the same state it would decide on.
    let milan = organisation("pref-mi", "MI");
    let outside = tallies
        .execute("t-1", &milan, "r-4", Command::Visit { by: 1 })
        .await;
    assert!(
        matches!(outside, Err(ServiceError::PermissionDenied(_))),
        "{outside:?}"
    );
    // Another organisation replaying a request id it never used learns nothing.
    let replay = tallies
        .execute("t-1", &milan, "r-1", Command::Visit { by: 1 })
        .await;
    assert!(
        matches!(replay, Err(ServiceError::PermissionDenied(_))),
        "{replay:?}"
    );

    assert_eq!(
        tallies.last_sequence().await,
        head,
        "no refusal appended anything"
    );
    assert_eq!(tallies.visits("t-1").await, 99);
}

#[tokio::test]
async fn concurrent_commands_are_decided_again_after_a_lost_race() {
    let server = NatsServer::start();
    let tallies = Arc::new(Tallies::start(&server).await);
    let rome = organisation("pref-rm", "RM");
    let mut tasks = Vec::new();
    for i in 0..8 {
        let tallies = tallies.clone();
        let rome = rome.clone();
        tasks.push(tokio::spawn(async move {
            tallies
                .execute("t-1", &rome, &format!("r-{i}"), Command::Visit { by: 1 })
                .await
        }));
    }
    for task in tasks {
        task.await.expect("task").expect("every command lands");
    }
    assert_eq!(tallies.visits("t-1").await, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_race_is_counted_as_a_conflict_and_the_append_by_its_outcome() {
    let server = NatsServer::start();
    let tallies = Tallies::start(&server).await;
    let provider =
        telemetry::metrics::ServiceMetrics::new("kernel-test", None, Duration::from_secs(60))
            .expect("metrics");
    let kernel = tallies
        .kernel
        .clone()
        .with_metrics(service_runtime::Metrics::new(&provider.meter()));
    let place = Place {
        province: "RM",
        now: start(),
        closed: false,
        interloper: Some(Interloper {
            kernel: kernel.clone(),
            fired: Default::default(),
        }),
    };
    kernel
        .execute(
            Target::<Tally> {
                id: "t-race",
                codec: &(),
                context: &place,
            },
            &organisation("pref-rm", "RM"),
            "r-race",
            Command::Visit { by: 2 },
        )
        .await
        .expect("decided again after the lost race");
    assert_eq!(tallies.visits("t-race").await, 3, "both visits landed");

    let scrape = provider.prometheus_text().expect("scrape");
    let has = |line: &str| scrape.lines().any(|l| l == line);
    assert!(has("approdo_case_log_append_conflicts_total 1"), "{scrape}");
    assert!(
        has("approdo_case_log_append_duration_milliseconds_count{outcome=\"appended\"} 2"),
        "{scrape}"
    );
}

#[tokio::test]
async fn a_history_that_does_not_decode_is_an_internal_error_with_its_cause() {
    let server = NatsServer::start();
    let tallies = Tallies::start(&server).await;
    let rome = organisation("pref-rm", "RM");
    // An event this aggregate does not know, on its subject.
    let address = Kernel::address::<Tally>("t-1").expect("address");
    tallies
        .kernel
        .log()
        .append(&case_log_jetstream::NewCommit {
            address,
            previous_sequence: 0,
            pending: case_log_jetstream::PendingCommit {
                request_id: "bad".to_owned(),
                actor: rome.actor.clone(),
                occurred_at: start(),
                correlation_id: "bad".to_owned(),
                causation_id: String::new(),
                events: vec![NewEvent {
                    event_type: "test.v1.Unknown".to_owned(),
                    schema_version: 1,
                    payload: Vec::new(),
                }],
                reply: Vec::new(),
            },
        })
        .await
        .expect("append");
    let refused = tallies
        .execute("t-1", &rome, "r-1", Command::Visit { by: 1 })
        .await;
    let Err(ServiceError::Internal(cause)) = refused else {
        panic!("internal: {refused:?}");
    };
    assert!(cause.contains("test.v1.Unknown"), "{cause}");
    let status = tonic::Status::from(ServiceError::Internal(cause));
    assert_eq!(
        status.message(),
        "internal error",
        "the cause stays out of the answer"
    );
}

#[tokio::test]
async fn the_watcher_decides_what_is_due_with_the_context_it_prepared() {
    let server = NatsServer::start();
    let mut tallies = Tallies::start(&server).await;
    tallies.ids = vec!["t-1".to_owned()];
    let rome = organisation("pref-rm", "RM");
    tallies
        .execute("t-1", &rome, "open", Command::Visit { by: 1 })
        .await
        .expect("visit");
    tallies.clock.advance(time::Duration::hours(2));
    let now = tallies.kernel.now();
    let head = tallies.last_sequence().await;
    // The deadline passed, but the place is closed: nothing is due.
    tallies.closed = true;
    assert_eq!(
        deadlines::check_once(&tallies.kernel, &tallies, now)
            .await
            .expect("pass"),
        0
    );
    assert_eq!(tallies.last_sequence().await, head);
    tallies.closed = false;
    assert_eq!(
        deadlines::check_once(&tallies.kernel, &tallies, now)
            .await
            .expect("pass"),
        1
    );
}

#[tokio::test]
async fn one_aggregate_that_fails_does_not_hold_up_the_others_and_the_pass_is_not_complete() {
    let server = NatsServer::start();
    let mut tallies = Tallies::start(&server).await;
    tallies.ids = vec!["t-0".to_owned(), "t-1".to_owned()];
    tallies.unpreparable = Some("t-0".to_owned());
    let rome = organisation("pref-rm", "RM");
    for id in ["t-0", "t-1"] {
        tallies
            .execute(id, &rome, "open", Command::Visit { by: 1 })
            .await
            .expect("visit");
    }
    tallies.clock.advance(time::Duration::hours(2));
    let now = tallies.kernel.now();
    let head = tallies.last_sequence().await;
    // t-0 comes first and fails; t-1's deadline is marked all the same, and
    // the pass answers the failure so that it is retried.
    let pass = deadlines::check_once(&tallies.kernel, &tallies, now).await;
    assert!(matches!(pass, Err(ServiceError::Internal(_))), "{pass:?}");
    assert_eq!(tallies.last_sequence().await, head + 1);
    // Once t-0 can be prepared, the next pass marks it and only it.
    tallies.unpreparable = None;
    assert_eq!(
        deadlines::check_once(&tallies.kernel, &tallies, now)
            .await
            .expect("pass"),
        1
    );
}

#[tokio::test]
async fn the_watcher_marks_a_missed_deadline_once_as_the_clock_moves() {
    let server = NatsServer::start();
    let mut tallies = Tallies::start(&server).await;
    tallies.ids = vec!["t-1".to_owned(), "t-2".to_owned()];
    let rome = organisation("pref-rm", "RM");
    for id in ["t-1", "t-2"] {
        tallies
            .execute(id, &rome, "open", Command::Visit { by: 1 })
            .await
            .expect("visit");
    }
    let before = tallies.kernel.now();
    assert_eq!(
        deadlines::check_once(&tallies.kernel, &tallies, before)
            .await
            .expect("pass"),
        0
    );

    tallies.clock.advance(time::Duration::hours(2));
    let now = tallies.kernel.now();
    assert_eq!(
        deadlines::check_once(&tallies.kernel, &tallies, now)
            .await
            .expect("pass"),
        2
    );
    let head = tallies.last_sequence().await;
    assert_eq!(
        deadlines::check_once(&tallies.kernel, &tallies, now)
            .await
            .expect("pass"),
        0,
        "each deadline is marked once"
    );
    assert_eq!(tallies.last_sequence().await, head);

    // The watcher loop reports each completed pass with the clock's time.
    let tallies = Arc::new(tallies);
    let passes = DeadlinePasses::default();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let watcher = tokio::spawn(deadlines::watch(
        tallies.kernel.clone(),
        tallies.clone(),
        Duration::from_millis(10),
        passes.clone(),
        shutdown.clone(),
    ));
    let started = std::time::Instant::now();
    while passes.last() != Some(now) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no pass reported"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    shutdown.cancel();
    watcher.await.expect("watcher stops");
    assert_eq!(tallies.last_sequence().await, head, "nothing more to mark");
}
