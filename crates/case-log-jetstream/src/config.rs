//! How to reach and provision the case log.

use std::time::Duration;

use serde::Deserialize;

#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct CaseLogConfig {
    /// NATS server URL(s), comma separated.
    pub url: String,
    /// Name of the JetStream stream holding the case log.
    pub stream: String,
    /// Replicas of the stream: 1 locally, 3 in production.
    pub replicas: usize,
    /// JetStream's duplicate window for `Nats-Msg-Id` de-duplication, in seconds.
    /// Idempotency does not depend on it: retries after it are answered from the log.
    pub duplicate_window_secs: u64,
    /// NATS user and password of this service (each service has its own).
    pub user: Option<String>,
    pub password: Option<String>,
    /// How long a request to the server may take, in milliseconds.
    pub request_timeout_ms: u64,
    /// The most bytes the stream may hold, set when a service creates it
    /// (never changed afterwards: services may not update the stream). When it
    /// is full, appends are refused (discard policy New: nothing is dropped).
    /// `0` or `-1`: unlimited.
    pub max_bytes: i64,
    /// Above this share of `max_bytes` (percent), each service warns (logs
    /// and its projection admin status).
    pub usage_warning_percent: u8,
    /// How often each service reads how full the stream is, in seconds.
    pub usage_check_interval_secs: u64,
    /// The most memory, in bytes, the histories of recently used aggregates
    /// may take (commands on them decide without reading the log first).
    /// `0` keeps none: every command reads its aggregate's history.
    pub history_cache_bytes: u64,
}

/// The password, and credentials in a URL, are never shown: a configuration can
/// be logged whole. Every field is named, so a new one must be decided here.
impl std::fmt::Debug for CaseLogConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let CaseLogConfig {
            url,
            stream,
            replicas,
            duplicate_window_secs,
            user,
            password,
            request_timeout_ms,
            max_bytes,
            usage_warning_percent,
            usage_check_interval_secs,
            history_cache_bytes,
        } = self;
        let urls: Vec<String> = url.split(',').map(without_credentials).collect();
        f.debug_struct("CaseLogConfig")
            .field("url", &urls.join(","))
            .field("stream", stream)
            .field("replicas", replicas)
            .field("duplicate_window_secs", duplicate_window_secs)
            .field("user", user)
            .field("password", &password.as_ref().map(|_| "<redacted>"))
            .field("request_timeout_ms", request_timeout_ms)
            .field("max_bytes", max_bytes)
            .field("usage_warning_percent", usage_warning_percent)
            .field("usage_check_interval_secs", usage_check_interval_secs)
            .field("history_cache_bytes", history_cache_bytes)
            .finish()
    }
}

/// `nats://user:secret@host` shown as `nats://<redacted>@host`.
fn without_credentials(url: &str) -> String {
    match (url.split_once("://"), url.rsplit_once('@')) {
        (Some((scheme, _)), Some((_, host))) => format!("{scheme}://<redacted>@{host}"),
        (None, Some((_, host))) => format!("<redacted>@{host}"),
        _ => url.to_owned(),
    }
}

/// 4 GiB: years of commits for a region (a commit is a few kilobytes at most),
/// and room beside it in the smallest deployed store (`max_file_store: 10GB`
/// locally, 18 GB per node in Kubernetes).
pub const DEFAULT_MAX_BYTES: i64 = 4 * 1024 * 1024 * 1024;

/// 32 MiB: the histories of some tens of thousands of recently used
/// aggregates (a case's record is a few kilobytes), well within a service's
/// memory budget.
pub const DEFAULT_HISTORY_CACHE_BYTES: u64 = 32 * 1024 * 1024;

impl Default for CaseLogConfig {
    fn default() -> Self {
        CaseLogConfig {
            url: "nats://127.0.0.1:4222".to_owned(),
            stream: "APPRODO_CASE_LOG".to_owned(),
            replicas: 1,
            duplicate_window_secs: 120,
            user: None,
            password: None,
            request_timeout_ms: 5_000,
            max_bytes: DEFAULT_MAX_BYTES,
            usage_warning_percent: 80,
            usage_check_interval_secs: 60,
            history_cache_bytes: DEFAULT_HISTORY_CACHE_BYTES,
        }
    }
}

impl CaseLogConfig {
    pub fn duplicate_window(&self) -> Duration {
        Duration::from_secs(self.duplicate_window_secs)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// The stream's byte limit as JetStream takes it: `-1` for unlimited.
    pub fn stream_max_bytes(&self) -> i64 {
        if self.max_bytes > 0 {
            self.max_bytes
        } else {
            -1
        }
    }

    /// The history cache's budget in bytes (saturated on a 32-bit target).
    pub fn history_cache_budget(&self) -> usize {
        usize::try_from(self.history_cache_bytes).unwrap_or(usize::MAX)
    }

    pub fn usage_check_interval(&self) -> Duration {
        Duration::from_secs(self.usage_check_interval_secs.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_shows_no_password() {
        let config = CaseLogConfig {
            url: "nats://svc:url-secret@10.0.0.1:4222,nats://10.0.0.2:4222".to_owned(),
            user: Some("screening".to_owned()),
            password: Some("hunter2-password".to_owned()),
            ..CaseLogConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(
            shown.contains("screening") && shown.contains("10.0.0.1:4222"),
            "{shown}"
        );
        assert!(shown.contains("nats://10.0.0.2:4222"), "{shown}");
        assert!(!shown.contains("hunter2-password"), "{shown}");
        assert!(!shown.contains("url-secret"), "{shown}");
    }
}
