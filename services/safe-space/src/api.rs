//! `approdo.safe_space.v1.SafeSpaceService`: the registry (a space is
//! recorded on its own subject, then joins its allocator), requests for a
//! place, cancellations, arrivals and releases (each one allocator command),
//! and the queries (folded from the allocator's history). Every command goes
//! through the runtime's kernel. Allocator commands are serialised per
//! allocator within an instance and, when the kernel gives up after its lost
//! races with another instance, run again with the same request id after a
//! jittered pause, so contention never reaches a caller as ABORTED.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use case_log_jetstream::{Executed, Producer, RootKind};
use contracts::safe_space::v1 as api;
use projection_sled::ProjectionHandle;
use safe_space_allocation::allocator::{self, Entry, Standing};
use safe_space_allocation::space;
use safe_space_allocation::{
    Actor, AllocationPolicy, Capacity, CaseId, Context, OrganisationId, Province, SpaceId,
    SpaceKind, Unit,
};
use service_runtime::{
    Authority, Caller, CallerExtractor, Jurisdiction, Kernel, OrganisationType, Preview,
    ServiceError, Target, person_keys,
};
use tonic::{Request, Response, Status};

use crate::aggregate::{
    Allocator, AllocatorContext, SafeSpace, SpaceContext, allocator_id, parse_allocator_id,
};
use crate::case_facts::{self, CaseFacts, SafeSpaceFacts};
use crate::codec::{self, WireEvent};
use crate::needs::{AvoidCodec, NeedsKeys};
use crate::{projection, requests};

#[derive(Clone)]
pub struct SafeSpaceApi {
    pub(crate) kernel: Kernel,
    pub(crate) projection: ProjectionHandle,
    pub(crate) callers: CallerExtractor,
    pub(crate) policy: AllocationPolicy,
    pub(crate) conflict_retries: u32,
    pub(crate) backoff_max: Duration,
    /// One lock per allocator: this instance runs its commands one at a time.
    pub(crate) allocators: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    /// Each space's key, which seals its real name and address.
    pub(crate) space_keys: Arc<service_runtime::SpaceKeyKeeper>,
    /// Each case's needs key, which seals its places to avoid.
    pub(crate) needs_keys: Arc<NeedsKeys>,
    /// Open availability watches per organisation (`watch`).
    pub(crate) watches: service_runtime::watches::WatchLimit,
    pub(crate) shutdown: tokio_util::sync::CancellationToken,
    pub(crate) token_leeway_secs: i64,
    pub(crate) watch_recheck: Duration,
    /// Per case, up to which screening commit the watcher found its waiting
    /// entry in step with its urgency (this instance's memory).
    pub(crate) urgency_checked: Arc<Mutex<HashMap<String, u64>>>,
}

/// The kind of message a space's key seals: its name and address.
pub const LOCATION: &str = "location";

/// What runs one allocator command.
pub(crate) struct AllocatorCommand<'a> {
    pub authority: &'a Authority,
    pub request_id: &'a str,
    pub province: Province,
    pub kind: SpaceKind,
    pub actor: Actor,
    /// For a command about a case: screening's facts and whether it holds elsewhere.
    pub case: Option<(CaseFacts, bool)>,
    /// For a disclosure: who the case entitles to a location (the domain's
    /// `location_readers`) and the receivers of its accepted referrals (its whereabouts).
    pub readers: Option<(BTreeSet<OrganisationId>, Vec<String>)>,
    /// The caller answers for the case where it is now (the domain's `responsible`).
    pub responsible: bool,
    pub command: allocator::Command,
}

/// How many times a fold is run again after reading needs keys it missed
/// (each round reads every key it met unread, so one is usually enough).
const KEY_ROUNDS: u32 = 4;

/// Ids of spaces are derived from the caller's organisation and request id,
/// so that a retry addresses the same space.
pub fn space_id(organisation_id: &str, request_id: &str) -> SpaceId {
    const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x3c0e_5d1a_77b2_4f60_8d2e_5a4b_9c1f_a003);
    let id = uuid::Uuid::new_v5(
        &NAMESPACE,
        format!("safe-space/{organisation_id}/{request_id}").as_bytes(),
    );
    SpaceId::parse(&id.to_string()).expect("a hyphenated lowercase UUID is a space id")
}

fn actor_of(caller: &Caller) -> Result<Actor, ServiceError> {
    if caller.organisation_type == service_runtime::OrganisationType::Administrator {
        return Ok(Actor::Administrator);
    }
    OrganisationId::parse(&caller.organisation_id)
        .map(Actor::Organisation)
        .map_err(|_| {
            ServiceError::PermissionDenied(
                "the caller's organisation id is not a valid organisation id".to_owned(),
            )
        })
}

