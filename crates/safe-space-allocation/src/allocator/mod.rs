//! The allocator of one province and kind
//! (`approdo.province.<province>.safe-space.<kind>`): the spaces' capacities
//! (forwarded from the registry, which follows the allocator's decision), and
//! every person's request, reservation or place, one entry per case. Places
//! held are counted from the entries, so a place cannot be given twice: a
//! reservation is decided only on a free unit, and the kernel appends it only
//! on the state it was decided on.

mod decide;
mod due;
mod matching;

use std::collections::{BTreeMap, BTreeSet};

use pathway::{AgeBand, Urgency};
use time::OffsetDateTime;

use crate::{
    Capacity, CaseId, DisclosurePurpose, Eligibility, Needs, OrganisationId, ReferralId,
    ReleaseReason, ReservationReason, Sex, SpaceId, SpaceProfile, Unit,
};

pub use decide::{AllocationError, decide};
pub use due::{Due, due, due_commands};
pub use matching::{Proposal, eligible, proposals};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A registered space joins its allocator (forwarded by the service).
    AddSpace {
        space: SpaceId,
        profile: SpaceProfile,
    },
    /// Decided here first: never below what is reserved and occupied.
    ChangeCapacity { space: SpaceId, capacity: Capacity },
    /// No new reservations; reservations not yet taken up look for another
    /// space or wait again; occupants stay until released.
    CloseSpace { space: SpaceId },
    /// A place for a case (urgency, sex and age band from the context's case facts).
    RequestPlace {
        case: CaseId,
        needs: Needs,
        referral: Option<ReferralId>,
    },
    /// The requester withdraws a request waiting or reserved.
    CancelRequest { case: CaseId },
    /// The requester chooses another of the proposed spaces for a case.
    Reserve { case: CaseId, space: SpaceId },
    /// The space's managing organisation confirms the person arrived.
    ConfirmArrival { case: CaseId },
    /// The request, reservation or place ends.
    Release { case: CaseId, reason: ReleaseReason },
    /// The watcher: a hold passed its deadline.
    ExpireHold { case: CaseId },
    /// An organisation asks where the space the case holds is: recorded
    /// (`LocationDisclosed`) before the service answers.
    DiscloseLocation {
        case: CaseId,
        space: SpaceId,
        purpose: DisclosurePurpose,
    },
    /// The watcher: the case's urgency (read by the service from the case's
    /// facts, never from a caller) differs from the one its waiting entry is
    /// ordered by.
    RefreshUrgency {
        case: CaseId,
        urgency: Option<Urgency>,
    },
    /// The watcher: the key sealing the case's places to avoid was destroyed
    /// (the case was erased); recorded so that it is done once.
    ForgetAvoid { case: CaseId },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    SpaceAdded {
        space: SpaceId,
        organisation: OrganisationId,
        capacity: Capacity,
        eligibility: Eligibility,
    },
    SpaceCapacityChanged {
        space: SpaceId,
        capacity: Capacity,
    },
    SpaceClosed {
        space: SpaceId,
    },
    PlaceRequested {
        case: CaseId,
        requested_by: OrganisationId,
        referral: Option<ReferralId>,
        needs: Needs,
        urgency: Option<Urgency>,
        sex: Sex,
        age_band: AgeBand,
        requested_at: OffsetDateTime,
    },
    PlaceReserved {
        case: CaseId,
        space: SpaceId,
        unit: Unit,
        reserved_at: OffsetDateTime,
        held_until: OffsetDateTime,
        reason: ReservationReason,
    },
    /// A reservation in a closing space ended; the person waits again, from
    /// when they first asked.
    ReturnedToWaitingList {
        case: CaseId,
        space: SpaceId,
    },
    ArrivalConfirmed {
        case: CaseId,
        space: SpaceId,
        unit: Unit,
        at: OffsetDateTime,
    },
    RequestCancelled {
        case: CaseId,
        at: OffsetDateTime,
    },
    PlaceReleased {
        case: CaseId,
        reason: ReleaseReason,
        at: OffsetDateTime,
    },
    HoldExpired {
        case: CaseId,
        space: SpaceId,
        at: OffsetDateTime,
    },
    /// The location of the space the case holds was disclosed to `to`.
    LocationDisclosed {
        case: CaseId,
        space: SpaceId,
        to: OrganisationId,
        purpose: DisclosurePurpose,
        at: OffsetDateTime,
    },
    /// A waiting person's urgency changed on their case: the waiting list follows.
    UrgencyRefreshed {
        case: CaseId,
        urgency: Option<Urgency>,
        at: OffsetDateTime,
    },
    /// The key of the case's places to avoid is destroyed: the list can
    /// never be read again (an entry still open avoids every space).
    AvoidListDestroyed {
        case: CaseId,
        at: OffsetDateTime,
    },
}

/// A space as its allocator knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Space {
    pub organisation: OrganisationId,
    pub capacity: Capacity,
    pub eligibility: Eligibility,
    pub closed: bool,
}

/// Where a person's request stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    Waiting,
    Reserved {
        space: SpaceId,
        unit: Unit,
        reserved_at: OffsetDateTime,
        held_until: OffsetDateTime,
    },
    Occupying {
        space: SpaceId,
        unit: Unit,
        since: OffsetDateTime,
    },
}

/// One person's request, from its asking to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub requested_by: OrganisationId,
    pub referral: Option<ReferralId>,
    pub needs: Needs,
    pub urgency: Option<Urgency>,
    pub sex: Sex,
    pub age_band: AgeBand,
    /// When the person first asked: the waiting list's second key.
    pub waiting_since: OffsetDateTime,
    pub standing: Standing,
    /// How many times the urgency was refreshed (names each refresh once).
    pub urgency_refreshes: u32,
}

