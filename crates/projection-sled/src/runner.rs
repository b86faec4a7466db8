//! The projection runner: follows the subjects its projection consumes, applies
//! batches with their position (reading the next ones meanwhile); parks what it must not trust or
//! cannot apply of another producer (logged once, counted in the status);
//! resumes after a restart; rebuilds on request; lets queries wait for a
//! sequence (read-your-writes).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use case_log_jetstream::{CaseLog, Delivery, Following, LogError};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::store::{Incoming, ParkedCommit, ProjectionStore, StoreError};
use crate::{Consumes, Projection};

#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Most commits read in one pull request and applied in one sled transaction.
    pub batch: usize,
    /// Pause before following the log again after NATS went away.
    pub reconnect_delay: Duration,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            batch: 512,
            reconnect_delay: Duration::from_millis(500),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectionState {
    /// Applying the log, not yet at the end seen at start.
    CatchingUp,
    /// Caught up and following the log.
    Live,
    /// Stopped at a commit of its own producer that it could not apply.
    Failed {
        sequence: u64,
        event_types: String,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionStatus {
    pub name: &'static str,
    pub position: u64,
    pub lag: u64,
    pub state: ProjectionState,
    /// Commits parked (skipped and listed in the store): a metric, not a failure.
    pub parked: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WaitError {
    #[error("projection did not reach sequence {sequence} within {patience:?}")]
    Timeout { sequence: u64, patience: Duration },
    #[error("projection is stopped at a commit it cannot apply")]
    Failed,
    #[error("projection is shut down")]
    Stopped,
}

/// Where a runner's time went since it started: cumulative, for benchmarks
/// and profiling (two clock reads per stage and batch).
#[derive(Debug, Default)]
struct RunnerTimings {
    batches: AtomicU64,
    commits: AtomicU64,
    waiting_nanos: AtomicU64,
    decoding_nanos: AtomicU64,
    applying_nanos: AtomicU64,
}

/// Where a runner's time went since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// Batches stored.
    pub batches: u64,
    /// Commits in them.
    pub commits: u64,
    /// The applier waiting for deliveries: nothing read ahead was ready.
    pub waiting: Duration,
    /// Decoding the envelopes (on the blocking thread).
    pub decoding: Duration,
    /// The sled transactions (on the blocking thread).
    pub applying: Duration,
}

impl RunnerTimings {
    fn add(counter: &AtomicU64, since: Instant) {
        let nanos = u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        counter.fetch_add(nanos, Relaxed);
    }

    fn snapshot(&self) -> Timings {
        Timings {
            batches: self.batches.load(Relaxed),
            commits: self.commits.load(Relaxed),
            waiting: Duration::from_nanos(self.waiting_nanos.load(Relaxed)),
            decoding: Duration::from_nanos(self.decoding_nanos.load(Relaxed)),
            applying: Duration::from_nanos(self.applying_nanos.load(Relaxed)),
        }
    }
}

enum Control {
    Rebuild(oneshot::Sender<Result<(), String>>),
}

/// A running projection: its status, its store for queries, and its controls.
#[derive(Clone)]
pub struct ProjectionHandle {
    status: watch::Receiver<ProjectionStatus>,
    store: Arc<ProjectionStore>,
    control: mpsc::Sender<Control>,
    timings: Arc<RunnerTimings>,
}

impl ProjectionHandle {
    /// Where the runner's time went since it started.
    pub fn timings(&self) -> Timings {
        self.timings.snapshot()
    }

    pub fn status(&self) -> ProjectionStatus {
        self.status.borrow().clone()
    }

    /// Changes of status, for health reporting.
    pub fn watch(&self) -> watch::Receiver<ProjectionStatus> {
        self.status.clone()
    }

    pub fn store(&self) -> &ProjectionStore {
        &self.store
    }

    /// Waits until the commit at `sequence` is applied, at most `patience`.
    pub async fn wait_for(&self, sequence: u64, patience: Duration) -> Result<(), WaitError> {
        let mut status = self.status.clone();
        let reached = status.wait_for(|s| {
            s.position >= sequence || matches!(s.state, ProjectionState::Failed { .. })
        });
        match tokio::time::timeout(patience, reached).await {
            Ok(Ok(status)) if status.position >= sequence => Ok(()),
            Ok(Ok(_)) => Err(WaitError::Failed),
            Ok(Err(_)) => Err(WaitError::Stopped),
            Err(_) => Err(WaitError::Timeout { sequence, patience }),
        }
    }

    /// Empties the projection and applies the whole log again. Returns once the
    /// reset is stored; use [`Self::wait_for`] to wait for the rebuild to finish.
    pub async fn rebuild(&self) -> Result<(), String> {
        let (reply, answer) = oneshot::channel();
        self.control
            .send(Control::Rebuild(reply))
            .await
            .map_err(|_| "projection is shut down".to_owned())?;
        answer
            .await
            .map_err(|_| "projection is shut down".to_owned())?
    }
}

/// Starts following the log with `projection`, until `shutdown` is cancelled.
/// The returned task ends after the last batch is stored and the store flushed.
pub fn spawn<P: Projection>(
    log: CaseLog,
    store: ProjectionStore,
    projection: P,
    config: RunnerConfig,
    shutdown: CancellationToken,
) -> Result<(ProjectionHandle, tokio::task::JoinHandle<()>), StoreError> {
    if store.ensure_shape(projection.shape())? {
        tracing::info!(
            projection = projection.name(),
            shape = projection.shape(),
            "the projection's shape changed: rebuilding it from the log"
        );
    }
    let position = store.position()?;
    let parked = store.parked_count()?;
    let (status_tx, status_rx) = watch::channel(ProjectionStatus {
        name: projection.name(),
        position,
        lag: 0,
        state: ProjectionState::CatchingUp,
        parked,
    });
    let (control_tx, control_rx) = mpsc::channel(4);
    let store = Arc::new(store);
    let timings = Arc::new(RunnerTimings::default());
    let runner = Runner {
        timings: timings.clone(),
        log,
        store: store.clone(),
        projection: Arc::new(projection),
        config,
        status: status_tx,
        control: control_rx,
        shutdown,
    };
    let task = tokio::spawn(runner.run());
    let handle = ProjectionHandle {
        status: status_rx,
        store,
        control: control_tx,
        timings,
    };
    Ok((handle, task))
}

struct Runner<P> {
    timings: Arc<RunnerTimings>,
    log: CaseLog,
    store: Arc<ProjectionStore>,
    projection: Arc<P>,
    config: RunnerConfig,
    status: watch::Sender<ProjectionStatus>,
    control: mpsc::Receiver<Control>,
    shutdown: CancellationToken,
}

/// What ended one pass of following the log.
enum PassEnd {
    Shutdown,
    Rebuild(oneshot::Sender<Result<(), String>>),
    Reconnect,
    Failed,
}

impl<P: Projection> Runner<P> {
    async fn run(mut self) {
        loop {
            let end = self.follow_once().await;
            match end {
                PassEnd::Shutdown => break,
                PassEnd::Rebuild(reply) => {
                    let _ = reply.send(self.reset());
                }
                PassEnd::Reconnect => {
                    tokio::select! {
                        _ = self.shutdown.cancelled() => break,
                        _ = tokio::time::sleep(self.config.reconnect_delay) => {}
                    }
                }
                PassEnd::Failed => {
                    // Stay stopped (health reports it) until a rebuild or shutdown.
                    tokio::select! {
                        _ = self.shutdown.cancelled() => break,
                        control = self.control.recv() => match control {
                            Some(Control::Rebuild(reply)) => { let _ = reply.send(self.reset()); }
                            None => break,
                        },
                    }
                }
            }
        }
        if let Err(error) = self.store.flush() {
            tracing::error!(projection = self.projection.name(), %error, "flush at shutdown failed");
        }
    }

    fn reset(&mut self) -> Result<(), String> {
        tracing::info!(
            projection = self.projection.name(),
            "rebuilding projection from zero"
        );
        self.store.reset().map_err(|e| e.to_string())?;
        self.status.send_modify(|s| {
            s.position = 0;
            s.parked = 0;
            s.state = ProjectionState::CatchingUp;
        });
        Ok(())
    }

    async fn follow_once(&mut self) -> PassEnd {
        let name = self.projection.name();
        let position = match self.store.position() {
            Ok(position) => position,
            Err(error) => return self.fail(0, String::new(), error.to_string()),
        };
        // The whole log, its other subjects skipped here (`Consumes::matches`).
        let consumes = Arc::new(self.projection.consumes());
        let following = match self
            .log
            .follow(name, Vec::new(), position, self.config.batch)
            .await
        {
            Ok(following) => following,
            Err(error) => {
                tracing::warn!(projection = name, error = %causes(&error), "cannot follow the case log, retrying");
                return PassEnd::Reconnect;
            }
        };
        // Caught up when nothing is left in the log after its position.
        let pending = following.pending_at_start();
        self.status.send_modify(|s| {
            s.position = position;
            s.lag = pending;
            s.state = if pending == 0 {
                ProjectionState::Live
            } else {
                ProjectionState::CatchingUp
            };
        });
        // The next batches are read while this one is applied.
        let (batches, mut read) = mpsc::channel(1);
        let _reader = AbortOnDrop(tokio::spawn(read_ahead(
            following,
            consumes,
            self.config.batch,
            batches,
            self.timings.clone(),
        )));
        loop {
            let waiting = Instant::now();
            let fetched = tokio::select! {
                _ = self.shutdown.cancelled() => return PassEnd::Shutdown,
                control = self.control.recv() => match control {
                    Some(Control::Rebuild(reply)) => return PassEnd::Rebuild(reply),
                    None => return PassEnd::Shutdown,
                },
                fetched = read.recv() => fetched,
            };
            RunnerTimings::add(&self.timings.waiting_nanos, waiting);
            match fetched {
                Some(Fetched::Batch { incoming, lag }) => {
                    if let Some(end) = self.apply(incoming, lag).await {
                        return end;
                    }
                }
                // What was read before the failure is stored: follow again
                // from there, so a delivery lost in flight is read again.
                Some(Fetched::End(Some(error))) => {
                    tracing::warn!(
                        projection = name,
                        error = %causes(&error),
                        "case log delivery failed, following again from the stored position"
                    );
                    return PassEnd::Reconnect;
                }
                Some(Fetched::End(None)) | None => return PassEnd::Reconnect,
            }
        }
    }

    /// Applies a decoded batch in one transaction with its position, on a
    /// blocking thread; `Some` when following must stop.
    async fn apply(&mut self, mut incoming: Vec<Incoming>, lag: u64) -> Option<PassEnd> {
        // An empty batch: nothing to store.
        if incoming.is_empty() {
            return None;
        }
        let commits = incoming.len() as u64;
        let store = self.store.clone();
        let projection = self.projection.clone();
        let timings = self.timings.clone();
        let stored = tokio::task::spawn_blocking(move || {
            let applying = Instant::now();
            let stored = match store.apply(&*projection, &incoming) {
                Ok(applied) => Ok(applied),
                // Keep what precedes the commit that cannot be applied, then stop there.
                Err(error @ StoreError::Apply { sequence, .. }) => {
                    incoming.retain(|entry| entry.sequence() < sequence);
                    match store.apply(&*projection, &incoming) {
                        Ok(before) => Err((Some(before), error)),
                        Err(other) => Err((None, other)),
                    }
                }
                Err(other) => Err((None, other)),
            };
            RunnerTimings::add(&timings.applying_nanos, applying);
            stored
        })
        .await;
        let applied = match stored {
            Ok(Ok(applied)) => applied,
            Ok(Err((before, error))) => {
                if let Some(before) = before {
                    self.parked(&before.parked);
                    self.status.send_modify(|s| {
                        s.position = before.position;
                        s.parked = before.parked_total;
                    });
                }
                return Some(match error {
                    StoreError::Apply {
                        sequence,
                        event_types,
                        reason,
                    } => self.fail(sequence, event_types, reason),
                    other => self.fail(0, String::new(), other.to_string()),
                });
            }
            Err(join) => return Some(self.fail(0, String::new(), join.to_string())),
        };
        self.parked(&applied.parked);
        self.timings.batches.fetch_add(1, Relaxed);
        self.timings.commits.fetch_add(commits, Relaxed);
        self.status.send_modify(|s| {
            s.position = applied.position;
            s.parked = applied.parked_total;
            s.lag = lag;
            if lag == 0 {
                s.state = ProjectionState::Live;
            }
        });
        None
    }

    /// Logs each commit parked, once: when its parking is stored.
    fn parked(&self, parked: &[ParkedCommit]) {
        for commit in parked {
            tracing::warn!(
                projection = self.projection.name(),
                sequence = commit.sequence,
                subject = %commit.subject,
                reason = %commit.reason,
                detail = %commit.detail,
                "commit parked: skipped, listed in the projection's parked commits"
            );
        }
    }

    fn fail(&mut self, sequence: u64, event_types: String, reason: String) -> PassEnd {
        tracing::error!(
            projection = self.projection.name(),
            sequence,
            event_types = %event_types,
            %reason,
            "projection stopped: commit cannot be applied"
        );
        self.status.send_modify(|s| {
            s.state = ProjectionState::Failed {
                sequence,
                event_types,
                reason,
            };
        });
        PassEnd::Failed
    }
}

/// What the reader hands the applier.
enum Fetched {
    /// Commits decoded, in log order (each delivery the next one of the
    /// consumer), and the commits left after the last one as the server counted.
    Batch { incoming: Vec<Incoming>, lag: u64 },
    /// Reading stopped after the batches before: an error (the server, a
    /// delivery lost or out of order), or the consumer ended.
    End(Option<LogError>),
}

/// Reads batches while the applier stores the previous one: waits for one
/// delivery, takes what else is buffered, and goes on reading (up to `max`)
/// while the applier is busy, so a slow store gets larger batches. Each
/// batch is decoded on a blocking thread before it is handed over, beside
/// the applier's transaction. The channel holds one batch: at most three
/// are read ahead of the store.
async fn read_ahead(
    mut following: Following,
    consumes: Arc<Consumes>,
    max: usize,
    batches: mpsc::Sender<Fetched>,
    timings: Arc<RunnerTimings>,
) {
    let max = max.max(1);
    loop {
        let mut batch = Vec::new();
        // Why reading stops after this batch: an error, or (`None`) the consumer ended.
        let mut end: Option<Option<LogError>> = None;
        match following.next().await {
            Some(Ok(delivery)) => batch.push(delivery),
            other => {
                let _ = batches
                    .send(Fetched::End(other.and_then(Result::err)))
                    .await;
                return;
            }
        }
        loop {
            while end.is_none() && batch.len() < max {
                match following.next_ready() {
                    Some(Ok(delivery)) => batch.push(delivery),
                    Some(Err(error)) => end = Some(Some(error)),
                    None => break,
                }
            }
            if end.is_some() || batch.len() >= max {
                if !batch.is_empty() {
                    let Some(decoded) = decode(batch, &consumes, &timings).await else {
                        return;
                    };
                    if batches.send(decoded).await.is_err() {
                        return;
                    }
                }
                break;
            }
            tokio::select! {
                biased;
                permit = batches.reserve() => match permit {
                    Ok(permit) => {
                        let Some(decoded) = decode(std::mem::take(&mut batch), &consumes, &timings).await
                        else {
                            return;
                        };
                        permit.send(decoded);
                        break;
                    }
                    Err(_) => return,
                },
                next = following.next() => match next {
                    Some(Ok(delivery)) => batch.push(delivery),
                    Some(Err(error)) => end = Some(Some(error)),
                    None => end = Some(None),
                },
            }
        }
        if let Some(end) = end {
            let _ = batches.send(Fetched::End(end)).await;
            return;
        }
    }
}

/// Decodes a batch on a blocking thread, moving each payload (no copy of
/// an envelope), the commits on subjects the projection does not consume
/// left undecoded; `None` if the blocking thread panicked.
async fn decode(
    batch: Vec<Delivery>,
    consumes: &Arc<Consumes>,
    timings: &Arc<RunnerTimings>,
) -> Option<Fetched> {
    let lag = batch.last().map_or(0, |delivery| delivery.pending);
    let timings = timings.clone();
    let consumes = consumes.clone();
    let incoming = tokio::task::spawn_blocking(move || {
        let decoding = Instant::now();
        let incoming = batch
            .into_iter()
            .map(|delivery| {
                if !consumes.matches(delivery.subject()) {
                    return Incoming::Elsewhere(delivery.sequence);
                }
                let decoded = delivery.decode();
                match decoded.commit {
                    Ok(commit) => Incoming::Commit(commit, decoded.trace),
                    Err(distrust) => Incoming::Untrusted(ParkedCommit::untrusted(
                        decoded.sequence,
                        &decoded.subject,
                        &distrust,
                    )),
                }
            })
            .collect();
        RunnerTimings::add(&timings.decoding_nanos, decoding);
        incoming
    })
    .await
    .ok()?;
    Some(Fetched::Batch { incoming, lag })
}

/// Stops the reader when a pass ends, whatever ends it.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An error and its causes, on one line (sequences and codes, no payloads).
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
