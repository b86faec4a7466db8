//! Safe spaces and the allocation of their places (`shared/design/domain.md`,
//! "Safe spaces"): two kinds of aggregate, pure (time, the acting
//! organisation, the allocator's province and kind, and what screening
//! recorded about a case arrive in a context).
//!
//! - [`space`]: one safe space in the registry: its kind, managing
//!   organisation, province, capacity by unit and eligibility, under an
//!   opaque public id; registered, its capacity changed, closed. No name or
//!   address in any event.
//! - [`allocator`]: one per (province, kind): the spaces' capacities, every
//!   request, reservation and occupant, and the waiting list, in one
//!   aggregate, so that "no place is ever given twice" holds by construction
//!   (reservations plus occupants of a space never exceed its capacity) and
//!   the kernel's optimistic concurrency serialises everything that competes
//!   for the same places. After every command the allocator is *settled*: no
//!   person waiting is eligible for a free place (a freed place goes to the
//!   first eligible person waiting, in the same commit).

pub mod allocator;
pub mod case_record;
pub mod model;
pub mod space;

use std::collections::BTreeSet;

use pathway::{AgeBand, Urgency};
use time::{Duration, OffsetDateTime};

pub use model::*;

/// Who is acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Organisation(OrganisationId),
    /// An administrator of the platform (registry).
    Administrator,
    /// The service itself: its deadline watcher, its reactions to the case
    /// and the referral, what it forwards from a space to its allocator.
    System,
}

/// How long a reservation holds (configuration; the brief's default: 24 h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocationPolicy {
    pub hold: Duration,
}

impl Default for AllocationPolicy {
    fn default() -> Self {
        AllocationPolicy {
            hold: Duration::hours(24),
        }
    }
}

/// What screening (and the other allocators) say about the case a command
/// is about, read by the service before deciding; never from the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFacts {
    /// The case's urgency now (`pathway::CaseUrgency::current`).
    pub urgency: Option<Urgency>,
    pub sex: Sex,
    pub age_band: AgeBand,
    pub closed: bool,
    /// The case has a request, a reservation or a place in another
    /// allocator (read from the case's own safe-space subject).
    pub held_elsewhere: bool,
    /// Who the case entitles to the location of the space it holds, besides
    /// the space's managing organisation: the receiving organisations of its
    /// accepted (or in care) referrals, and its current reception operator
    /// (read by the service from the log; empty for other commands).
    pub location_readers: BTreeSet<OrganisationId>,
    /// The actor answers for the case where it is now (its reception
    /// operator, its province's prefecture), as the service read from the
    /// case's facts and the caller's token: it may choose among the
    /// proposals (`Reserve`) as the requester may.
    pub responsible: bool,
}

impl Default for CaseFacts {
    fn default() -> Self {
        CaseFacts {
            urgency: None,
            sex: Sex::Unknown,
            age_band: AgeBand::Unknown,
            closed: false,
            held_elsewhere: false,
            location_readers: BTreeSet::new(),
            responsible: false,
        }
    }
}

/// What an allocator's `decide` needs to know about the world.
#[derive(Debug, Clone)]
pub struct Context {
    pub now: OffsetDateTime,
    pub actor: Actor,
    /// Which allocator this is (its subject names it).
    pub province: Province,
    pub kind: SpaceKind,
    pub policy: AllocationPolicy,
    /// The facts of the case the command is about (default for commands about a space).
    pub case: CaseFacts,
}
