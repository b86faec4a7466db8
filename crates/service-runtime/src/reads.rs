//! Read your writes (architecture invariant 8) for every query: a query names
//! the log sequence its caller must see, and waits (bounded) until the
//! projection has applied it. A sequence beyond the log's last can never be
//! reached: it answers OUT_OF_RANGE at once instead of holding a concurrency
//! slot for the whole patience.

use std::time::Duration;

use case_log_jetstream::CaseLog;
use projection_sled::ProjectionHandle;

use crate::ServiceError;

/// A service's reads: its projection, its log, and how long a query waits.
#[derive(Clone)]
pub struct Reads {
    projection: ProjectionHandle,
    log: CaseLog,
    patience: Duration,
}

impl Reads {
    pub fn new(projection: ProjectionHandle, log: CaseLog, patience: Duration) -> Reads {
        Reads {
            projection,
            log,
            patience,
        }
    }

    /// Waits until the projection has applied the log up to `sequence` (0: no wait).
    pub async fn wait_for(&self, sequence: u64) -> Result<(), ServiceError> {
        wait_for_sequence(&self.projection, &self.log, sequence, self.patience).await
    }
}

/// Waits until `projection` has applied the log up to `sequence` (0: no wait).
pub async fn wait_for_sequence(
    projection: &ProjectionHandle,
    log: &CaseLog,
    sequence: u64,
    patience: Duration,
) -> Result<(), ServiceError> {
    if sequence == 0 || projection.status().position >= sequence {
        return Ok(());
    }
    let last = log.last_sequence().await?;
    if sequence > last {
        return Err(ServiceError::OutOfRange(format!(
            "min_log_sequence is beyond the log's last sequence ({last})"
        )));
    }
    Ok(projection.wait_for(sequence, patience).await?)
}