/// A random pause in `[max/4, max]`: instances that lost the same race do not retry in step.
fn jittered(max: Duration, attempt: u32) -> Duration {
    let grown = max.as_millis().min(5u128 << attempt.min(16)) as u64;
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let floor = grown / 4;
    Duration::from_millis(floor + random % (grown - floor + 1))
}

impl SafeSpaceApi {
    /// The case as the screening service recorded it, read from the log itself.
    pub(crate) async fn case_facts(&self, case: &CaseId) -> Result<CaseFacts, ServiceError> {
        let history = self
            .kernel
            .history_of(RootKind::Case, case.as_str(), Producer::Screening)
            .await?;
        CaseFacts::from_history(&history).ok_or(ServiceError::NotFound("case"))
    }

    /// An allocator's state, read from the log (with every needs key it meets read).
    pub(crate) async fn allocator_state(&self, id: &str) -> Result<allocator::State, ServiceError> {
        Ok(self.allocator_history_and_state(id).await?.1)
    }

    /// An allocator's commits, read once, and its state folded from them
    /// (again, with the needs keys the first fold met read, until none is missed).
    pub(crate) async fn allocator_history_and_state(
        &self,
        id: &str,
    ) -> Result<(Vec<case_log_jetstream::RecordedCommit>, allocator::State), ServiceError> {
        let history = self.kernel.history::<Allocator>(id).await?;
        let mut round = 0;
        loop {
            let codec = self.avoid_codec();
            let state = service_runtime::kernel::fold::<Allocator>(&codec, &history)
                .map_err(|e| ServiceError::internal(format_args!("an allocator's history: {e}")))?;
            let missed = codec.missed();
            if missed.is_empty() || round >= KEY_ROUNDS {
                return Ok((history, state));
            }
            self.needs_keys.load(self.kernel.log(), &missed).await?;
            round += 1;
        }
    }

    /// A codec for one fold or one command.
    pub(crate) fn avoid_codec(&self) -> AvoidCodec {
        AvoidCodec::new(self.needs_keys.clone())
    }

