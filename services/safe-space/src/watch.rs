//! `WatchAvailability`: the free places of a province's safe spaces, by space
//! and kind, as they change (ids and figures only, never a name or address).
//! A watch without a resume token starts with a snapshot; then one message
//! per commit that changed what the watcher may see, each carrying that
//! commit's log sequence as its resume token. A client reconnecting with the
//! last token it received gets every later change once: the service folds
//! the province's allocators up to the token (what the client knew) and
//! sends only what changed after it.
//!
//! Who sees what: a prefecture its own province, an administrator any, a
//! managing organisation (reception operator, receiving service) its own
//! spaces. A watch holds one of its organisation's places while open
//! (`[options] max_watches_per_organisation`, per instance) and ends with
//! its caller's token (by the service's clock).

use std::collections::BTreeMap;
use std::pin::Pin;
use std::time::Duration;

use case_log_jetstream::{Producer, RecordedCommit, RootKind};
use contracts::safe_space::v1 as api;
use safe_space_allocation::allocator::State;
use safe_space_allocation::{Capacity, Province, SpaceKind, Unit};
use service_runtime::watches::{WatchLimit, WatchSlot};
use service_runtime::{Caller, Jurisdiction, OrganisationType, ServiceError};
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::aggregate::allocator_id;
use crate::api::SafeSpaceApi;
use crate::{codec, requests};

pub type AvailabilityStream =
    Pin<Box<dyn Stream<Item = Result<api::WatchAvailabilityResponse, Status>> + Send>>;

/// The watch RPC whose open streams are counted (`approdo.watch.streams`).
pub const WATCH_RPC: service_runtime::metrics::WatchRpc = service_runtime::metrics::WatchRpc {
    service: "approdo.safe_space.v1.SafeSpaceService",
    method: "WatchAvailability",
};

/// The availability watches' limit (`service_runtime::watches`).
pub fn limit(max_per_organisation: usize) -> WatchLimit {
    WatchLimit::new(max_per_organisation, WATCH_RPC, "availability watches")
}

/// Which spaces a watcher sees.
#[derive(Debug, Clone)]
enum Scope {
    All,
    Manager(String),
}

/// What a watcher last saw of each space, by allocator.
type Seen = BTreeMap<String, api::SpaceAvailability>;

