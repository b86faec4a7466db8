//! Projections: each service's own read model, built from the case log in sled.
//! This is the only crate that imports `sled`.
//!
//! A [`Projection`] says how one commit changes rows, which subjects of the log
//! it consumes, and which service it belongs to. The [`runner`] follows those
//! subjects from the position stored in the [`store`], applies batches in one
//! sled transaction with the new position, then acknowledges.
//!
//! Architecture invariant 13, the subject is the authority: a message that does
//! not decode, or whose payload claims another aggregate than its subject's, is
//! **parked** (recorded in the projection's parked list with the position,
//! counted, logged, skipped), and so is a commit of another producer that the
//! projection cannot apply. A commit on the projection's own producer's
//! subjects that it cannot apply is our bug: it stops the projection loudly
//! ([`ProjectionState::Failed`]).

pub mod catalogue;
pub mod runner;
pub mod store;

use case_log_jetstream::{Producer, RecordedCommit};

pub use catalogue::Catalogue;
pub use runner::{
    ProjectionHandle, ProjectionState, ProjectionStatus, RunnerConfig, Timings, WaitError, spawn,
};
pub use store::{
    Applied, Incoming, ParkedCommit, ProjectionStore, Rows, RowsError, StoreError, StoreReleased,
};

/// How one service's read model changes with each commit of the log.
/// `apply` must be deterministic: the same commits give the same rows, so that a
/// rebuild from zero gives the same content (architecture invariant 1).
pub trait Projection: Send + Sync + 'static {
    /// Stable name, used for the consumer and in status and errors.
    fn name(&self) -> &'static str;

    /// The service whose commits this projection keeps: a commit on its
    /// subjects that cannot be applied stops the projection (our bug); one of
    /// another producer is parked. `None` for a projection of no service
    /// (tools, tests): everything it cannot apply is parked.
    fn producer(&self) -> Option<Producer>;

    /// The subjects of the log it consumes (its consumer's filter).
    fn consumes(&self) -> Consumes;

    /// Applies one commit. Commits of other services and of unknown event types
    /// that the projection does not need are ignored by returning `Ok(())`.
    fn apply(&self, rows: &mut Rows<'_>, commit: &RecordedCommit) -> Result<(), ApplyError>;

    /// The version of what the projection stores. Raise it when the rows'
    /// shape or what `apply` derives changes: a store kept with another shape
    /// is rebuilt from the log when the projection starts, so a deployment
    /// never serves rows an older version wrote (stores from before shapes
    /// were recorded count as shape 1).
    fn shape(&self) -> u32 {
        1
    }
}

/// The subjects of the log a projection consumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consumes {
    /// The whole log (a catalogue of everything).
    All,
    /// Subjects matching these filters (NATS wildcards); they must not overlap.
    Subjects(Vec<String>),
}

impl Consumes {
    /// What two projections kept together consume.
    pub fn union(self, other: Consumes) -> Consumes {
        match (self, other) {
            (Consumes::Subjects(mut mine), Consumes::Subjects(theirs)) => {
                for subject in theirs {
                    if !mine.contains(&subject) {
                        mine.push(subject);
                    }
                }
                Consumes::Subjects(mine)
            }
            _ => Consumes::All,
        }
    }

    /// Whether a commit stored on `subject` is the projection's. The runner
    /// follows the whole log and skips the others before decoding them: a
    /// JetStream consumer with several filter subjects makes the server match
    /// every next message against the subjects of its block, which on a log of
    /// many cases cost more than delivering everything (BENCHMARKS.md).
    pub fn matches(&self, subject: &str) -> bool {
        match self {
            Consumes::All => true,
            Consumes::Subjects(filters) => filters
                .iter()
                .any(|filter| subject_matches(filter, subject)),
        }
    }
}

/// NATS subject matching: `*` is one token, a final `>` one or more.
fn subject_matches(filter: &str, subject: &str) -> bool {
    let mut subject_tokens = subject.split('.');
    for wanted in filter.split('.') {
        match (wanted, subject_tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (wanted, Some(token)) if wanted == token => {}
            _ => return false,
        }
    }
    subject_tokens.next().is_none()
}

/// Why a commit could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// An event the projection needs cannot be decoded.
    #[error("event {event_type} cannot be decoded: {reason}")]
    Decode { event_type: String, reason: String },
    /// The commit contradicts what was applied before (an event id seen twice).
    #[error("{0}")]
    Contradicts(String),
    /// The projection's own rows are not what it wrote (a bug or a corrupted
    /// store): never blamed on the commit, always stops the projection.
    #[error("{0}")]
    Inconsistent(String),
    #[error(transparent)]
    Rows(#[from] RowsError),
}

impl ApplyError {
    /// The commit is at fault (not the store): parked when another producer wrote it.
    pub fn blames_commit(&self) -> bool {
        matches!(self, ApplyError::Decode { .. } | ApplyError::Contradicts(_))
    }
}

/// Two projections kept in the same store and the same transactions: a
/// service's domain view beside its catalogue. Named after the first, of the
/// first's producer, consuming what either consumes; a commit either cannot
/// apply is applied by neither (the transaction is re-run without it).
impl<A: Projection, B: Projection> Projection for (A, B) {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn producer(&self) -> Option<Producer> {
        self.0.producer().or(self.1.producer())
    }

    fn consumes(&self) -> Consumes {
        self.0.consumes().union(self.1.consumes())
    }

    fn apply(&self, rows: &mut Rows<'_>, commit: &RecordedCommit) -> Result<(), ApplyError> {
        self.0.apply(rows, commit)?;
        self.1.apply(rows, commit)
    }

    /// The pair is rebuilt when either changes (before this, a pair always
    /// reported shape 1, so a domain view's new shape never rebuilt it).
    fn shape(&self) -> u32 {
        self.0.shape().max(self.1.shape())
    }
}

#[cfg(test)]
mod subject_tests {
    use super::Consumes;

    #[test]
    fn subjects_match_as_nats_matches_them() {
        let consumes = Consumes::Subjects(vec![
            "approdo.case.*.screening".to_owned(),
            "approdo.configuration.vocabularies.>".to_owned(),
        ]);
        assert!(consumes.matches("approdo.case.c-1.screening"));
        assert!(!consumes.matches("approdo.case.c-1.referral"));
        assert!(!consumes.matches("approdo.case.c-1.screening.more"));
        assert!(!consumes.matches("approdo.case.screening"));
        assert!(consumes.matches("approdo.configuration.vocabularies.screening"));
        assert!(consumes.matches("approdo.configuration.vocabularies.a.b"));
        assert!(!consumes.matches("approdo.configuration.vocabularies"));
        assert!(!consumes.matches("approdo.configuration.other.screening"));
        assert!(Consumes::All.matches("anything.at.all"));
        assert!(!Consumes::Subjects(Vec::new()).matches("approdo.case.c-1.screening"));
    }
}
