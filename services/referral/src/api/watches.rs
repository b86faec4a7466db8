//! Open inbox watches: each counts against its organisation's limit
//! (`options.max_watches_per_organisation`, per service instance) while it is
//! open, and ends with the caller's right to it: at the token's expiry (by the
//! service's clock) or when the organisation is deactivated in the directory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use service_runtime::{Caller, ServiceError};

use super::ReferralApi;
use crate::projection;

/// How many watches each organisation has open, and the most it may.
#[derive(Debug, Clone)]
pub struct WatchLimit {
    max: usize,
    open: Arc<Mutex<HashMap<String, usize>>>,
    metrics: service_runtime::Metrics,
}

/// The watch RPC whose open streams are counted (`approdo.watch.streams`).
const WATCH_RPC: service_runtime::metrics::WatchRpc = service_runtime::metrics::WatchRpc {
    service: "approdo.referral.v1.ReferralService",
    method: "WatchInbox",
};

impl WatchLimit {
    pub fn new(max_per_organisation: usize) -> Self {
        WatchLimit {
            max: max_per_organisation,
            open: Arc::default(),
            metrics: service_runtime::Metrics::disabled(),
        }
    }

    /// Counts the open watches on `metrics` (no organisation in the count).
    pub fn measured(mut self, metrics: service_runtime::Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// A place for one more watch of `organisation`, or `RESOURCE_EXHAUSTED`
    /// when it has the most it may. The place is freed when the slot drops.
    pub fn admit(&self, organisation: &str) -> Result<WatchSlot, ServiceError> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(organisation.to_owned()).or_default();
        if *count >= self.max {
            tracing::warn!(
                organisation_id = organisation,
                open = *count,
                "inbox watch refused: the organisation has the most open watches it may"
            );
            return Err(ServiceError::ResourceExhausted(format!(
                "the organisation has {} inbox watches open, the most it may; close one first",
                self.max
            )));
        }
        *count += 1;
        Ok(WatchSlot {
            organisation: organisation.to_owned(),
            open: self.open.clone(),
            _stream: self.metrics.watch_stream(WATCH_RPC),
        })
    }

    /// How many watches `organisation` has open.
    pub fn open(&self, organisation: &str) -> usize {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(organisation).copied().unwrap_or(0)
    }
}

/// One open watch's place; dropping it (the stream ended, for any reason)
/// frees the place.
#[derive(Debug)]
pub struct WatchSlot {
    organisation: String,
    open: Arc<Mutex<HashMap<String, usize>>>,
    /// Counted open until dropped.
    _stream: service_runtime::metrics::OpenStream,
}

impl Drop for WatchSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.organisation) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.organisation);
            }
        }
    }
}

impl ReferralApi {
    /// Whether `caller` may still watch its inbox: its token not expired (by
    /// the service's clock, with the leeway tokens are verified with) and its
    /// organisation not deactivated in the directory. Ids and fixed texts only.
    pub(super) fn still_entitled(&self, caller: &Caller) -> Result<(), ServiceError> {
        let now = self.kernel.now().unix_timestamp();
        if now >= self.watch_ends_at(caller) {
            return Err(ServiceError::Unauthenticated(
                "token expired: the watch ends with it",
            ));
        }
        let profile = projection::organisation(self.projection.store(), &caller.organisation_id)?;
        if profile.is_some_and(|profile| !profile.active) {
            return Err(ServiceError::PermissionDenied(
                "the caller's organisation is deactivated in the directory".to_owned(),
            ));
        }
        Ok(())
    }

    /// How long a watch may wait before checking again: until the token
    /// expires by the service's clock, at most the recheck interval (so that a
    /// clock that jumps, or is moved by a test, is noticed).
    pub(super) fn until_recheck(&self, caller: &Caller) -> Duration {
        let left = self
            .watch_ends_at(caller)
            .saturating_sub(self.kernel.now().unix_timestamp());
        let left = Duration::from_secs(u64::try_from(left).unwrap_or(0));
        left.min(self.watch_recheck).max(Duration::from_millis(1))
    }

    fn watch_ends_at(&self, caller: &Caller) -> i64 {
        caller.expires_at.saturating_add(self.token_leeway_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_organisation_has_at_most_its_limit_open_and_a_closed_watch_frees_its_place() {
        let limit = WatchLimit::new(2);
        let first = limit.admit("cav-a").expect("first");
        let _second = limit.admit("cav-a").expect("second");
        let refused = limit.admit("cav-a").expect_err("third");
        assert!(matches!(refused, ServiceError::ResourceExhausted(_)));
        let _other = limit
            .admit("cav-b")
            .expect("another organisation has its own");
        drop(first);
        assert_eq!(limit.open("cav-a"), 1);
        let _again = limit.admit("cav-a").expect("a place was freed");
        assert_eq!(limit.open("cav-a"), 2);
    }
}
