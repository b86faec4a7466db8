//! One safe space in the registry (`approdo.facility.<space_id>.safe-space`):
//! registered with its profile under an opaque public id, its capacity
//! changed, closed. The allocator of its province and kind is the authority
//! on places: the service decides a capacity change or a closure on the
//! allocator first, then records it here (`ARCHITECTURE`: NOTES-SPACE.md).

use time::OffsetDateTime;

use crate::allocator;
use crate::{Actor, Capacity, OrganisationId, SpaceId, SpaceProfile, check_capacity};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Register(SpaceProfile),
    ChangeCapacity(Capacity),
    Close,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    SpaceRegistered {
        profile: SpaceProfile,
        at: OffsetDateTime,
    },
    CapacityChanged {
        capacity: Capacity,
        at: OffsetDateTime,
    },
    SpaceClosed {
        at: OffsetDateTime,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub profile: Option<SpaceProfile>,
    pub closed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpaceError {
    #[error("invalid {field}: {reason}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
    #[error("space not found")]
    SpaceNotFound,
    #[error("space already registered")]
    AlreadyRegistered,
    #[error("space closed")]
    SpaceClosed,
    #[error("the capacity is unchanged")]
    CapacityUnchanged,
    #[error("only the managing organisation or an administrator may do this")]
    NotTheManagingOrganisation,
}

/// When and by whom.
#[derive(Debug, Clone)]
pub struct Context {
    pub now: OffsetDateTime,
    pub actor: Actor,
}

impl State {
    pub fn evolve(mut self, event: &Event) -> State {
        match event {
            Event::SpaceRegistered { profile, .. } => self.profile = Some(profile.clone()),
            Event::CapacityChanged { capacity, .. } => {
                if let Some(profile) = &mut self.profile {
                    profile.capacity = *capacity;
                }
            }
            Event::SpaceClosed { .. } => self.closed = true,
        }
        self
    }

    /// What the service forwards to the space's allocator once it is
    /// registered (request id `space-added.<space_id>`).
    pub fn allocator_command(&self, space: &SpaceId) -> Option<allocator::Command> {
        self.profile
            .as_ref()
            .map(|profile| allocator::Command::AddSpace {
                space: space.clone(),
                profile: profile.clone(),
            })
    }
}

pub fn decide(
    state: &State,
    command: Command,
    context: &Context,
) -> Result<Vec<Event>, SpaceError> {
    let at = context.now;
    match command {
        Command::Register(profile) => {
            if state.profile.is_some() {
                return Err(SpaceError::AlreadyRegistered);
            }
            may_manage(&context.actor, &profile.organisation)?;
            profile
                .check()
                .map_err(|(field, reason)| SpaceError::Invalid { field, reason })?;
            Ok(vec![Event::SpaceRegistered { profile, at }])
        }
        Command::ChangeCapacity(capacity) => {
            let profile = open(state, context)?;
            if capacity == profile.capacity {
                return Err(SpaceError::CapacityUnchanged);
            }
            check_capacity(profile.kind, capacity, &profile.eligibility)
                .map_err(|(field, reason)| SpaceError::Invalid { field, reason })?;
            Ok(vec![Event::CapacityChanged { capacity, at }])
        }
        Command::Close => {
            open(state, context)?;
            Ok(vec![Event::SpaceClosed { at }])
        }
    }
}

/// The profile of a registered, open space the actor may manage.
fn open<'a>(state: &'a State, context: &Context) -> Result<&'a SpaceProfile, SpaceError> {
    let profile = state.profile.as_ref().ok_or(SpaceError::SpaceNotFound)?;
    may_manage(&context.actor, &profile.organisation)?;
    if state.closed {
        return Err(SpaceError::SpaceClosed);
    }
    Ok(profile)
}

/// The managing organisation, an administrator, or the service itself.
fn may_manage(actor: &Actor, organisation: &OrganisationId) -> Result<(), SpaceError> {
    match actor {
        Actor::Organisation(org) if org != organisation => {
            Err(SpaceError::NotTheManagingOrganisation)
        }
        _ => Ok(()),
    }
}
