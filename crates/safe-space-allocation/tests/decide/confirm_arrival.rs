//! `ConfirmArrival`: the space's managing organisation confirms the person
//! arrived; the reservation becomes a place.

use super::support::*;

fn confirm(case_id: &str) -> Command {
    Command::ConfirmArrival {
        case: case(case_id),
    }
}

#[test]
fn the_manager_confirms_an_arrival_even_after_the_hold_until_it_expired() {
    let state =
        given()
            .space("space-a", shelter(1, 0))
            .request("case-1", single(), Urgency::High, T0);
    let late = T0 + Duration::hours(30);
    assert_eq!(
        when(&state, confirm("case-1"), &by(MANAGER, late)),
        Ok(vec![Event::ArrivalConfirmed {
            case: case("case-1"),
            space: space("space-a"),
            unit: Unit::Bed,
            at: late,
        }])
    );
    assert!(when(&state, confirm("case-1"), &system(NOW)).is_ok());
}

#[test]
fn only_the_manager_and_only_a_reservation() {
    let state = given()
        .space("space-a", shelter(1, 0))
        .request("case-1", single(), Urgency::High, T0)
        .request("case-2", single(), Urgency::High, T0);
    for outsider in [
        by(OTHER_MANAGER, NOW),
        by(REQUESTER, NOW),
        context(Actor::Administrator, NOW),
    ] {
        assert_eq!(
            when(&state, confirm("case-1"), &outsider),
            Err(AllocationError::NotTheManagingOrganisation)
        );
    }
    assert_eq!(
        when(&state, confirm("case-2"), &by(MANAGER, NOW)),
        Err(AllocationError::NotAllowedWhile("waiting"))
    );
    assert_eq!(
        when(
            &state.arrive("case-1", T0),
            confirm("case-1"),
            &by(MANAGER, NOW)
        ),
        Err(AllocationError::NotAllowedWhile("occupying"))
    );
}
