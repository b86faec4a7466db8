//! The command kernel: every command of every service runs through
//! [`Kernel::execute`]. It reads the aggregate's history, answers a retried
//! request from the log, folds the state, checks the caller's jurisdiction on
//! that same state, lets the pure domain decide, appends one commit after the
//! sequence it read, decides again on a lost race, and maps every failure to
//! the error set in one place. A service writes only its [`Aggregate`]
//! (the domain's `decide`/`evolve` and its event codec) and its handlers.

use std::sync::Arc;
use std::time::Instant;

use case_log_jetstream::{
    Actor, AggregateAddress, CaseLog, DecodeError, ExecuteError, Executed, HistoryBound,
    HistoryScope, LogError, NewEvent, PendingCommit, Producer, RecordedCommit, RootKind, TokenId,
};
use contracts::log::v1 as log;
use time::OffsetDateTime;

use crate::error::{Refusal, ServiceError};
use crate::{Caller, Clock, Jurisdiction, Whereabouts};

/// Why an event could not be written for the log.
#[derive(Debug)]
pub enum EncodeError<E> {
    /// The domain refuses it (for example: the person's key was erased).
    Refused(E),
    /// Writing it failed (sealing): an internal error, with its cause.
    Internal(ServiceError),
}

impl<E> From<E> for EncodeError<E> {
    fn from(error: E) -> Self {
        EncodeError::Refused(error)
    }
}

impl<E> EncodeError<E> {
    /// The same failure, with the refusal said in another type.
    pub fn map_refused<F>(self, f: impl FnOnce(E) -> F) -> EncodeError<F> {
        match self {
            EncodeError::Refused(error) => EncodeError::Refused(f(error)),
            EncodeError::Internal(error) => EncodeError::Internal(error),
        }
    }
}

/// One kind of aggregate, as the kernel runs it: the pure domain (`decide`,
/// `evolve`) on one side, its events' wire form on the other.
pub trait Aggregate: 'static {
    type Command: Clone + Send + Sync;
    type Event: Send + Sync;
    type State: Default + Send;
    type Error: Send;
    /// What `decide` needs besides the state (the time, the actor, facts read
    /// before the command), built by the service for each command.
    type Context: Send + Sync;
    /// Reads and writes the events, with the keys that seal personal data.
    type Codec: Send + Sync;

    /// The service that produces this aggregate's events (its subjects' last token).
    const PRODUCER: Producer;
    /// What kind of root the aggregate hangs under.
    const ROOT: RootKind;

    fn decide(
        state: &Self::State,
        command: Self::Command,
        context: &Self::Context,
    ) -> Result<Vec<Self::Event>, Self::Error>;

    fn evolve(state: Self::State, event: &Self::Event) -> Self::State;

    /// How the edge says each domain refusal (the one mapping to a status is
    /// [`ServiceError::refused`]).
    fn refusal(error: &Self::Error) -> Refusal;

    /// Reads a stored event back; `None` for an event the aggregate ignores.
    fn decode(codec: &Self::Codec, event: &log::Event) -> Result<Option<Self::Event>, DecodeError>;

    /// Writes an event for the log (sealing what must be sealed): refused by the
    /// domain, or an internal error when sealing fails (never an empty ciphertext).
    fn encode(
        codec: &Self::Codec,
        context: &Self::Context,
        event: &Self::Event,
    ) -> Result<NewEvent, EncodeError<Self::Error>>;

    /// Where the case this command acts on is, for the caller's jurisdiction;
    /// `None` for aggregates that are not in a place (the directory,
    /// configuration) or a case not opened yet (the domain refuses those).
    fn whereabouts(
        _state: &Self::State,
        _command: &Self::Command,
        _context: &Self::Context,
    ) -> Option<Whereabouts> {
        None
    }

    /// The entity within the root this aggregate lives on, if it is not the
    /// root's own record: a record of its own (an access record of one call).
    fn entity(_context: &Self::Context) -> Option<String> {
        None
    }

    /// What the service's watcher must do on this aggregate at `now`, decided
    /// on its state and on the decision context the service prepared (the
    /// facts it read, for example another service's record of the case): the
    /// deadlines passed unmet, and the reactions to those facts. Each is the
    /// command to run and the request id that names it, deterministic (so it
    /// is appended once, whoever runs it: a restart, another instance, a late
    /// action). The rule is the domain's; the order is the order they run in.
    fn due_commands(
        _state: &Self::State,
        _context: &Self::Context,
        _now: OffsetDateTime,
    ) -> Vec<(String, Self::Command)> {
        Vec::new()
    }
}

/// Who a command acts as: what the log records, and where it may act.
#[derive(Debug, Clone)]
pub struct Authority {
    pub actor: Actor,
    pub jurisdiction: Jurisdiction,
}

impl Authority {
    /// A verified caller: its organisation's jurisdiction, from its token only.
    pub fn of(caller: &Caller) -> Authority {
        Authority {
            actor: caller.actor(),
            jurisdiction: Jurisdiction::of(caller),
        }
    }