impl SafeSpaceApi {
    pub(crate) async fn watch_availability_rpc(
        &self,
        request: Request<api::WatchAvailabilityRequest>,
    ) -> Result<Response<AvailabilityStream>, Status> {
        let caller = self.callers.caller(&request)?;
        let r = request.into_inner();
        let province = requests::watch_province(&r.province)?;
        let scope = match caller.organisation_type {
            OrganisationType::Administrator => Scope::All,
            OrganisationType::Prefecture => match Jurisdiction::of(&caller) {
                Jurisdiction::Province(own) if own == province.as_str() => Scope::All,
                _ => {
                    return Err(ServiceError::PermissionDenied(
                        "this province is outside the caller's".to_owned(),
                    )
                    .into());
                }
            },
            _ => Scope::Manager(caller.organisation_id.clone()),
        };
        self.still_entitled(&caller)?;
        let slot = self.watches.admit(&caller.organisation_id)?;
        let (sender, receiver) = mpsc::channel(64);
        tokio::spawn(self.clone().feed_availability(
            caller,
            province,
            scope,
            r.resume_token,
            sender,
            slot,
        ));
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        )))
    }

    fn still_entitled(&self, caller: &Caller) -> Result<(), ServiceError> {
        if self.kernel.now().unix_timestamp() >= self.watch_ends_at(caller) {
            return Err(ServiceError::Unauthenticated(
                "token expired: the watch ends with it",
            ));
        }
        Ok(())
    }

    fn watch_ends_at(&self, caller: &Caller) -> i64 {
        caller.expires_at.saturating_add(self.token_leeway_secs)
    }

    fn until_recheck(&self, caller: &Caller) -> Duration {
        let left = self
            .watch_ends_at(caller)
            .saturating_sub(self.kernel.now().unix_timestamp());
        let left = Duration::from_secs(u64::try_from(left).unwrap_or(0));
        left.min(self.watch_recheck).max(Duration::from_millis(1))
    }

    /// The commits of the province's allocators, merged in log order.
    async fn province_commits(
        &self,
        province: &Province,
    ) -> Result<Vec<(SpaceKind, RecordedCommit)>, ServiceError> {
        let mut commits = Vec::new();
        for kind in SpaceKind::ALL {
            let history = self
                .kernel
                .history_of(
                    RootKind::Configuration,
                    &allocator_id(province, *kind),
                    Producer::SafeSpace,
                )
                .await?;
            commits.extend(history.into_iter().map(|c| (*kind, c)));
        }
        commits.sort_by_key(|(_, c)| c.sequence);
        Ok(commits)
    }

    /// Sends a snapshot (no token) or the changes after the token, then each
    /// change as it is appended, until the client leaves, the service stops
    /// or the caller's token expires.
    async fn feed_availability(
        self,
        caller: Caller,
        province: Province,
        scope: Scope,
        resume: u64,
        sender: mpsc::Sender<Result<api::WatchAvailabilityResponse, Status>>,
        _slot: WatchSlot,
    ) {
        let mut applied = self.projection.watch();
        let mut states: BTreeMap<SpaceKind, State> = BTreeMap::new();
        let mut seen = Seen::new();
        let mut cursor = 0;
        let mut first = true;
        loop {
            if let Err(ended) = self.still_entitled(&caller) {
                let _ = sender.send(Err(ended.into())).await;
                return;
            }
            let commits = match self.province_commits(&province).await {
                Ok(commits) => commits,
                Err(error) => {
                    let _ = sender.send(Err(error.into())).await;
                    return;
                }
            };
            let codec = self.avoid_codec();
            let after = cursor;
            for (kind, commit) in commits.into_iter().filter(|(_, c)| c.sequence > after) {
                let state = states.entry(kind).or_default();
                // Places to avoid do not change free places: a list this
                // instance has not read is folded as unreadable, harmlessly.
                for event in &commit.commit.events {
                    match codec::decode_allocator(&codec, event) {
                        Ok(Some(event)) => *state = std::mem::take(state).evolve(&event),
                        Ok(None) => {}
                        Err(error) => {
                            let error = ServiceError::internal(format_args!(
                                "an allocator's history cannot be decoded: {error}"
                            ));
                            let _ = sender.send(Err(error.into())).await;
                            return;
                        }
                    }
                }
                cursor = commit.sequence;
                let now = visible(&states, &scope);
                // Up to the token the client already knows: only remembered.
                if resume > 0 && commit.sequence <= resume {
                    seen = now;
                    continue;
                }
                let changed = if first && resume == 0 {
                    Vec::new()
                } else {
                    changes(&seen, &now)
                };
                seen = now;
                if !changed.is_empty() {
                    let message = api::WatchAvailabilityResponse {
                        resume_token: commit.sequence,
                        snapshot: false,
                        spaces: changed,
                    };
                    if sender.send(Ok(message)).await.is_err() {
                        return;
                    }
                }
            }
            if first && resume == 0 {
                let message = api::WatchAvailabilityResponse {
                    resume_token: cursor,
                    snapshot: true,
                    spaces: seen.values().cloned().collect(),
                };
                if sender.send(Ok(message)).await.is_err() {
                    return;
                }
            }
            first = false;
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = sender.closed() => return,
                changed = applied.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep(self.until_recheck(&caller)) => {}
            }
        }
    }
}

/// What the watcher may see of each space now.
fn visible(states: &BTreeMap<SpaceKind, State>, scope: &Scope) -> Seen {
    let mut seen = Seen::new();
    for (kind, state) in states {
        for (id, space) in &state.spaces {
            if let Scope::Manager(org) = scope
                && space.organisation.as_str() != org
            {
                continue;
            }
            seen.insert(
                id.to_string(),
                api::SpaceAvailability {
                    space_id: id.to_string(),
                    kind: kind.code().to_owned(),
                    organisation_id: space.organisation.to_string(),
                    capacity: Some(codec::capacity_to_wire(space.capacity)),
                    free: Some(codec::capacity_to_wire(free(state, id))),
                    closed: space.closed,
                },
            );
        }
    }
    seen
}

fn free(state: &State, space: &safe_space_allocation::SpaceId) -> Capacity {
    Capacity {
        beds: state.free(space, Unit::Bed),
        family_rooms: state.free(space, Unit::FamilyRoom),
    }
}

/// The spaces whose availability differs from what was seen.
fn changes(before: &Seen, now: &Seen) -> Vec<api::SpaceAvailability> {
    now.iter()
        .filter(|(id, space)| before.get(*id) != Some(space))
        .map(|(_, space)| space.clone())
        .collect()
}