impl Entry {
    /// The place this entry holds (reserved or occupied).
    pub fn holds(&self) -> Option<(&SpaceId, Unit)> {
        match &self.standing {
            Standing::Waiting => None,
            Standing::Reserved { space, unit, .. } | Standing::Occupying { space, unit, .. } => {
                Some((space, *unit))
            }
        }
    }

    /// The waiting list's order: urgency (immediate, high, standard, none),
    /// then time waited (longest first), then case id.
    pub fn queue_key<'a>(&self, case: &'a CaseId) -> (u8, OffsetDateTime, &'a CaseId) {
        let rank = match self.urgency {
            Some(Urgency::Immediate) => 0,
            Some(Urgency::High) => 1,
            Some(Urgency::Standard) => 2,
            None => 3,
        };
        (rank, self.waiting_since, case)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub spaces: BTreeMap<SpaceId, Space>,
    /// One entry per case with a request open here.
    pub cases: BTreeMap<CaseId, Entry>,
    /// Cases whose request here carried places to avoid (sealed in the log)
    /// and whose key is not yet recorded destroyed, open or not.
    pub avoid_kept: BTreeSet<CaseId>,
}

impl State {
    pub fn evolve(mut self, event: &Event) -> State {
        match event {
            Event::SpaceAdded {
                space,
                organisation,
                capacity,
                eligibility,
            } => {
                self.spaces.insert(
                    space.clone(),
                    Space {
                        organisation: organisation.clone(),
                        capacity: *capacity,
                        eligibility: eligibility.clone(),
                        closed: false,
                    },
                );
            }
            Event::SpaceCapacityChanged { space, capacity } => {
                if let Some(space) = self.spaces.get_mut(space) {
                    space.capacity = *capacity;
                }
            }
            Event::SpaceClosed { space } => {
                if let Some(space) = self.spaces.get_mut(space) {
                    space.closed = true;
                }
            }
            Event::PlaceRequested {
                case,
                requested_by,
                referral,
                needs,
                urgency,
                sex,
                age_band,
                requested_at,
            } => {
                if !needs.avoid.is_empty() {
                    self.avoid_kept.insert(case.clone());
                }
                self.cases.insert(
                    case.clone(),
                    Entry {
                        requested_by: requested_by.clone(),
                        referral: referral.clone(),
                        needs: needs.clone(),
                        urgency: *urgency,
                        sex: *sex,
                        age_band: *age_band,
                        waiting_since: *requested_at,
                        standing: Standing::Waiting,
                        urgency_refreshes: 0,
                    },
                );
            }
            Event::PlaceReserved {
                case,
                space,
                unit,
                reserved_at,
                held_until,
                ..
            } => {
                if let Some(entry) = self.cases.get_mut(case) {
                    entry.standing = Standing::Reserved {
                        space: space.clone(),
                        unit: *unit,
                        reserved_at: *reserved_at,
                        held_until: *held_until,
                    };
                }
            }
            Event::ReturnedToWaitingList { case, .. } => {
                if let Some(entry) = self.cases.get_mut(case) {
                    entry.standing = Standing::Waiting;
                }
            }
            Event::ArrivalConfirmed {
                case,
                space,
                unit,
                at,
            } => {
                if let Some(entry) = self.cases.get_mut(case) {
                    entry.standing = Standing::Occupying {
                        space: space.clone(),
                        unit: *unit,
                        since: *at,
                    };
                }
            }
            Event::RequestCancelled { case, .. }
            | Event::PlaceReleased { case, .. }
            | Event::HoldExpired { case, .. } => {
                self.cases.remove(case);
            }
            // A record of who learnt where a space is: it changes no place.
            Event::LocationDisclosed { .. } => {}
            Event::UrgencyRefreshed { case, urgency, .. } => {
                if let Some(entry) = self.cases.get_mut(case) {
                    entry.urgency = *urgency;
                    entry.urgency_refreshes += 1;
                }
            }
            Event::AvoidListDestroyed { case, .. } => {
                self.avoid_kept.remove(case);
                if let Some(entry) = self.cases.get_mut(case) {
                    entry.needs.avoid = [crate::Avoid::Unreadable].into_iter().collect();
                }
            }
        }
        self
    }

    /// Units reserved or occupied in `space`.
    pub fn held(&self, space: &SpaceId) -> Capacity {
        let mut held = Capacity::default();
        for (held_space, unit) in self.cases.values().filter_map(Entry::holds) {
            if held_space == space {
                match unit {
                    Unit::Bed => held.beds += 1,
                    Unit::FamilyRoom => held.family_rooms += 1,
                }
            }
        }
        held
    }

    /// Units of `unit` free in `space` (none in a closed or unknown space).
    pub fn free(&self, space: &SpaceId, unit: Unit) -> u32 {
        match self.spaces.get(space) {
            Some(s) if !s.closed => s
                .capacity
                .of(unit)
                .saturating_sub(self.held(space).of(unit)),
            _ => 0,
        }
    }

    /// The cases waiting, first served first.
    pub fn waiting_list(&self) -> Vec<&CaseId> {
        let mut waiting: Vec<(&CaseId, &Entry)> = self
            .cases
            .iter()
            .filter(|(_, entry)| entry.standing == Standing::Waiting)
            .collect();
        waiting.sort_by(|(a, ea), (b, eb)| ea.queue_key(a).cmp(&eb.queue_key(b)));
        waiting.into_iter().map(|(case, _)| case).collect()
    }

    /// A waiting case's position on the list, from 1.
    pub fn position(&self, case: &CaseId) -> Option<usize> {
        self.waiting_list()
            .iter()
            .position(|waiting| *waiting == case)
            .map(|index| index + 1)
    }
}
