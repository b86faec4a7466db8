//! `CancelRequest`: the requester withdraws a request waiting or reserved;
//! a reserved place goes to the first eligible person waiting.

use super::support::*;

fn cancel(case_id: &str) -> Command {
    Command::CancelRequest {
        case: case(case_id),
    }
}

#[test]
fn a_cancelled_reservation_goes_to_the_first_eligible_person_waiting() {
    let state = given()
        .space("space-a", shelter(1, 0))
        .request("case-1", single(), Urgency::High, T0)
        // Not eligible for a bed: a family.
        .request("case-2", with_children(1), Urgency::Immediate, T0)
        .request("case-3", single(), Urgency::Standard, T0)
        .request("case-4", single(), Urgency::High, T0 + Duration::hours(1));
    assert_eq!(state.waiting(), ["case-2", "case-4", "case-3"]);
    assert_eq!(
        when(&state, cancel("case-1"), &by(REQUESTER, NOW)),
        Ok(vec![
            Event::RequestCancelled {
                case: case("case-1"),
                at: NOW
            },
            reserved(
                "case-4",
                "space-a",
                Unit::Bed,
                ReservationReason::RequestCancelled
            ),
        ])
    );
    // A waiting request frees nothing.
    assert_eq!(
        when(&state, cancel("case-3"), &by(REQUESTER, NOW)),
        Ok(vec![Event::RequestCancelled {
            case: case("case-3"),
            at: NOW
        }])
    );
}

#[test]
fn only_the_requester_and_never_a_place_taken_up() {
    let state = given()
        .space("space-a", shelter(1, 0))
        .request("case-1", single(), Urgency::High, T0)
        .arrive("case-1", T0);
    assert_eq!(
        when(&state, cancel("case-1"), &by(REQUESTER, NOW)),
        Err(AllocationError::NotAllowedWhile("occupying"))
    );
    assert_eq!(
        when(&state, cancel("case-1"), &by(MANAGER, NOW)),
        Err(AllocationError::NotTheRequester)
    );
    assert_eq!(
        when(&state, cancel("case-9"), &by(REQUESTER, NOW)),
        Err(AllocationError::RequestNotFound)
    );
}
