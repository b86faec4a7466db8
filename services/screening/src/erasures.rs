//! Completes erasures. `EraseCase` records the erasure, then destroys the
//! person's key; if the destruction fails (the key store unreachable, the
//! service stopped in between), the case is erased in the log but its key is
//! still on disk. This reconciler finds such cases in the projection and
//! destroys their keys (destruction is idempotent and leaves a tombstone),
//! retrying at every tick until none is pending. How many are pending after
//! each pass is shown by the projection admin status (`erasures_pending`).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use service_runtime::ErasuresPending;
use tokio_util::sync::CancellationToken;

use crate::api::ScreeningApi;
use crate::projection;

/// Runs the reconciler every `interval` until `shutdown`, reporting the
/// erasures still pending after each pass to `reported`.
pub async fn reconcile(
    api: Arc<ScreeningApi>,
    interval: Duration,
    reported: ErasuresPending,
    shutdown: CancellationToken,
) {
    let mut completed = BTreeSet::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        let passed = pass(&api, &mut completed).await;
        if let Ok(pending) = passed {
            reported.set(pending as u64);
        }
        match passed {
            Ok(0) => {}
            Ok(pending) => {
                tracing::warn!(
                    erasures_pending = pending,
                    "erasures whose key is not destroyed yet"
                );
            }
            Err(error) => {
                tracing::warn!(%error, "erasure reconciliation failed, retrying at the next tick")
            }
        }
    }
}

/// One pass: destroys the key of every erased case not yet known complete.
/// Answers how many erasures are still pending.
pub async fn pass(
    api: &ScreeningApi,
    completed: &mut BTreeSet<String>,
) -> Result<usize, service_runtime::ServiceError> {
    let mut pending = 0;
    let erased: Vec<_> = projection::all_cases(api.projection.store())?
        .into_iter()
        .filter(|case| case.personal_data_erased && !completed.contains(&case.case_id))
        .collect();
    for case in erased {
        match api.keys.destroy(api.kernel.log(), &case.case_id).await {
            Ok(destroyed) => {
                if destroyed {
                    tracing::info!(case_id = %case.case_id, "erasure completed: the person's key is destroyed");
                }
                completed.insert(case.case_id);
            }
            Err(error) => {
                pending += 1;
                tracing::warn!(case_id = %case.case_id, %error, "the person's key is not destroyed yet");
            }
        }
    }
    Ok(pending)
}
