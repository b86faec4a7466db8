//! Open watch streams (referral's `WatchInbox`, safe-space's
//! `WatchAvailability`): each counts against its organisation's limit
//! (`max_watches_per_organisation`, per service instance) while it is open,
//! and as an open stream in the metrics (`approdo.watch.streams`, no
//! organisation in the count). The one place of that rule; when a watch ends
//! (its caller's right to it) is the service's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::ServiceError;
use crate::metrics::{Metrics, OpenStream, WatchRpc};

/// How many watches each organisation has open, and the most it may.
#[derive(Debug, Clone)]
pub struct WatchLimit {
    max: usize,
    rpc: WatchRpc,
    /// What the watches are, in a refusal ("inbox watches").
    what: &'static str,
    open: Arc<Mutex<HashMap<String, usize>>>,
    metrics: Metrics,
}

impl WatchLimit {
    pub fn new(max_per_organisation: usize, rpc: WatchRpc, what: &'static str) -> Self {
        WatchLimit {
            max: max_per_organisation,
            rpc,
            what,
            open: Arc::default(),
            metrics: Metrics::disabled(),
        }
    }

    /// Counts the open watches on `metrics`.
    pub fn measured(mut self, metrics: Metrics) -> Self {
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
                watch = self.rpc.method,
                "watch refused: the organisation has the most open watches it may"
            );
            return Err(ServiceError::ResourceExhausted(format!(
                "the organisation has {} {} open, the most it may; close one first",
                self.max, self.what
            )));
        }
        *count += 1;
        Ok(WatchSlot {
            organisation: organisation.to_owned(),
            open: self.open.clone(),
            _stream: self.metrics.watch_stream(self.rpc),
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
    _stream: OpenStream,
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

#[cfg(test)]
mod tests {
    use super::*;

    const RPC: WatchRpc = WatchRpc {
        service: "approdo.test.v1.Test",
        method: "Watch",
    };

    #[test]
    fn an_organisation_gets_its_most_watches_and_a_place_back_when_one_ends() {
        let limit = WatchLimit::new(2, RPC, "test watches");
        let first = limit.admit("cav-roma").expect("first");
        let _second = limit.admit("cav-roma").expect("second");
        let refused = limit.admit("cav-roma").expect_err("third");
        assert!(
            matches!(refused, ServiceError::ResourceExhausted(ref m) if m.contains("2 test watches"))
        );
        assert!(
            limit.admit("cav-milano").is_ok(),
            "another organisation's own limit"
        );
        drop(first);
        assert_eq!(limit.open("cav-roma"), 1);
        assert!(limit.admit("cav-roma").is_ok());
    }
}
