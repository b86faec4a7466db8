//! The case's own record (`case_record`): each allocator commit mirrored
//! once, with every change it made to the case; where the case stands in
//! each allocator, so that a request elsewhere sees it held; a commit
//! mirrored late never undoes a later one.

use safe_space_allocation::case_record::{
    self, AllocatorCommit, Change, Command as Record, Holding, RecordError, State as RecordState,
};
use safe_space_allocation::{ReleaseReason, SpaceKind};

use super::support::*;

fn commit(kind: SpaceKind, sequence: u64) -> AllocatorCommit {
    AllocatorCommit {
        province: rm(),
        kind,
        sequence,
    }
}

fn requested() -> Change {
    Change::Requested {
        requested_by: org(REQUESTER),
        referral: None,
    }
}

fn reserved_in(space_id: &str) -> Change {
    Change::Reserved {
        space: space(space_id),
        unit: Unit::Bed,
        reason: ReservationReason::PlaceFree,
        held_until: HELD_UNTIL,
    }
}

fn arrived_in(space_id: &str) -> Change {
    Change::ArrivalConfirmed {
        space: space(space_id),
        unit: Unit::Bed,
    }
}

fn mirror(state: RecordState, at: AllocatorCommit, changes: Vec<Change>) -> RecordState {
    let events = case_record::decide(
        &state,
        Record::Mirror {
            commit: at,
            changes: changes.into_iter().map(|c| (c, NOW)).collect(),
        },
    )
    .expect("mirrored");
    events.iter().fold(state, RecordState::evolve)
}

#[test]
fn each_allocator_commit_is_mirrored_once_with_every_change_it_made() {
    let gbv = SpaceKind::GbvShelter;
    let events = case_record::decide(
        &RecordState::default(),
        Record::Mirror {
            commit: commit(gbv, 10),
            changes: vec![(requested(), T0), (reserved_in("space-a"), T0)],
        },
    )
    .expect("mirrored");
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.mirrors == commit(gbv, 10)));
    let state = events
        .iter()
        .fold(RecordState::default(), RecordState::evolve);
    assert_eq!(
        state.standing.get(&(rm(), gbv)),
        Some(&(
            10,
            Holding::Reserved {
                space: space("space-a")
            }
        ))
    );
    assert_eq!(
        case_record::decide(
            &state,
            Record::Mirror {
                commit: commit(gbv, 10),
                changes: vec![(requested(), T0)],
            }
        ),
        Err(RecordError::AlreadyMirrored)
    );
    assert_eq!(
        case_record::decide(
            &state,
            Record::Mirror {
                commit: commit(gbv, 11),
                changes: Vec::new(),
            }
        ),
        Err(RecordError::NothingToMirror)
    );
}

#[test]
fn a_case_waiting_or_holding_in_one_allocator_is_held_elsewhere_for_the_others_until_released() {
    let (gbv, trafficking) = (SpaceKind::GbvShelter, SpaceKind::TraffickingShelter);
    let state = mirror(RecordState::default(), commit(gbv, 3), vec![requested()]);
    assert!(state.held_elsewhere(&rm(), trafficking));
    assert!(!state.held_elsewhere(&rm(), gbv));
    let state = mirror(state, commit(gbv, 7), vec![arrived_in("space-a")]);
    assert!(state.held_elsewhere(&rm(), trafficking));
    let state = mirror(
        state,
        commit(gbv, 9),
        vec![Change::Released {
            reason: ReleaseReason::Transfer,
        }],
    );
    assert!(!state.held_elsewhere(&rm(), trafficking));
    assert!(state.standing.is_empty());
}

/// Whatever order the commits of one allocator are mirrored in (the API
/// path and the watcher's repair racing), the standing is the last commit's.
#[test]
fn commits_mirrored_in_any_order_leave_the_standing_of_the_last_one() {
    let gbv = SpaceKind::GbvShelter;
    let commits = [
        (2, requested()),
        (4, reserved_in("space-a")),
        (6, arrived_in("space-a")),
        (
            8,
            Change::Released {
                reason: ReleaseReason::Discharge,
            },
        ),
    ];
    let mut orders = vec![vec![0usize, 1, 2, 3]];
    // Every permutation of four commits.
    for _ in 0..23 {
        let mut next = orders.last().cloned().expect("one order");
        let i = (0..3).rev().find(|&i| next[i] < next[i + 1]).expect("more");
        let j = (i + 1..4).rev().find(|&j| next[j] > next[i]).expect("more");
        next.swap(i, j);
        next[i + 1..].reverse();
        orders.push(next);
    }
    for order in &orders {
        for upto in 1..=4 {
            let mirrored: Vec<usize> = order.iter().copied().take(upto).collect();
            let state = mirrored.iter().fold(RecordState::default(), |state, &i| {
                mirror(state, commit(gbv, commits[i].0), vec![commits[i].1.clone()])
            });
            let latest = mirrored.iter().copied().max().expect("one");
            let expected = match latest {
                3 => None,
                0 => Some(Holding::Waiting),
                1 => Some(Holding::Reserved {
                    space: space("space-a"),
                }),
                _ => Some(Holding::Occupying {
                    space: space("space-a"),
                    since_sequence: 6,
                }),
            };
            assert_eq!(
                state.standing.get(&(rm(), gbv)).map(|(_, h)| h.clone()),
                expected,
                "mirrored in the order {mirrored:?}"
            );
        }
    }
}

#[test]
fn a_release_that_gives_the_place_to_the_next_person_changes_both_records() {
    let events = vec![
        Event::PlaceReleased {
            case: case("case-1"),
            reason: ReleaseReason::Transfer,
            at: NOW,
        },
        reserved(
            "case-2",
            "space-a",
            Unit::Bed,
            ReservationReason::PlaceReleased,
        ),
        Event::LocationDisclosed {
            case: case("case-3"),
            space: space("space-a"),
            to: org(MANAGER),
            purpose: safe_space_allocation::DisclosurePurpose::Arrival,
            at: NOW,
        },
    ];
    assert_eq!(
        case_record::cases_concerned(&events),
        [case("case-1"), case("case-2")].into_iter().collect(),
        "a disclosure changes no one's standing"
    );
    assert_eq!(
        case_record::changes_for(&case("case-2"), &events, NOW),
        vec![(
            Change::Reserved {
                space: space("space-a"),
                unit: Unit::Bed,
                reason: ReservationReason::PlaceReleased,
                held_until: HELD_UNTIL,
            },
            NOW
        )]
    );
}