    /// Whether the case has a request open in another allocator (the index
    /// says where to look; the allocator's own history says whether it is so).
    async fn held_elsewhere(&self, case: &CaseId, here: &str) -> Result<bool, ServiceError> {
        // The case's own record first: it mirrors every allocator.
        if let Some((province, kind)) = parse_allocator_id(here)
            && self
                .case_record(case)
                .await?
                .held_elsewhere(&province, kind)
        {
            return Ok(true);
        }
        for other in projection::case_allocators(self.projection.store(), case.as_str())? {
            if other != here && self.allocator_state(&other).await?.cases.contains_key(case) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.allocators.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(id.to_owned()).or_default().clone()
    }

    /// Runs one allocator command: one at a time per allocator here, again
    /// with the same request id when other instances kept winning the race.
    pub(crate) async fn run_allocator(
        &self,
        run: AllocatorCommand<'_>,
    ) -> Result<Executed, ServiceError> {
        let id = allocator_id(&run.province, run.kind);
        let lock = self.lock(&id);
        let _serialised = lock.lock().await;
        let mut attempt = 0;
        let mut key_round = 0;
        loop {
            let (case, held_elsewhere) = match &run.case {
                Some((facts, held)) => (Some(facts.clone()), *held),
                None => (None, false),
            };
            let (location_readers, referred_to) = run.readers.clone().unwrap_or_default();
            let context = AllocatorContext {
                domain: Context {
                    now: self.kernel.now(),
                    actor: run.actor.clone(),
                    province: run.province.clone(),
                    kind: run.kind,
                    policy: self.policy,
                    case: safe_space_allocation::CaseFacts {
                        location_readers,
                        responsible: run.responsible,
                        ..case
                            .as_ref()
                            .map(|facts| facts.domain(held_elsewhere))
                            .unwrap_or_default()
                    },
                },
                case,
                ended: Default::default(),
                referred_to,
                urgencies: Default::default(),
                registered: Vec::new(),
            };
            let codec = self.avoid_codec();
            let target = || Target::<Allocator> {
                id: &id,
                codec: &codec,
                context: &context,
            };
            // Places to avoid reach the log only sealed with the case's own
            // needs key: created once the kernel would accept the request
            // (the caller's jurisdiction and the domain, as `execute` will
            // ask them), so that no key exists for a refused one.
            let executed = match self.needs_key_first(&run, target()).await {
                Ok(()) => {
                    self.kernel
                        .execute(target(), run.authority, run.request_id, run.command.clone())
                        .await
                }
                Err(refused) => Err(refused),
            };
            // Decided on a fold that met a needs key not read yet: nothing was
            // appended; read the keys and decide again.
            let missed = codec.missed();
            if !missed.is_empty() && key_round < KEY_ROUNDS {
                self.needs_keys.load(self.kernel.log(), &missed).await?;
                key_round += 1;
                continue;
            }
            match executed {
                Err(ServiceError::Conflict(_)) if attempt < self.conflict_retries => {
                    attempt += 1;
                    tokio::time::sleep(jittered(self.backoff_max, attempt)).await;
                }
                // The case's own record follows the allocator (a replay completes
                // a mirror a crash interrupted; the watcher repairs the rest).
                Ok(executed) => {
                    // The allocator is free for the next command meanwhile.
                    drop(_serialised);
                    // The allocator decided: its answer stands. A mirror that
                    // fails (the log unavailable) is the watcher's to complete.
                    if let Err(error) = self.mirror(&id, executed.sequence, &executed.commit).await
                    {
                        tracing::warn!(allocator = %id, sequence = executed.sequence, %error, "the case's record is behind its allocator, the watcher completes it");
                    }
                    return Ok(executed);
                }
                other => return other,
            }
        }
    }

    /// For a request with places to avoid whose needs key this instance does
    /// not hold: previews it, and creates the key if it would be accepted.
    async fn needs_key_first(
        &self,
        run: &AllocatorCommand<'_>,
        target: Target<'_, Allocator>,
    ) -> Result<(), ServiceError> {
        let allocator::Command::RequestPlace { case, needs, .. } = &run.command else {
            return Ok(());
        };
        if needs.avoid.is_empty() || self.needs_keys.holds(case) {
            return Ok(());
        }
        match self
            .kernel
            .preview(target, run.authority, run.request_id, &run.command)
            .await?
        {
            Preview::Accepted => self.needs_keys.create(self.kernel.log(), case).await,
            Preview::Replayed(_) => Ok(()),
        }
    }

    /// A caller's command about a case in an allocator, with the case's facts.
    async fn case_command(
        &self,
        caller: &Caller,
        request_id: &str,
        province: Province,
        kind: SpaceKind,
        case: &CaseId,
        command: allocator::Command,
    ) -> Result<Executed, ServiceError> {
        let facts = self.case_facts(case).await?;
        let held = self
            .held_elsewhere(case, &allocator_id(&province, kind))
            .await?;
        let authority = match &command {
            allocator::Command::ConfirmArrival { .. } | allocator::Command::Release { .. } => {
                self.manager_authority(caller, &province, kind, case)
                    .await?
            }
            _ => Authority::of(caller),
        };
        self.run_allocator(AllocatorCommand {
            authority: &authority,
            request_id,
            province,
            kind,
            actor: actor_of(caller)?,
            responsible: responsible(caller, &facts),
            case: Some((facts, held)),
            readers: None,
            command,
        })
        .await
    }

    /// A reception operator that manages the space the case holds here (a
    /// women-only area of its centre) confirms the arrival and releases the
    /// place as the space's manager, like a shelter does, though the case is
    /// still in another facility until its arrival is placed; anyone else by
    /// its token.
    async fn manager_authority(
        &self,
        caller: &Caller,
        province: &Province,
        kind: SpaceKind,
        case: &CaseId,
    ) -> Result<Authority, ServiceError> {
        let authority = Authority::of(caller);
        if caller.organisation_type != OrganisationType::ReceptionOperator {
            return Ok(authority);
        }
        let state = self.allocator_state(&allocator_id(province, kind)).await?;
        let manages = state
            .cases
            .get(case)
            .and_then(Entry::holds)
            .and_then(|(space, _)| state.spaces.get(space))
            .is_some_and(|space| space.organisation.as_str() == caller.organisation_id);
        Ok(if manages {
            Authority {
                jurisdiction: Jurisdiction::Receiver(caller.organisation_id.clone()),
                ..authority
            }
        } else {
            authority
        })
    }

    async fn register_safe_space_rpc(
        &self,
        request: Request<api::RegisterSafeSpaceRequest>,
    ) -> Result<Response<api::RegisterSafeSpaceResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let (request_id, profile, location) = requests::register_safe_space(request.get_ref())?;
        let space = space_id(&caller.organisation_id, &request_id);
        // Every space has its key from its registration; the name and address
        // reach the kernel only sealed with it.
        let key = self
            .space_keys
            .create_or_get(self.kernel.log(), space.as_str())
            .await?;
        let sealed_location = location
            .map(|location| {
                person_keys::seal(
                    &key,
                    &person_keys::space_key_id(space.as_str()),
                    LOCATION,
                    &location,
                )
            })
            .transpose()?;
        let context = SpaceContext {
            space: space.clone(),
            domain: space::Context {
                now: self.kernel.now(),
                actor: actor_of(&caller)?,
            },
            sealed_location,
        };
        let target = Target::<SafeSpace> {
            id: space.as_str(),
            codec: &(),
            context: &context,
        };
        let (province, kind) = (profile.province.clone(), profile.kind);
        let executed = self
            .kernel
            .execute(
                target,
                &Authority::of(&caller),
                &request_id,
                space::Command::Register(profile),
            )
            .await?;
        // The registry first, then the allocator (a space not yet there is not offered).
        let state = self.kernel.state::<SafeSpace>(space.as_str(), &()).await?;
        if let Some(command) = state.allocator_command(&space) {
            let forwarded = format!("space-added.{space}");
            let added = self
                .run_allocator(AllocatorCommand {
                    authority: &Authority::system(crate::NAME),
                    request_id: &forwarded,
                    province,
                    kind,
                    actor: Actor::System,
                    case: None,
                    readers: None,
                    responsible: false,
                    command,
                })
                .await;
            match added {
                Ok(_) | Err(ServiceError::FailedPrecondition(_)) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(Response::new(api::RegisterSafeSpaceResponse {
            space_id: space.to_string(),
            log_sequence: executed.sequence,
        }))
    }

    /// A registry command on an existing space: its allocator decides first
    /// (with the caller as actor), then the space records it, both with the
    /// same request id (a retry completes what a crash left half done).
    async fn space_change(
        &self,
        caller: &Caller,
        request_id: &str,
        space: &SpaceId,
        allocator_command: allocator::Command,
        space_command: space::Command,
    ) -> Result<u64, ServiceError> {
        let state = self.kernel.state::<SafeSpace>(space.as_str(), &()).await?;
        let profile = state.profile.ok_or(ServiceError::NotFound("space"))?;
        let authority = Authority::of(caller);
        let actor = actor_of(caller)?;
        self.run_allocator(AllocatorCommand {
            authority: &authority,
            request_id,
            province: profile.province,
            kind: profile.kind,
            actor: actor.clone(),
            case: None,
            readers: None,
            responsible: false,
            command: allocator_command,
        })
        .await?;
        let context = SpaceContext {
            space: space.clone(),
            domain: space::Context {
                now: self.kernel.now(),
                actor,
            },
            sealed_location: None,
        };
        let target = Target::<SafeSpace> {
            id: space.as_str(),
            codec: &(),
            context: &context,
        };
        let executed = self
            .kernel
            .execute(target, &authority, request_id, space_command)
            .await?;
        Ok(executed.sequence)
    }

    async fn request_place_rpc(
        &self,
        request: Request<api::RequestPlaceRequest>,
    ) -> Result<Response<api::RequestPlaceResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let place = requests::request_place(request.get_ref())?;
        let command = allocator::Command::RequestPlace {
            case: place.case.clone(),
            needs: place.needs,
            referral: place.referral,
        };
        let executed = self
            .case_command(
                &caller,
                &place.request_id,
                place.province.clone(),
                place.kind,
                &place.case,
                command,
            )
            .await?;
        let id = allocator_id(&place.province, place.kind);
        let state = self.allocator_state(&id).await?;
        let reason = reserved_reason(&executed, &place.case);
        let mut response = api::RequestPlaceResponse {
            standing: "waiting".to_owned(),
            log_sequence: executed.sequence,
            reason: reason.unwrap_or_default(),
            ..Default::default()
        };
        if let Some(entry) = state.cases.get(&place.case) {
            let now = case_place(&state, &place.case, entry, &place.province, place.kind);
            response.standing = now.standing;
            response.space_id = now.space_id.clone();
            response.held_until = now.held_until;
            response.position = now.position;
            if !now.space_id.is_empty() {
                response.proposals.push(now.space_id);
            }
            response.proposals.extend(
                allocator::proposals(&state, &place.case)
                    .into_iter()
                    .map(|p| p.space.to_string())
                    .filter(|space| *space != response.space_id),
            );
        }
        Ok(Response::new(response))
    }

    async fn simple_case_command(
        &self,
        caller: &Caller,
        (request_id, case, province, kind): (String, CaseId, Province, SpaceKind),
        command: impl FnOnce(CaseId) -> allocator::Command,
    ) -> Result<u64, ServiceError> {
        let command = command(case.clone());
        let executed = self
            .case_command(caller, &request_id, province, kind, &case, command)
            .await?;
        Ok(executed.sequence)
    }

    async fn get_case_places_rpc(
        &self,
        request: Request<api::GetCasePlacesRequest>,
    ) -> Result<Response<api::GetCasePlacesResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let case = requests::query_case(&request.get_ref().case_id)?;
        let facts = self.case_facts(&case).await?;
        let mut places = Vec::new();
        let mut managers = Vec::new();
        for id in projection::case_allocators(self.projection.store(), case.as_str())? {
            let Some((province, kind)) = parse_allocator_id(&id) else {
                continue;
            };
            let state = self.allocator_state(&id).await?;
            if let Some(entry) = state.cases.get(&case) {
                if let Some(space) = entry.holds().and_then(|(s, _)| state.spaces.get(s)) {
                    managers.push(space.organisation.to_string());
                }
                places.push(case_place(&state, &case, entry, &province, kind));
            }
        }
        Jurisdiction::of(&caller).check(&facts.whereabouts().referred_to(managers))?;
        Ok(Response::new(api::GetCasePlacesResponse { places }))
    }

