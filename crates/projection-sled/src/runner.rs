//! The projection runner: follows the log, applies batches, stores the position,
//! acknowledges; resumes after a restart; rebuilds on request; lets queries wait
//! for a sequence (read-your-writes).

use std::sync::Arc;
use std::time::Duration;

use case_log_jetstream::{CaseLog, Delivery, RecordedCommit};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::Projection;
use crate::store::{ProjectionStore, StoreError};

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
    /// Stopped at a commit it could not decode or apply.
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
    let position = store.position()?;
    let (status_tx, status_rx) = watch::channel(ProjectionStatus {
        name: projection.name(),
        position,
        lag: 0,
        state: ProjectionState::CatchingUp,
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
        let end_at_start = match self.log.last_sequence().await {
            Ok(last) => last,
            Err(error) => {
                tracing::warn!(projection = name, %error, "case log unreachable, retrying");
                return PassEnd::Reconnect;
            }
        };
        self.status.send_modify(|s| {
            s.position = position;
            s.lag = end_at_start.saturating_sub(position);
            s.state = if position >= end_at_start {
                ProjectionState::Live
            } else {
                ProjectionState::CatchingUp
            };
        });
        let mut following = match self.log.follow(name, position, self.config.batch).await {
            Ok(following) => following,
            Err(error) => {
                tracing::warn!(projection = name, %error, "cannot follow the case log, retrying");
                return PassEnd::Reconnect;
            }
        };
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
            if let Some(end) = self.apply(batch, end_at_start).await {
                return end;
            }
        }
    }

    /// Applies a batch and acknowledges it; `Some` when following must stop.
    async fn apply(&mut self, batch: Vec<Delivery>, end_at_start: u64) -> Option<PassEnd> {
        // Decodable commits up to the first undecodable one are applied; then stop.
        let mut commits: Vec<(RecordedCommit, telemetry::TraceContext)> = Vec::new();
        let mut undecodable = None;
        let mut last_delivery = None;
        for delivery in &batch {
            match &delivery.commit {
                Ok(commit) => {
                    commits.push((commit.clone(), delivery.trace_context()));
                    last_delivery = Some(delivery);
                }
                Err(error) => {
                    undecodable = Some((delivery.sequence, error.to_string()));
                    break;
                }
            }
        }
        if !commits.is_empty() {
            let store = self.store.clone();
            let projection = self.projection.clone();
            let applied = tokio::task::spawn_blocking(move || {
                match store.apply_batch(&*projection, &commits) {
                    // Keep what precedes the commit that cannot be applied, then stop there.
                    Err(StoreError::Apply {
                        sequence,
                        event_types,
                        reason,
                    }) => {
                        commits.retain(|(commit, _)| commit.sequence < sequence);
                        store.apply_batch(&*projection, &commits)?;
                        Err(StoreError::Apply {
                            sequence,
                            event_types,
                            reason,
                        })
                    }
                    other => other,
                }
            })
            .await;
            let position = match applied {
                Ok(Ok(position)) => position,
                Ok(Err(StoreError::Apply {
                    sequence,
                    event_types,
                    reason,
                })) => {
                    if let Ok(position) = self.store.position() {
                        self.status.send_modify(|s| s.position = position);
                    }
                    return Some(self.fail(sequence, event_types, reason));
                }
                Ok(Err(error)) => return Some(self.fail(0, String::new(), error.to_string())),
                Err(join) => return Some(self.fail(0, String::new(), join.to_string())),
            };
            // Acknowledge only after the batch and its position are committed in sled.
            if let Some(delivery) = last_delivery {
                if let Err(error) = delivery.ack().await {
                    // Not fatal: the position in sled is the truth; redeliveries are skipped.
                    tracing::debug!(projection = self.projection.name(), %error, "ack failed");
                }
                let lag = delivery.pending;
                self.status.send_modify(|s| {
                    s.position = position;
                    s.lag = lag;
                    if lag == 0 || position >= end_at_start {
                        s.state = ProjectionState::Live;
                    }
                });
            }
        }
        if let Some((sequence, reason)) = undecodable {
            return Some(self.fail(sequence, "undecodable envelope".to_owned(), reason));
        }
        None
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
