//! The case's own safe-space record (`approdo.case.<case_id>.safe-space`):
//! what the allocators decided about one case, mirrored from each allocator
//! commit that concerns it, once (each event names the allocator commit it
//! mirrors). Its state says where the case stands in each allocator, so a
//! request in one allocator can see that the case holds or awaits a place in
//! another (`held_elsewhere`), and other services can react to an arrival.

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use crate::allocator::Event as AllocatorEvent;
use crate::{CaseId, OrganisationId, Province, ReferralId, ReleaseReason, ReservationReason};
use crate::{SpaceId, SpaceKind, Unit};

/// One allocator commit: the allocator (its province and kind) and the commit's log sequence.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AllocatorCommit {
    pub province: Province,
    pub kind: SpaceKind,
    pub sequence: u64,
}

impl AllocatorCommit {
    fn allocator(&self) -> (Province, SpaceKind) {
        (self.province.clone(), self.kind)
    }
}

/// What an allocator decided about the case, as the case's record keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Requested {
        requested_by: OrganisationId,
        referral: Option<ReferralId>,
    },
    Reserved {
        space: SpaceId,
        unit: Unit,
        reason: ReservationReason,
        held_until: OffsetDateTime,
    },
    ReturnedToWaitingList {
        space: SpaceId,
    },
    ArrivalConfirmed {
        space: SpaceId,
        unit: Unit,
    },
    RequestCancelled,
    Released {
        reason: ReleaseReason,
    },
    HoldExpired {
        space: SpaceId,
    },
}

/// The changes an allocator commit's events make to `case`, in order
/// (disclosures and the spaces' own events change no standing), each with
/// when it was decided (`committed_at` for an event that carries no time).
pub fn changes_for(
    case: &CaseId,
    events: &[AllocatorEvent],
    committed_at: OffsetDateTime,
) -> Vec<(Change, OffsetDateTime)> {
    events
        .iter()
        .filter_map(|event| match event {
            AllocatorEvent::PlaceRequested {
                case: c,
                requested_by,
                referral,
                requested_at,
                ..
            } if c == case => Some((
                Change::Requested {
                    requested_by: requested_by.clone(),
                    referral: referral.clone(),
                },
                *requested_at,
            )),
            AllocatorEvent::PlaceReserved {
                case: c,
                space,
                unit,
                reserved_at,
                held_until,
                reason,
            } if c == case => Some((
                Change::Reserved {
                    space: space.clone(),
                    unit: *unit,
                    reason: *reason,
                    held_until: *held_until,
                },
                *reserved_at,
            )),
            AllocatorEvent::ReturnedToWaitingList { case: c, space } if c == case => Some((
                Change::ReturnedToWaitingList {
                    space: space.clone(),
                },
                committed_at,
            )),
            AllocatorEvent::ArrivalConfirmed {
                case: c,
                space,
                unit,
                at,
            } if c == case => Some((
                Change::ArrivalConfirmed {
                    space: space.clone(),
                    unit: *unit,
                },
                *at,
            )),
            AllocatorEvent::RequestCancelled { case: c, at } if c == case => {
                Some((Change::RequestCancelled, *at))
            }
            AllocatorEvent::PlaceReleased {
                case: c,
                reason,
                at,
            } if c == case => Some((Change::Released { reason: *reason }, *at)),
            AllocatorEvent::HoldExpired { case: c, space, at } if c == case => Some((
                Change::HoldExpired {
                    space: space.clone(),
                },
                *at,
            )),
            _ => None,
        })
        .collect()
}

/// The cases an allocator commit's events concern (their standing changed).
pub fn cases_concerned(events: &[AllocatorEvent]) -> BTreeSet<CaseId> {
    events
        .iter()
        .filter_map(|event| match event {
            AllocatorEvent::PlaceRequested { case, .. }
            | AllocatorEvent::PlaceReserved { case, .. }
            | AllocatorEvent::ReturnedToWaitingList { case, .. }
            | AllocatorEvent::ArrivalConfirmed { case, .. }
            | AllocatorEvent::RequestCancelled { case, .. }
            | AllocatorEvent::PlaceReleased { case, .. }
            | AllocatorEvent::HoldExpired { case, .. } => Some(case.clone()),
            _ => None,
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Mirror what one allocator commit decided about the case.
    Mirror {
        commit: AllocatorCommit,
        changes: Vec<(Change, OffsetDateTime)>,
    },
}

/// One change, with the allocator commit it mirrors and when the allocator decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub mirrors: AllocatorCommit,
    pub change: Change,
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("this allocator commit is already in the case's record")]
    AlreadyMirrored,
    #[error("this allocator commit changes nothing for the case")]
    NothingToMirror,
}

/// Where the case stands in one allocator, by the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holding {
    Waiting,
    Reserved { space: SpaceId },
    Occupying { space: SpaceId, since_sequence: u64 },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// The allocator commits mirrored, by allocator.
    pub mirrored: BTreeMap<(Province, SpaceKind), BTreeSet<u64>>,
    /// Where the case stands in each allocator it has a request open in,
    /// with the sequence of the commit that put it there (a commit mirrored
    /// late never undoes a later one).
    pub standing: BTreeMap<(Province, SpaceKind), (u64, Holding)>,
    /// The last allocator sequence seen per allocator (ended requests included).
    pub last: BTreeMap<(Province, SpaceKind), u64>,
}

impl State {
    pub fn evolve(mut self, event: &Event) -> State {
        let allocator = event.mirrors.allocator();
        let sequence = event.mirrors.sequence;
        self.mirrored
            .entry(allocator.clone())
            .or_default()
            .insert(sequence);
        let last = self.last.entry(allocator.clone()).or_default();
        if sequence < *last {
            return self;
        }
        *last = sequence;
        let holding = match &event.change {
            Change::Requested { .. } | Change::ReturnedToWaitingList { .. } => {
                Some(Holding::Waiting)
            }
            Change::Reserved { space, .. } => Some(Holding::Reserved {
                space: space.clone(),
            }),
            Change::ArrivalConfirmed { space, .. } => Some(Holding::Occupying {
                space: space.clone(),
                since_sequence: sequence,
            }),
            Change::RequestCancelled | Change::Released { .. } | Change::HoldExpired { .. } => None,
        };
        match holding {
            Some(holding) => {
                self.standing.insert(allocator, (sequence, holding));
            }
            None => {
                self.standing.remove(&allocator);
            }
        }
        self
    }

    /// Whether the case waits for, holds or occupies a place in an allocator other than this one.
    pub fn held_elsewhere(&self, province: &Province, kind: SpaceKind) -> bool {
        self.standing
            .keys()
            .any(|(p, k)| !(p == province && *k == kind))
    }

    /// Whether this allocator commit is in the record.
    pub fn has_mirrored(&self, commit: &AllocatorCommit) -> bool {
        self.mirrored
            .get(&commit.allocator())
            .is_some_and(|seen| seen.contains(&commit.sequence))
    }
}

/// Each allocator commit is mirrored once, with every change it made to the case.
pub fn decide(state: &State, command: Command) -> Result<Vec<Event>, RecordError> {
    match command {
        Command::Mirror { commit, changes } => {
            if state.has_mirrored(&commit) {
                return Err(RecordError::AlreadyMirrored);
            }
            if changes.is_empty() {
                return Err(RecordError::NothingToMirror);
            }
            Ok(changes
                .into_iter()
                .map(|(change, at)| Event {
                    mirrors: commit.clone(),
                    change,
                    at,
                })
                .collect())
        }
    }
}
