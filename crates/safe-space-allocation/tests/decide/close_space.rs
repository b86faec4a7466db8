//! `CloseSpace`: no new reservations there; reservations not taken up wait
//! again (from when they first asked) or get another space; occupants stay.

use super::support::*;

fn close() -> Command {
    Command::CloseSpace {
        space: space("space-a"),
    }
}

#[test]
fn reservations_look_elsewhere_and_occupants_stay() {
    let state = given()
        .space("space-a", shelter(2, 0))
        .request("case-1", single(), Urgency::Standard, T0)
        .request("case-2", single(), Urgency::Standard, T0)
        .arrive("case-2", T0)
        .space("space-b", shelter(1, 0))
        .request(
            "case-3",
            single(),
            Urgency::Immediate,
            T0 + Duration::hours(1),
        );
    // case-3 took space-b's bed; case-1 holds space-a's reservation.
    assert_eq!(
        when(&state, close(), &by(MANAGER, NOW)),
        Ok(vec![
            Event::SpaceClosed {
                space: space("space-a")
            },
            Event::ReturnedToWaitingList {
                case: case("case-1"),
                space: space("space-a"),
            },
        ])
    );
    let closed = state.run(close(), &by(MANAGER, NOW));
    assert_eq!(closed.waiting(), ["case-1"]);
    assert!(matches!(
        closed.standing("case-2"),
        Some(Standing::Occupying { .. })
    ));
    assert_eq!(closed.state.free(&space("space-a"), Unit::Bed), 0);
    assert_eq!(
        when(&closed, close(), &by(MANAGER, NOW)),
        Err(AllocationError::SpaceClosed)
    );
    // The place case-3 leaves goes to case-1, who waited since T0.
    assert_eq!(
        when(
            &closed,
            Command::CancelRequest {
                case: case("case-3")
            },
            &by(REQUESTER, NOW)
        ),
        Ok(vec![
            Event::RequestCancelled {
                case: case("case-3"),
                at: NOW
            },
            reserved(
                "case-1",
                "space-b",
                Unit::Bed,
                ReservationReason::RequestCancelled
            ),
        ])
    );
}

#[test]
fn a_returned_reservation_gets_another_free_space_at_once() {
    let state = given()
        .space("space-a", shelter(1, 0))
        .request("case-1", single(), Urgency::Standard, T0)
        .space("space-b", shelter(1, 0));
    let outcome = when(&state, close(), &by(MANAGER, NOW));
    assert_eq!(
        outcome,
        Ok(vec![
            Event::SpaceClosed {
                space: space("space-a")
            },
            Event::ReturnedToWaitingList {
                case: case("case-1"),
                space: space("space-a"),
            },
            reserved(
                "case-1",
                "space-b",
                Unit::Bed,
                ReservationReason::SpaceClosed
            ),
        ])
    );
}