    async fn list_occupancy_rpc(
        &self,
        request: Request<api::ListOccupancyRequest>,
    ) -> Result<Response<api::ListOccupancyResponse>, Status> {
        self.callers.caller(&request)?;
        let (province, kind) = requests::query_allocator(request.get_ref().allocator.as_ref())?;
        let state = self.allocator_state(&allocator_id(&province, kind)).await?;
        let spaces = state
            .spaces
            .iter()
            .map(|(id, space)| {
                let (mut reserved, mut occupied) = (Capacity::default(), Capacity::default());
                for entry in state.cases.values() {
                    let (count, held_space, unit) = match &entry.standing {
                        Standing::Reserved { space, unit, .. } => (&mut reserved, space, *unit),
                        Standing::Occupying { space, unit, .. } => (&mut occupied, space, *unit),
                        Standing::Waiting => continue,
                    };
                    if held_space == id {
                        match unit {
                            Unit::Bed => count.beds += 1,
                            Unit::FamilyRoom => count.family_rooms += 1,
                        }
                    }
                }
                api::SpaceOccupancy {
                    space_id: id.to_string(),
                    organisation_id: space.organisation.to_string(),
                    capacity: Some(codec::capacity_to_wire(space.capacity)),
                    reserved: Some(codec::capacity_to_wire(reserved)),
                    occupied: Some(codec::capacity_to_wire(occupied)),
                    free: Some(codec::capacity_to_wire(Capacity {
                        beds: state.free(id, Unit::Bed),
                        family_rooms: state.free(id, Unit::FamilyRoom),
                    })),
                    closed: space.closed,
                }
            })
            .collect();
        Ok(Response::new(api::ListOccupancyResponse { spaces }))
    }

