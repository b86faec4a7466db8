//! What the safe-space service tells the runtime's watcher: the candidates
//! are the allocators with a hold whose deadline passed in the projection,
//! and those where a case that screening closed or erased, or whose linked
//! referral was revoked, cancelled or failed, still has a request; the domain decides, on the allocator's history and the case's
//! facts read from the log, which holds expire and which requests end.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use safe_space_allocation::{Actor, Context};
use service_runtime::{DeadlineWatch, Prepared, ServiceError};
use time::OffsetDateTime;

use case_log_jetstream::{Producer, RootKind};

use crate::aggregate::{Allocator, AllocatorContext, parse_allocator_id};
use crate::api::SafeSpaceApi;
use crate::{case_facts, projection};

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
            let mut ended = BTreeMap::new();
            for (case, entry) in &state.cases {
                if !projection::case_ended(self.projection.store(), case.as_str())? {
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
            Ok(Prepared {
                codec: (),
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
                },
            })
        }
    }
}
