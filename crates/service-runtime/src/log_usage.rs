//! How full the case log is. Its stream has a byte limit (`case_log.max_bytes`)
//! and, once full, refuses appends rather than drop anything: each service reads
//! the stream's bytes every `case_log.usage_check_interval_secs` and warns above
//! `case_log.usage_warning_percent` of the limit; the projection admin status
//! shows the figures as the server reports them at the call.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use case_log_jetstream::{CaseLog, LogUsage};
use tokio_util::sync::CancellationToken;

/// How long a reading may take before the last one is used instead.
pub const READ_PATIENCE: Duration = Duration::from_secs(1);

/// Reads the case log's usage; remembers the last reading.
#[derive(Clone)]
pub struct LogUsageWatch {
    log: CaseLog,
    warning_percent: u8,
    last: Arc<Mutex<Option<LogUsage>>>,
}

impl LogUsageWatch {
    pub fn new(log: CaseLog) -> Self {
        let warning_percent = log.config().usage_warning_percent;
        LogUsageWatch {
            log,
            warning_percent,
            last: Arc::new(Mutex::new(None)),
        }
    }

    /// The usage now, or the last one read when the server does not answer
    /// within [`READ_PATIENCE`] (a status call stays quick when NATS is down).
    pub async fn read(&self) -> Option<LogUsage> {
        let read = tokio::time::timeout(READ_PATIENCE, self.log.usage()).await;
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        match read {
            Ok(Ok(usage)) => *last = Some(usage),
            Ok(Err(error)) => tracing::warn!(%error, "cannot read how full the case log is"),
            Err(_) => tracing::warn!(?READ_PATIENCE, "the case log's usage did not come in time"),
        }
        *last
    }

    /// Whether `usage` is at or above the warning share of its limit.
    pub fn nearly_full(&self, usage: &LogUsage) -> bool {
        usage.above(self.warning_percent)
    }

    /// Reads the usage every `interval` and warns, with the figures, while it is
    /// above the warning share; until `shutdown`.
    pub async fn watch(self, interval: Duration, shutdown: CancellationToken) {
        loop {
            if let Some(usage) = self.read().await
                && self.nearly_full(&usage)
            {
                tracing::warn!(
                    stream = self.log.stream_name(),
                    bytes = usage.bytes,
                    max_bytes = usage.max_bytes,
                    messages = usage.messages,
                    warning_percent = self.warning_percent,
                    "the case log is nearly full: appends will be refused when it is"
                );
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }
}