    /// The real name and address of the space a case holds, for the space's
    /// manager, the receiver of an accepted (or in care) referral of the case,
    /// or the case's reception operator. The allocator decides and records
    /// `LocationDisclosed` (on the state it decided on, so never after a
    /// release); only then is the sealed location opened and answered.
    async fn disclose_location_rpc(
        &self,
        request: Request<api::DiscloseLocationRequest>,
    ) -> Result<Response<api::DiscloseLocationResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let query = requests::disclose_location(request.get_ref())?;
        let facts = self.case_facts(&query.case).await?;
        // Who the case entitles: the receivers of its accepted or in-care
        // referrals, and the reception operator whose facility holds it.
        let history = self
            .kernel
            .history_of(RootKind::Case, query.case.as_str(), Producer::Referral)
            .await?;
        let receivers = case_facts::accepted_receivers(&history);
        let mut readers: BTreeSet<OrganisationId> = receivers
            .iter()
            .filter_map(|r| OrganisationId::parse(r).ok())
            .collect();
        if caller.organisation_type == OrganisationType::ReceptionOperator
            && Jurisdiction::of(&caller)
                .check(&facts.whereabouts())
                .is_ok()
            && let Ok(operator) = OrganisationId::parse(&caller.organisation_id)
        {
            readers.insert(operator);
        }
        // Outside the case (not its facility, not a receiver of an accepted
        // referral, not the manager of a space it holds): refused before
        // anything says whether the space exists.
        let managers = self.managers_of_held_spaces(&query.case).await?;
        Jurisdiction::of(&caller).check(
            &facts
                .whereabouts()
                .referred_to(receivers.iter().cloned().chain(managers)),
        )?;
        let registry = self
            .kernel
            .state::<SafeSpace>(query.space.as_str(), &())
            .await?;
        let profile = registry.profile.ok_or(ServiceError::NotFound("space"))?;
        // Still sealed: a space registered without a location records no disclosure.
        let sealed = self.sealed_location(&query.space).await?;
        let command = allocator::Command::DiscloseLocation {
            case: query.case.clone(),
            space: query.space.clone(),
            purpose: query.purpose,
        };
        let actor = actor_of(&caller)?;
        let executed = self
            .run_allocator(AllocatorCommand {
                authority: &Authority::of(&caller),
                request_id: &query.request_id,
                province: profile.province.clone(),
                kind: profile.kind,
                actor: actor.clone(),
                case: Some((facts.clone(), false)),
                readers: Some((readers.clone(), receivers)),
                responsible: false,
                command: command.clone(),
            })
            .await?;
        // The answering commit must be this caller's disclosure of this case
        // and space; a request id replayed is decided again on the
        // allocator's state now (so a release ends what an old request id
        // could open), appending nothing more.
        let refused = || {
            ServiceError::PermissionDenied(
                "the caller may not learn where this space is".to_owned(),
            )
        };
        let this_disclosure = executed.commit.events.iter().any(|event| {
            matches!(WireEvent::decode(event), Ok(WireEvent::LocationDisclosed(d))
                if d.case_id == query.case.as_str()
                    && d.space_id == query.space.as_str()
                    && d.disclosed_to_organisation == caller.organisation_id)
        });
        if !this_disclosure {
            return Err(refused().into());
        }
        if executed.replayed {
            let id = allocator_id(&profile.province, profile.kind);
            let state = self.allocator_state(&id).await?;
            let context = Context {
                now: self.kernel.now(),
                actor,
                province: profile.province,
                kind: profile.kind,
                policy: self.policy,
                case: safe_space_allocation::CaseFacts {
                    location_readers: readers,
                    ..facts.domain(false)
                },
            };
            allocator::decide(&state, command, &context).map_err(|_| refused())?;
        }
        // Recorded: now, and only now, the location is opened.
        let key = self
            .space_keys
            .existing(self.kernel.log(), query.space.as_str())
            .await?
            .ok_or_else(|| {
                ServiceError::internal(format_args!(
                    "the key of space {} is missing from the space key store",
                    query.space
                ))
            })?;
        let location: api::SpaceLocation = person_keys::open(
            &key,
            &person_keys::space_key_id(query.space.as_str()),
            LOCATION,
            &sealed,
        )?;
        Ok(Response::new(api::DiscloseLocationResponse {
            space_id: query.space.to_string(),
            name: location.name,
            address: location.address,
            log_sequence: executed.sequence,
        }))
    }

    /// The managing organisations of the spaces the case holds (reserved or occupying).
    async fn managers_of_held_spaces(&self, case: &CaseId) -> Result<Vec<String>, ServiceError> {
        let mut managers = Vec::new();
        for id in projection::case_allocators(self.projection.store(), case.as_str())? {
            let state = self.allocator_state(&id).await?;
            if let Some(space) = state
                .cases
                .get(case)
                .and_then(Entry::holds)
                .and_then(|(s, _)| state.spaces.get(s))
            {
                managers.push(space.organisation.to_string());
            }
        }
        Ok(managers)
    }

    /// The sealed name and address of a space, from its registration in the log.
    async fn sealed_location(
        &self,
        space: &SpaceId,
    ) -> Result<contracts::person::v1::EncryptedMessage, ServiceError> {
        let history = self
            .kernel
            .history_of(RootKind::Facility, space.as_str(), Producer::SafeSpace)
            .await?;
        history
            .iter()
            .flat_map(|c| c.commit.events.iter())
            .find_map(|event| match WireEvent::decode(event) {
                Ok(WireEvent::SafeSpaceRegistered(e)) => e.sealed_location,
                _ => None,
            })
            .ok_or(ServiceError::NotFound("space location"))
    }

    /// The requester, or whoever answers for the case where it is now,
    /// chooses another proposed space (the domain's `settle` rules: the
    /// allocator is settled, so the free place chosen is one nobody waiting
    /// is eligible for).
    async fn reserve_rpc(
        &self,
        request: Request<api::ReserveRequest>,
    ) -> Result<Response<api::ReserveResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let (request_id, case, province, kind, space) = requests::reserve(request.get_ref())?;
        let executed = self
            .case_command(
                &caller,
                &request_id,
                province,
                kind,
                &case,
                allocator::Command::Reserve {
                    case: case.clone(),
                    space,
                },
            )
            .await?;
        let reserved = executed
            .commit
            .events
            .iter()
            .find_map(|event| match WireEvent::decode(event) {
                Ok(WireEvent::PlaceReserved(r)) if r.case_id == case.as_str() => Some(r),
                _ => None,
            })
            .ok_or_else(|| ServiceError::internal("a reservation without its event"))?;
        Ok(Response::new(api::ReserveResponse {
            space_id: reserved.space_id,
            held_until: reserved.held_until,
            reason: reserved.reason,
            log_sequence: executed.sequence,
        }))
    }

    /// Where a case waits, for the case's jurisdiction (the whole list stays
    /// the prefecture's and administrators').
    async fn get_waiting_position_rpc(
        &self,
        request: Request<api::GetWaitingPositionRequest>,
    ) -> Result<Response<api::GetWaitingPositionResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let case = requests::query_case(&request.get_ref().case_id)?;
        let facts = self.case_facts(&case).await?;
        Jurisdiction::of(&caller).check(&facts.whereabouts())?;
        let mut positions = Vec::new();
        for id in projection::case_allocators(self.projection.store(), case.as_str())? {
            let Some((province, kind)) = parse_allocator_id(&id) else {
                continue;
            };
            let state = self.allocator_state(&id).await?;
            let waiting = state.waiting_list();
            let Some(position) = state.position(&case) else {
                continue;
            };
            let entry = &state.cases[&case];
            positions.push(api::WaitingPosition {
                allocator: Some(api::AllocatorRef {
                    province: province.to_string(),
                    kind: kind.code().to_owned(),
                }),
                position: u32::try_from(position).unwrap_or(u32::MAX),
                waiting: u32::try_from(waiting.len()).unwrap_or(u32::MAX),
                urgency: entry
                    .urgency
                    .map(|u| u.code().to_owned())
                    .unwrap_or_default(),
                waiting_since: Some(case_log_jetstream::envelope::timestamp(entry.waiting_since)),
            });
        }
        Ok(Response::new(api::GetWaitingPositionResponse { positions }))
    }

    async fn get_waiting_list_rpc(
        &self,
        request: Request<api::GetWaitingListRequest>,
    ) -> Result<Response<api::GetWaitingListResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let (province, kind) = requests::query_allocator(request.get_ref().allocator.as_ref())?;
        if let Jurisdiction::Province(own) = Jurisdiction::of(&caller)
            && own != province.as_str()
        {
            return Err(ServiceError::PermissionDenied(
                "this waiting list is outside the caller's province".to_owned(),
            )
            .into());
        }
        let state = self.allocator_state(&allocator_id(&province, kind)).await?;
        let waiting = state
            .waiting_list()
            .into_iter()
            .filter_map(|case| {
                state
                    .cases
                    .get(case)
                    .map(|entry| case_place(&state, case, entry, &province, kind))
            })
            .collect();
        Ok(Response::new(api::GetWaitingListResponse { waiting }))
    }
}