    /// The service itself (a deadline watcher): not limited by place.
    pub fn system(name: &str) -> Authority {
        Authority {
            actor: Actor {
                subject: name.to_owned(),
                organisation_id: "approdo".to_owned(),
                organisation_type: "system".to_owned(),
                roles: vec!["deadline_watcher".to_owned()],
                province: String::new(),
            },
            jurisdiction: Jurisdiction::Unplaced,
        }
    }
}

/// One aggregate instance to run a command on: its id, codec and context.
pub struct Target<'a, A: Aggregate> {
    /// The aggregate's id (a case id, an organisation id, a configuration name).
    pub id: &'a str,
    pub codec: &'a A::Codec,
    pub context: &'a A::Context,
}

/// What a command would do, decided without appending ([`Kernel::preview`]).
#[derive(Debug)]
pub enum Preview {
    /// The request id was already executed by this organisation: its answer.
    Replayed(Executed),
    /// The domain accepts the command on the aggregate as it is now.
    Accepted,
}

/// The command pipeline of a service. Cheap to clone.
#[derive(Clone)]
pub struct Kernel {
    log: CaseLog,
    clock: Arc<dyn Clock>,
    metrics: crate::Metrics,
}

/// Why the decision closure gave up, before the kernel maps it.
enum Refused<E> {
    Domain(E),
    Corrupt(DecodeError),
    Outside(ServiceError),
}

impl Kernel {
    pub fn new(log: CaseLog, clock: Arc<dyn Clock>) -> Kernel {
        Kernel {
            log,
            clock,
            metrics: crate::Metrics::disabled(),
        }
    }

    /// Records appends (duration, outcome, conflicts) on `metrics`.
    pub fn with_metrics(mut self, metrics: crate::Metrics) -> Kernel {
        self.metrics = metrics;
        self
    }

    pub fn log(&self) -> &CaseLog {
        &self.log
    }

    /// The service's clock (tests move it by hand).
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// The subject of aggregate `id` of kind `A`.
    pub fn address<A: Aggregate>(id: &str) -> Result<AggregateAddress, ServiceError> {
        address(A::ROOT, id, A::PRODUCER)
    }

    /// The aggregate's commits, in log order.
    pub async fn history<A: Aggregate>(
        &self,
        id: &str,
    ) -> Result<Vec<RecordedCommit>, ServiceError> {
        self.history_of(A::ROOT, id, A::PRODUCER).await
    }

    /// The commits of another service's aggregate (facts a service reads, and
    /// never decides on), in log order.
    pub async fn history_of(
        &self,
        root: RootKind,
        id: &str,
        producer: Producer,
    ) -> Result<Vec<RecordedCommit>, ServiceError> {
        Ok(self
            .log
            .history(
                &HistoryScope::Aggregate(address(root, id, producer)?),
                HistoryBound::All,
            )
            .await?)
    }

    /// The aggregate's state now, read from the log.
    pub async fn state<A: Aggregate>(
        &self,
        id: &str,
        codec: &A::Codec,
    ) -> Result<A::State, ServiceError> {
        let history = self.history::<A>(id).await?;
        fold::<A>(codec, &history).map_err(corrupt)
    }

    /// Decides a command without appending it: a retried request answers its
    /// first commit; otherwise the caller's jurisdiction and the domain are
    /// asked, exactly as [`Kernel::execute`] will. For work that must happen
    /// only for a command that will be accepted (creating a person's key).
    pub async fn preview<A: Aggregate>(
        &self,
        target: Target<'_, A>,
        authority: &Authority,
        request_id: &str,
        command: &A::Command,
    ) -> Result<Preview, ServiceError> {
        let history = self
            .log
            .history(
                &HistoryScope::Aggregate(target_address(&target)?),
                HistoryBound::All,
            )
            .await?;
        if let Some(done) = history.iter().find(|c| c.request_id() == request_id) {
            let executed = Executed {
                sequence: done.sequence,
                commit: done.commit.clone(),
                replayed: true,
            };
            return answered(executed, authority).map(Preview::Replayed);
        }
        let state = fold::<A>(target.codec, &history).map_err(corrupt)?;
        if let Some(at) = A::whereabouts(&state, command, target.context) {
            authority.jurisdiction.check(&at)?;
        }
        A::decide(&state, command.clone(), target.context)
            .map_err(|error| ServiceError::refused(A::refusal(&error)))?;
        Ok(Preview::Accepted)
    }

