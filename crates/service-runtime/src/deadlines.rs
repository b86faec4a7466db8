//! The one deadline watcher. On every tick it reads the injected clock, asks
//! the service which aggregates may have something due (an index kept by its
//! projection: a deadline passed, or facts the aggregate must react to), asks
//! the domain what is due on each ([`Aggregate::due_commands`], the domain's
//! rule, on the aggregate's state and the decision context the service
//! prepared), and runs each through the kernel with the request id that names
//! it: a restart, a second instance or a late action can never append the same
//! missed deadline or reaction twice.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::error::ServiceError;
use crate::kernel::{Aggregate, Authority, Kernel, Target};

/// What a service tells the watcher.
pub trait DeadlineWatch: Send + Sync + 'static {
    type Aggregate: Aggregate;

    /// The watcher's name, recorded as the actor of what it appends.
    const WATCHER: &'static str;

    /// Ids of the aggregates that may have something due by `now` (a deadline
    /// passed, facts to react to). Only an index: the domain decides what is due.
    fn candidates(&self, now: OffsetDateTime) -> Result<Vec<String>, ServiceError>;

    /// The codec and context to decide the watcher's commands on one aggregate
    /// (also what [`Aggregate::due_commands`] decides what is due with).
    fn prepare(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Prepared<Self::Aggregate>, ServiceError>> + Send;
}

/// Whether a due time a projection recorded has passed at `now` (for
/// [`DeadlineWatch::candidates`]; an unset or unreadable time is not due).
pub fn is_due(due_at: Option<&prost_types::Timestamp>, now: OffsetDateTime) -> bool {
    due_at
        .and_then(case_log_jetstream::envelope::from_timestamp)
        .is_some_and(|due| due <= now)
}

/// The codec and context of one aggregate, for the watcher's commands.
pub struct Prepared<A: Aggregate> {
    pub codec: A::Codec,
    pub context: A::Context,
}

/// When the watcher last completed a pass (the clock's time at its start):
/// every deadline due by then is marked. Shown by the projection admin API.
#[derive(Clone)]
pub struct DeadlinePasses(Arc<watch::Sender<Option<OffsetDateTime>>>);

impl Default for DeadlinePasses {
    fn default() -> Self {
        DeadlinePasses(Arc::new(watch::Sender::new(None)))
    }
}

impl DeadlinePasses {
    pub fn record(&self, checked_at: OffsetDateTime) {
        self.0.send_replace(Some(checked_at));
    }

    pub fn last(&self) -> Option<OffsetDateTime> {
        *self.0.borrow()
    }
}

/// Checks deadlines every `interval` until `shutdown`.
pub async fn watch<W: DeadlineWatch>(
    kernel: Kernel,
    service: Arc<W>,
    interval: Duration,
    passes: DeadlinePasses,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        let now = kernel.now();
        match check_once(&kernel, service.as_ref(), now).await {
            Ok(_) => passes.record(now),
            Err(error) => {
                tracing::warn!(watcher = W::WATCHER, %error, "deadline check failed, retrying at the next tick");
            }
        }
    }
}

/// One pass at `now`. Answers how many commits it appended (missed deadlines, reactions).
pub async fn check_once<W: DeadlineWatch>(
    kernel: &Kernel,
    service: &W,
    now: OffsetDateTime,
) -> Result<usize, ServiceError> {
    let mut appended = 0;
    let mut failed = None;
    for id in service.candidates(now)? {
        // One aggregate that cannot be decided on (a history that does not
        // decode, a store that does not answer) must not hold up the others:
        // the pass goes on, and fails at its end so that it is retried and
        // `deadlines_checked_at` does not claim it complete.
        match check_aggregate(kernel, service, &id, now).await {
            Ok(count) => appended += count,
            Err(error) => {
                tracing::warn!(watcher = W::WATCHER, aggregate = %id, %error, "due commands of one aggregate failed, the others go on");
                failed.get_or_insert(error);
            }
        }
    }
    match failed {
        Some(error) => Err(error),
        None => Ok(appended),
    }
}

/// The due commands of one aggregate, each through the kernel.
async fn check_aggregate<W: DeadlineWatch>(
    kernel: &Kernel,
    service: &W,
    id: &str,
    now: OffsetDateTime,
) -> Result<usize, ServiceError> {
    let authority = Authority::system(W::WATCHER);
    let prepared = service.prepare(id).await?;
    let state = kernel.state::<W::Aggregate>(id, &prepared.codec).await?;
    let mut appended = 0;
    for (request_id, command) in W::Aggregate::due_commands(&state, &prepared.context, now) {
        let target = Target::<W::Aggregate> {
            id,
            codec: &prepared.codec,
            context: &prepared.context,
        };
        match kernel
            .execute(target, &authority, &request_id, command)
            .await
        {
            Ok(executed) => {
                appended += 1;
                tracing::info!(watcher = W::WATCHER, %request_id, sequence = executed.sequence, "due command appended");
            }
            // Met, closed, marked or reacted to meanwhile: nothing to do.
            Err(ServiceError::FailedPrecondition(_)) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(appended)
}