/// Why the commit reserved a place for `case`, if it did.
fn reserved_reason(executed: &Executed, case: &CaseId) -> Option<String> {
    executed
        .commit
        .events
        .iter()
        .find_map(|event| match WireEvent::decode(event) {
            Ok(WireEvent::PlaceReserved(r)) if r.case_id == case.as_str() => Some(r.reason),
            _ => None,
        })
}

/// Whether the caller answers for the case where it is now: its reception
/// operator or its province's prefecture (the kernel still checks the case
/// is within the caller's jurisdiction).
fn responsible(caller: &Caller, facts: &CaseFacts) -> bool {
    matches!(
        caller.organisation_type,
        OrganisationType::ReceptionOperator | OrganisationType::Prefecture
    ) && Jurisdiction::of(caller).check(&facts.whereabouts()).is_ok()
}

/// Where one case stands in an allocator.
pub(crate) fn case_place(
    state: &allocator::State,
    case: &CaseId,
    entry: &Entry,
    province: &Province,
    kind: SpaceKind,
) -> api::CasePlace {
    let mut place = api::CasePlace {
        case_id: case.to_string(),
        allocator: Some(api::AllocatorRef {
            province: province.to_string(),
            kind: kind.code().to_owned(),
        }),
        standing: entry.standing.code().to_owned(),
        urgency: entry
            .urgency
            .map(|u| u.code().to_owned())
            .unwrap_or_default(),
        waiting_since: Some(case_log_jetstream::envelope::timestamp(entry.waiting_since)),
        ..Default::default()
    };
    match &entry.standing {
        Standing::Waiting => {
            place.position = state
                .position(case)
                .and_then(|p| u32::try_from(p).ok())
                .unwrap_or(0)
        }
        Standing::Reserved {
            space,
            unit,
            held_until,
            ..
        } => {
            place.space_id = space.to_string();
            place.unit = unit.code().to_owned();
            place.held_until = Some(case_log_jetstream::envelope::timestamp(*held_until));
        }
        Standing::Occupying { space, unit, .. } => {
            place.space_id = space.to_string();
            place.unit = unit.code().to_owned();
        }
    }
    place
}

