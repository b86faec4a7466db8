//! What the safe-space service tells the runtime's watcher: the candidates
//! are the allocators with a hold whose deadline passed in the projection,
//! and those where a case that screening closed or erased, or whose linked
//! referral was revoked, cancelled or failed, still has a request (or, if
//! erased, places to avoid whose key is kept), and those where a case whose
//! screening urgency changed waits; the domain decides, on the allocator's
//! history and the case's facts read from the log, which holds expire, which
//! requests end, whose urgency is refreshed. An erased case's needs key is
//! destroyed here, before the domain lists the record of it.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use safe_space_allocation::allocator;
use safe_space_allocation::{Actor, Context, ReleaseReason};
use service_runtime::{DeadlineWatch, Prepared, ServiceError};
use time::OffsetDateTime;

use case_log_jetstream::{Producer, RootKind};

use crate::aggregate::{Allocator, AllocatorContext, parse_allocator_id};
use crate::api::SafeSpaceApi;
use crate::{case_facts, projection};

impl SafeSpaceApi {
    /// Up to which screening commit this instance found the case's waiting
    /// entry in step with its urgency.
    fn urgency_checked(&self, case: &str) -> u64 {
        let checked = self
            .urgency_checked
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        checked.get(case).copied().unwrap_or(0)
    }

    fn remember_urgency_checked(&self, case: &str, at: u64) {
        let mut checked = self
            .urgency_checked
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        checked.insert(case.to_owned(), at);
    }
}

impl DeadlineWatch for SafeSpaceApi {
    type Aggregate = Allocator;

    const WATCHER: &'static str = "safe-space-deadline-watcher";

    fn candidates(&self, now: OffsetDateTime) -> Result<Vec<String>, ServiceError> {
        let store = self.projection.store();
        let mut allocators: BTreeSet<String> =
            projection::holds_due(store, now)?.into_iter().collect();
        allocators.extend(
            projection::ended_cases(store)?
                .into_iter()
                .map(|(allocator, _)| allocator),
        );
        allocators.extend(projection::urgency_changed(store, |case| {
            self.urgency_checked(case)
        })?);
        Ok(allocators.into_iter().collect())
    }

    fn prepare(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Prepared<Allocator>, ServiceError>> + Send {
        let parsed = parse_allocator_id(id);
        let now = self.kernel.now();
        let policy = self.policy;
        let id = id.to_owned();
        async move {
            let (province, kind) =
                parsed.ok_or_else(|| ServiceError::internal("an allocator id the index holds"))?;
            // The cases here that screening ended, each confirmed from the log.
            let state = self.allocator_state(&id).await?;
            let store = self.projection.store();
            let mut ended = BTreeMap::new();
            let mut urgencies = BTreeMap::new();
            for (case, entry) in &state.cases {
                // Compared once per change of the case's urgency: the
                // check is remembered when nothing is (or remains) to refresh.
                if let Some(at) = projection::urgency_changed_at(store, case.as_str())?
                    && at > self.urgency_checked(case.as_str())
                {
                    let urgency = self.case_facts(case).await?.urgency.current();
                    if entry.standing == allocator::Standing::Waiting && urgency != entry.urgency {
                        urgencies.insert(case.clone(), urgency);
                    } else {
                        self.remember_urgency_checked(case.as_str(), at);
                    }
                }
                if !projection::case_ended(store, case.as_str())? {
                    continue;
                }
                let mut reason = self.case_facts(case).await?.ended();
                if reason.is_none()
                    && let Some(referral) = &entry.referral
                {
                    let history = self
                        .kernel
                        .history_of(RootKind::Case, case.as_str(), Producer::Referral)
                        .await?;
                    reason = case_facts::referral_ended(&history, referral.as_str());
                }
                if let Some(reason) = reason {
                    ended.insert(case.clone(), reason);
                }
            }
            // Erased cases whose places to avoid are kept here: their needs
            // key is destroyed now; the domain then lists the record of it.
            for case in &state.avoid_kept {
                if !projection::case_ended(store, case.as_str())? {
                    continue;
                }
                if self.case_facts(case).await?.erased {
                    self.needs_keys.destroy(self.kernel.log(), case).await?;
                    ended.insert(case.clone(), ReleaseReason::Erasure);
                }
            }
            Ok(Prepared {
                codec: self.avoid_codec(),
                context: AllocatorContext {
                    domain: Context {
                        now,
                        actor: Actor::System,
                        province,
                        kind,
                        policy,
                        case: Default::default(),
                    },
                    case: None,
                    ended,
                    referred_to: Vec::new(),
                    urgencies,
                },
            })
        }
    }
}
