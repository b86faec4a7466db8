//! How to reach and provision the case log.

use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
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
}

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
}
