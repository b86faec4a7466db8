//! Open inbox watches: each counts against its organisation's limit while it
//! is open (`service_runtime::watches`, `options.max_watches_per_organisation`
//! per service instance), and ends with the caller's right to it (here): at
//! the token's expiry (by the service's clock) or when the organisation is
//! deactivated in the directory.

use std::time::Duration;

use service_runtime::watches::WatchLimit;
use service_runtime::{Caller, ServiceError};

use super::ReferralApi;
use crate::projection;

/// The watch RPC whose open streams are counted (`approdo.watch.streams`).
pub const WATCH_RPC: service_runtime::metrics::WatchRpc = service_runtime::metrics::WatchRpc {
    service: "approdo.referral.v1.ReferralService",
    method: "WatchInbox",
};

/// The inbox watches' limit (`service_runtime::watches`).
pub fn limit(max_per_organisation: usize) -> WatchLimit {
    WatchLimit::new(max_per_organisation, WATCH_RPC, "inbox watches")
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