    /// Runs one command: idempotent by `request_id` (a retry by the same
    /// organisation answers the first commit and appends nothing), decided on the aggregate's history with the
    /// caller's jurisdiction checked on that same history, appended as one
    /// commit after the sequence it read, decided again after a lost race.
    pub async fn execute<A: Aggregate>(
        &self,
        target: Target<'_, A>,
        authority: &Authority,
        request_id: &str,
        command: A::Command,
    ) -> Result<Executed, ServiceError> {
        let address = target_address(&target)?;
        let now = self.now();
        // The adapter decides again after each lost race: each decision but the
        // last was followed by a conflict; the time from the last decision to
        // the answer is the append.
        let mut decisions = 0u64;
        let mut decided_at = None;
        let executed = self
            .log
            .execute(&address, request_id, |history| {
                decisions += 1;
                let decided = (|| {
                    let state = fold::<A>(target.codec, history).map_err(Refused::Corrupt)?;
                    if let Some(at) = A::whereabouts(&state, &command, target.context) {
                        authority
                            .jurisdiction
                            .check(&at)
                            .map_err(Refused::Outside)?;
                    }
                    let events = A::decide(&state, command.clone(), target.context)
                        .map_err(Refused::Domain)?;
                    let events = events
                        .iter()
                        .map(|event| A::encode(target.codec, target.context, event))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|error| match error {
                            EncodeError::Refused(error) => Refused::Domain(error),
                            EncodeError::Internal(error) => Refused::Outside(error),
                        })?;
                    Ok(PendingCommit {
                        request_id: request_id.to_owned(),
                        actor: authority.actor.clone(),
                        occurred_at: now,
                        correlation_id: request_id.to_owned(),
                        causation_id: String::new(),
                        events,
                        reply: Vec::new(),
                    })
                })();
                decided_at = decided.is_ok().then(Instant::now);
                decided
            })
            .await;
        self.record_append(&executed, decisions, decided_at);
        match executed {
            Ok(executed) if executed.replayed => answered(executed, authority),
            Ok(executed) => Ok(executed),
            Err(ExecuteError::Rejected(Refused::Domain(error))) => {
                Err(ServiceError::refused(A::refusal(&error)))
            }
            Err(ExecuteError::Rejected(Refused::Outside(error))) => Err(error),
            Err(ExecuteError::Rejected(Refused::Corrupt(error))) => Err(corrupt(error)),
            Err(ExecuteError::Log(error)) => Err(error.into()),
        }
    }
}

impl Kernel {
    /// Records how a command's append went: `decisions` is how often the
    /// domain decided, `decided_at` when it last decided a commit to append.
    fn record_append<E>(
        &self,
        executed: &Result<Executed, ExecuteError<E>>,
        decisions: u64,
        decided_at: Option<Instant>,
    ) {
        use crate::metrics::AppendOutcome;
        let lost = decisions.saturating_sub(1);
        let (outcome, conflicts) = match (executed, decided_at) {
            (_, None) | (Err(ExecuteError::Rejected(_)), _) => (AppendOutcome::NotAppended, lost),
            (Ok(executed), Some(_)) if executed.replayed => (AppendOutcome::Duplicate, lost),
            (Ok(_), Some(_)) => (AppendOutcome::Appended, lost),
            (Err(ExecuteError::Log(LogError::Conflict { .. })), Some(_)) => {
                (AppendOutcome::Conflict, decisions)
            }
            (Err(ExecuteError::Log(_)), Some(_)) => (AppendOutcome::Failed, lost),
        };
        let took = decided_at.map(|at| at.elapsed()).unwrap_or_default();
        self.metrics.append(took, outcome, conflicts);
    }
}

/// A request already executed answers only the organisation that used it.
fn answered(executed: Executed, authority: &Authority) -> Result<Executed, ServiceError> {
    let original = executed
        .commit
        .actor
        .as_ref()
        .map(|actor| actor.organisation_id.as_str());
    if original != Some(authority.actor.organisation_id.as_str()) {
        return Err(ServiceError::PermissionDenied(
            "this request id was used by another organisation".to_owned(),
        ));
    }
    tracing::info!(
        sequence = executed.sequence,
        "request already executed, answered from the log"
    );
    Ok(executed)
}

/// The state of an aggregate from its commits.
pub fn fold<A: Aggregate>(
    codec: &A::Codec,
    history: &[RecordedCommit],
) -> Result<A::State, DecodeError> {
    let mut state = A::State::default();
    for commit in history {
        for event in &commit.commit.events {
            if let Some(event) = A::decode(codec, event)? {
                state = A::evolve(state, &event);
            }
        }
    }
    Ok(state)
}

fn address(root: RootKind, id: &str, producer: Producer) -> Result<AggregateAddress, ServiceError> {
    let id = TokenId::parse(id)
        .map_err(|_| ServiceError::internal("an aggregate id is not a subject token"))?;
    Ok(AggregateAddress::new(root, id, producer))
}

/// The subject of the aggregate a command targets, with its entity if any.
fn target_address<A: Aggregate>(target: &Target<'_, A>) -> Result<AggregateAddress, ServiceError> {
    let root = address(A::ROOT, target.id, A::PRODUCER)?;
    match A::entity(target.context) {
        None => Ok(root),
        Some(entity) => {
            let entity = TokenId::parse(&entity)
                .map_err(|_| ServiceError::internal("an entity id is not a subject token"))?;
            Ok(root.with_entity(entity))
        }
    }
}

fn corrupt(error: DecodeError) -> ServiceError {
    ServiceError::internal(format_args!(
        "an aggregate's history cannot be decoded: {error}"
    ))
}