#[tonic::async_trait]
impl api::safe_space_service_server::SafeSpaceService for SafeSpaceApi {
    async fn register_safe_space(
        &self,
        request: Request<api::RegisterSafeSpaceRequest>,
    ) -> Result<Response<api::RegisterSafeSpaceResponse>, Status> {
        self.register_safe_space_rpc(request).await
    }

    async fn change_safe_space_capacity(
        &self,
        request: Request<api::ChangeSafeSpaceCapacityRequest>,
    ) -> Result<Response<api::ChangeSafeSpaceCapacityResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let (request_id, space, capacity) = requests::change_capacity(request.get_ref())?;
        let log_sequence = self
            .space_change(
                &caller,
                &request_id,
                &space,
                allocator::Command::ChangeCapacity {
                    space: space.clone(),
                    capacity,
                },
                space::Command::ChangeCapacity(capacity),
            )
            .await?;
        Ok(Response::new(api::ChangeSafeSpaceCapacityResponse {
            log_sequence,
        }))
    }

    async fn close_safe_space(
        &self,
        request: Request<api::CloseSafeSpaceRequest>,
    ) -> Result<Response<api::CloseSafeSpaceResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let r = request.get_ref();
        let (request_id, space) = requests::space_command(&r.request_id, &r.space_id)?;
        let log_sequence = self
            .space_change(
                &caller,
                &request_id,
                &space,
                allocator::Command::CloseSpace {
                    space: space.clone(),
                },
                space::Command::Close,
            )
            .await?;
        Ok(Response::new(api::CloseSafeSpaceResponse { log_sequence }))
    }

    async fn request_place(
        &self,
        request: Request<api::RequestPlaceRequest>,
    ) -> Result<Response<api::RequestPlaceResponse>, Status> {
        self.request_place_rpc(request).await
    }

    async fn cancel_place_request(
        &self,
        request: Request<api::CancelPlaceRequestRequest>,
    ) -> Result<Response<api::CancelPlaceRequestResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let r = request.get_ref();
        let parsed = requests::case_in_allocator(&r.request_id, &r.case_id, r.allocator.as_ref())?;
        let log_sequence = self
            .simple_case_command(&caller, parsed, |case| allocator::Command::CancelRequest {
                case,
            })
            .await?;
        Ok(Response::new(api::CancelPlaceRequestResponse {
            log_sequence,
        }))
    }

    async fn confirm_arrival(
        &self,
        request: Request<api::ConfirmArrivalRequest>,
    ) -> Result<Response<api::ConfirmArrivalResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let r = request.get_ref();
        let parsed = requests::case_in_allocator(&r.request_id, &r.case_id, r.allocator.as_ref())?;
        let log_sequence = self
            .simple_case_command(&caller, parsed, |case| allocator::Command::ConfirmArrival {
                case,
            })
            .await?;
        Ok(Response::new(api::ConfirmArrivalResponse { log_sequence }))
    }

    async fn release_place(
        &self,
        request: Request<api::ReleasePlaceRequest>,
    ) -> Result<Response<api::ReleasePlaceResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let (request_id, case, province, kind, reason) =
            requests::release_place(request.get_ref())?;
        let log_sequence = self
            .simple_case_command(&caller, (request_id, case, province, kind), |case| {
                allocator::Command::Release { case, reason }
            })
            .await?;
        Ok(Response::new(api::ReleasePlaceResponse { log_sequence }))
    }

    async fn get_case_places(
        &self,
        request: Request<api::GetCasePlacesRequest>,
    ) -> Result<Response<api::GetCasePlacesResponse>, Status> {
        self.get_case_places_rpc(request).await
    }

    async fn list_occupancy(
        &self,
        request: Request<api::ListOccupancyRequest>,
    ) -> Result<Response<api::ListOccupancyResponse>, Status> {
        self.list_occupancy_rpc(request).await
    }

    async fn get_waiting_list(
        &self,
        request: Request<api::GetWaitingListRequest>,
    ) -> Result<Response<api::GetWaitingListResponse>, Status> {
        self.get_waiting_list_rpc(request).await
    }

    async fn disclose_location(
        &self,
        request: Request<api::DiscloseLocationRequest>,
    ) -> Result<Response<api::DiscloseLocationResponse>, Status> {
        self.disclose_location_rpc(request).await
    }

    async fn reserve(
        &self,
        request: Request<api::ReserveRequest>,
    ) -> Result<Response<api::ReserveResponse>, Status> {
        self.reserve_rpc(request).await
    }

    async fn get_waiting_position(
        &self,
        request: Request<api::GetWaitingPositionRequest>,
    ) -> Result<Response<api::GetWaitingPositionResponse>, Status> {
        self.get_waiting_position_rpc(request).await
    }

    type WatchAvailabilityStream = crate::watch::AvailabilityStream;

    async fn watch_availability(
        &self,
        request: Request<api::WatchAvailabilityRequest>,
    ) -> Result<Response<Self::WatchAvailabilityStream>, Status> {
        self.watch_availability_rpc(request).await
    }
}
