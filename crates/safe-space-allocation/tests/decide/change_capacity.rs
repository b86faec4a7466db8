//! `ChangeCapacity`: decided on the allocator first, never below what is
//! reserved and occupied; new places serve the waiting list.

use super::support::*;

fn change(beds: u32, family_rooms: u32) -> Command {
    Command::ChangeCapacity {
        space: space("space-a"),
        capacity: Capacity { beds, family_rooms },
    }
}

#[test]
fn never_below_the_places_reserved_and_occupied() {
    let full = given()
        .space("space-a", shelter(2, 1))
        .request("case-1", single(), Urgency::High, T0)
        .request("case-2", single(), Urgency::High, T0)
        .arrive("case-2", T0)
        .request("case-3", with_children(1), Urgency::High, T0);
    assert_eq!(
        when(&full, change(1, 1), &by(MANAGER, NOW)),
        Err(AllocationError::CapacityBelowHeld)
    );
    assert_eq!(
        when(&full, change(2, 0), &by(MANAGER, NOW)),
        Err(AllocationError::CapacityBelowHeld)
    );
    assert_eq!(
        when(&full, change(2, 1), &by(MANAGER, NOW)),
        Err(AllocationError::CapacityUnchanged)
    );
    assert_eq!(
        when(&full, change(3, 1), &by(OTHER_MANAGER, NOW)),
        Err(AllocationError::NotTheManagingOrganisation)
    );
    assert_eq!(
        when(
            &full,
            Command::ChangeCapacity {
                space: space("space-z"),
                capacity: Capacity::default()
            },
            &by(MANAGER, NOW)
        ),
        Err(AllocationError::SpaceNotFound)
    );
    // Emptier, it may shrink.
    let emptier = full.run(
        Command::CancelRequest {
            case: case("case-1"),
        },
        &by(REQUESTER, NOW),
    );
    assert_eq!(
        when(&emptier, change(1, 1), &by(MANAGER, NOW)),
        Ok(vec![Event::SpaceCapacityChanged {
            space: space("space-a"),
            capacity: Capacity {
                beds: 1,
                family_rooms: 1
            },
        }])
    );
}

#[test]
fn new_places_go_to_the_first_eligible_people_waiting() {
    let waiting = given()
        .space("space-a", shelter(1, 0))
        .request("case-1", single(), Urgency::Standard, T0)
        .request(
            "case-2",
            single(),
            Urgency::Standard,
            T0 + Duration::minutes(1),
        )
        .request(
            "case-3",
            single(),
            Urgency::Immediate,
            T0 + Duration::minutes(2),
        );
    assert_eq!(waiting.waiting(), ["case-3", "case-2"]);
    assert_eq!(
        when(&waiting, change(2, 0), &system(NOW)),
        Ok(vec![
            Event::SpaceCapacityChanged {
                space: space("space-a"),
                capacity: Capacity {
                    beds: 2,
                    family_rooms: 0
                },
            },
            reserved(
                "case-3",
                "space-a",
                Unit::Bed,
                ReservationReason::CapacityAdded
            ),
        ])
    );
}

#[test]
fn a_single_women_only_room_never_gets_a_family_room() {
    let mut room = shelter(1, 0);
    room.kind = SpaceKind::WomenOnlyRoom;
    room.eligibility.families_with_children = false;
    let rooms = Context {
        kind: SpaceKind::WomenOnlyRoom,
        ..system(T0)
    };
    let state = given().run(
        Command::AddSpace {
            space: space("space-a"),
            profile: room,
        },
        &rooms,
    );
    assert_invalid(when(&state, change(1, 1), &rooms), "capacity.family_rooms");
}
