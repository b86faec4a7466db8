//! Projections: each service's own read model, built from the case log in sled.
//! This is the only crate that imports `sled`.
//!
//! A [`Projection`] says how one commit changes rows. The [`runner`] follows the
//! log from the position stored in the [`store`], applies batches in one sled
//! transaction with the new position, then acknowledges. A commit it cannot
//! decode or apply stops it loudly ([`ProjectionState::Failed`]).

pub mod catalogue;
pub mod runner;
pub mod store;

use case_log_jetstream::RecordedCommit;

pub use catalogue::Catalogue;
pub use runner::{
    ProjectionHandle, ProjectionState, ProjectionStatus, RunnerConfig, WaitError, spawn,
};
pub use store::{ProjectionStore, Rows, RowsError, StoreError};

/// How one service's read model changes with each commit of the log.
/// `apply` must be deterministic: the same commits give the same rows, so that a
/// rebuild from zero gives the same content (architecture invariant 1).
pub trait Projection: Send + Sync + 'static {
    /// Stable name, used for the consumer and in status and errors.
    fn name(&self) -> &'static str;

    /// Applies one commit. Commits of other services and of unknown event types
    /// that the projection does not need are ignored by returning `Ok(())`.
    fn apply(&self, rows: &mut Rows<'_>, commit: &RecordedCommit) -> Result<(), ApplyError>;
}

/// Why a commit could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// An event the projection needs cannot be decoded.
    #[error("event {event_type} cannot be decoded: {reason}")]
    Decode { event_type: String, reason: String },
    /// The event contradicts the projection's state (a bug or a corrupted log).
    #[error("{0}")]
    Inconsistent(String),
    #[error(transparent)]
    Rows(#[from] RowsError),
}

/// Two projections kept in the same store and the same transactions: a
/// service's domain view beside its catalogue. Named after the first.
impl<A: Projection, B: Projection> Projection for (A, B) {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn apply(&self, rows: &mut Rows<'_>, commit: &RecordedCommit) -> Result<(), ApplyError> {
        self.0.apply(rows, commit)?;
        self.1.apply(rows, commit)
    }
}
