//! The projection runner: follows the subjects its projection consumes, applies
//! batches, stores the position, acknowledges; parks what it must not trust or
//! cannot apply of another producer (logged once, counted in the status);
//! resumes after a restart; rebuilds on request; lets queries wait for a
//! sequence (read-your-writes).

use std::sync::Arc;
use std::time::Duration;

use case_log_jetstream::{CaseLog, Delivery};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::Projection;
use crate::store::{Incoming, ParkedCommit, ProjectionStore, StoreError};

#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Most commits applied in one sled transaction.
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

enum Control {
    Rebuild(oneshot::Sender<Result<(), String>>),
}

/// A running projection: its status, its store for queries, and its controls.
#[derive(Clone)]
pub struct ProjectionHandle {
    status: watch::Receiver<ProjectionStatus>,
    store: Arc<ProjectionStore>,
    control: mpsc::Sender<Control>,
}

impl ProjectionHandle {
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
    let runner = Runner {
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
    };
    Ok((handle, task))
}

struct Runner<P> {
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
        let filter = self.projection.consumes().filter_subjects();
        let mut following = match self
            .log
            .follow(name, filter, position, self.config.batch)
            .await
        {
            Ok(following) => following,
            Err(error) => {
                tracing::warn!(projection = name, %error, "cannot follow the case log, retrying");
                return PassEnd::Reconnect;
            }
        };
        // Caught up when nothing on its subjects is left after its position
        // (the end of the whole log may hold only subjects it does not consume).
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
        loop {
            let first = tokio::select! {
                _ = self.shutdown.cancelled() => return PassEnd::Shutdown,
                control = self.control.recv() => match control {
                    Some(Control::Rebuild(reply)) => return PassEnd::Rebuild(reply),
                    None => return PassEnd::Shutdown,
                },
                delivery = following.next() => delivery,
            };
            let mut batch = match first {
                Some(Ok(delivery)) => vec![delivery],
                Some(Err(error)) => {
                    tracing::warn!(projection = name, %error, "case log delivery failed, following again");
                    return PassEnd::Reconnect;
                }
                None => return PassEnd::Reconnect,
            };
            while batch.len() < self.config.batch {
                match following.next_ready() {
                    Some(Ok(delivery)) => batch.push(delivery),
                    Some(Err(error)) => {
                        tracing::warn!(projection = name, %error, "case log delivery failed");
                        break;
                    }
                    None => break,
                }
            }
            if let Some(end) = self.apply(batch).await {
                return end;
            }
        }
    }

    /// Applies a batch and acknowledges it; `Some` when following must stop.
    async fn apply(&mut self, batch: Vec<Delivery>) -> Option<PassEnd> {
        // An empty batch: nothing to store or acknowledge.
        let last_delivery = batch.last()?;
        let mut incoming: Vec<Incoming> = batch
            .iter()
            .map(|delivery| match &delivery.commit {
                Ok(commit) => Incoming::Commit(commit.clone(), delivery.trace_context()),
                Err(distrust) => Incoming::Untrusted(ParkedCommit::untrusted(
                    delivery.sequence,
                    &delivery.subject,
                    distrust,
                )),
            })
            .collect();
        let store = self.store.clone();
        let projection = self.projection.clone();
        let stored = tokio::task::spawn_blocking(move || {
            match store.apply(&*projection, &incoming) {
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
            }
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
        // Acknowledge only after the batch and its position are committed in sled.
        if let Err(error) = last_delivery.ack().await {
            // Not fatal: the position in sled is the truth; redeliveries are skipped.
            tracing::debug!(projection = self.projection.name(), %error, "ack failed");
        }
        let lag = last_delivery.pending;
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
