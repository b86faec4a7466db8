//! What the safe-space service tells the runtime's watcher. On allocators:
//! the candidates are those with a hold whose deadline passed in the
//! projection, those where a case that screening closed or erased, or whose
//! linked referral was revoked, cancelled or failed, still has a request (or,
//! if erased, places to avoid whose key is kept), those where a case occupying
//! a space was placed by screening elsewhere (a transfer), those where a case
//! whose screening urgency changed waits, and those lacking a space the
//! registry holds (a registration interrupted between its two appends); the
//! domain decides, on the allocator's history and the facts read from the
//! log, which holds expire, which requests end, whose urgency is refreshed and
//! what is forwarded. An erased case's needs key is destroyed here, before the
//! domain lists the record of it. On case records
//! (`case_record::CaseRecordWatch`): the allocator commits a case's record
//! lacks. One loop runs both passes (`watch`), and records a pass only when
//! both completed, so `deadlines_checked_at` still means "everything due by
//! then is done".

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use safe_space_allocation::allocator::{self, Entry, Standing};
use safe_space_allocation::{Actor, Context, ReleaseReason, SpaceId};
use service_runtime::deadlines::check_once;
use service_runtime::{DeadlinePasses, DeadlineWatch, Kernel, Prepared, ServiceError};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use case_log_jetstream::{Producer, RootKind};

use crate::aggregate::{Allocator, AllocatorContext, SafeSpace, parse_allocator_id};
use crate::api::SafeSpaceApi;
use crate::case_facts::SafeSpaceFacts;
use crate::case_record::CaseRecordWatch;
use crate::codec::WireEvent;
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
        allocators.extend(projection::transfers_due(store)?);
        allocators.extend(
            projection::registrations_due(store)?
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
            // Its commits also tell a transfer from the arrival's own placement.
            let (history, state) = self.allocator_history_and_state(&id).await?;
            let store = self.projection.store();
            // The cases here that ended, or moved elsewhere, each confirmed from the log.
            let moved = projection::transfers_due(store)?.contains(&id);
            let mut ended = BTreeMap::new();
            let mut urgencies = BTreeMap::new();
            for (case, entry) in &state.cases {
                // Compared once per change of the case's urgency: the
                // check is remembered when nothing is (or remains) to refresh.
                if let Some(at) = projection::urgency_changed_at(store, case.as_str())?
                    && at > self.urgency_checked(case.as_str())
                {
                    let urgency = self.case_facts(case).await?.case_urgency().current();
                    if entry.standing == allocator::Standing::Waiting && urgency != entry.urgency {
                        urgencies.insert(case.clone(), urgency);
                    } else {
                        self.remember_urgency_checked(case.as_str(), at);
                    }
                }
                if let Some(reason) = self
                    .ended_reason(case, entry, &state, &history, moved)
                    .await?
                {
                    ended.insert(case.clone(), reason);
                }
            }
            // Spaces the registry holds that this allocator lacks.
            let mut registered = Vec::new();
            for (allocator, space) in projection::registrations_due(store)? {
                let Ok(space) = SpaceId::parse(&space) else {
                    continue;
                };
                if allocator != id || state.spaces.contains_key(&space) {
                    continue;
                }
                let registry = self.kernel.state::<SafeSpace>(space.as_str(), &()).await?;
                if let Some(command) = registry.allocator_command(&space) {
                    registered.push((space, command));
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
                    registered,
                },
            })
        }
    }
}

impl SafeSpaceApi {
    /// Why what `case` holds here must end by itself, read from the log: the
    /// case closed or erased, its linked referral revoked, cancelled or
    /// failed, or (for a person occupying a space) screening placed the case,
    /// after its arrival, in a facility that the space does not stand for
    /// (neither the space's id nor its managing organisation): a transfer.
    async fn ended_reason(
        &self,
        case: &safe_space_allocation::CaseId,
        entry: &Entry,
        state: &safe_space_allocation::allocator::State,
        history: &[case_log_jetstream::RecordedCommit],
        moved_here: bool,
    ) -> Result<Option<ReleaseReason>, ServiceError> {
        let occupying = match &entry.standing {
            Standing::Occupying { space, .. } => Some(space),
            _ => None,
        };
        let transfer_indexed = occupying.is_some() && moved_here;
        if !projection::case_ended(self.projection.store(), case.as_str())? && !transfer_indexed {
            return Ok(None);
        }
        let facts = self.case_facts(case).await?;
        if let Some(reason) = facts.ended() {
            return Ok(Some(reason));
        }
        if let Some(referral) = &entry.referral {
            let referrals = self
                .kernel
                .history_of(RootKind::Case, case.as_str(), Producer::Referral)
                .await?;
            if let Some(reason) = case_facts::referral_ended(&referrals, referral.as_str()) {
                return Ok(Some(reason));
            }
        }
        let Some(space) = occupying else {
            return Ok(None);
        };
        // The commit that confirmed the arrival in this space.
        let arrived_at = history
            .iter()
            .filter(|commit| {
                commit.commit.events.iter().any(|event| {
                    matches!(WireEvent::decode(event), Ok(WireEvent::ArrivalConfirmed(a))
                        if a.case_id == case.as_str() && a.space_id == space.as_str())
                })
            })
            .map(|commit| commit.sequence)
            .next_back()
            .unwrap_or(u64::MAX);
        let manager = state.spaces.get(space).map(|s| s.organisation.as_str());
        let moved = facts.placement > arrived_at
            && facts.facility_id != space.as_str()
            && Some(facts.facility_id.as_str()) != manager;
        Ok(moved.then_some(ReleaseReason::Transfer))
    }
}

/// The service's one watcher: every `interval`, the allocators' pass, then
/// the case records' pass; a pass is recorded only when both completed.
pub async fn watch(
    kernel: Kernel,
    api: Arc<SafeSpaceApi>,
    interval: Duration,
    passes: DeadlinePasses,
    shutdown: CancellationToken,
) {
    let records = CaseRecordWatch::new(api.clone());
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        let now = kernel.now();
        let allocators = check_once(&kernel, api.as_ref(), now).await;
        let mirrored = check_once(&kernel, &records, now).await;
        match (allocators, mirrored) {
            (Ok(_), Ok(_)) => passes.record(now),
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!(watcher = "safe-space-deadline-watcher", %error, "deadline check failed, retrying at the next tick");
            }
        }
    }
}
