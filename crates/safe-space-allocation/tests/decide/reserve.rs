//! `Reserve`: the requester chooses another of the proposed spaces; the place
//! left goes to the first eligible person waiting.

use super::support::*;

fn reserve(case_id: &str, space_id: &str) -> Command {
    Command::Reserve {
        case: case(case_id),
        space: space(space_id),
    }
}

#[test]
fn a_reservation_moves_to_a_chosen_space_and_the_place_left_serves_the_list() {
    let mut speaks_tigrinya = shelter(1, 0);
    speaks_tigrinya.organisation = org(OTHER_MANAGER);
    speaks_tigrinya.eligibility.families_with_children = false;
    let state = given()
        .space("space-a", shelter(1, 0))
        .space("space-b", speaks_tigrinya)
        .request("case-1", single(), Urgency::High, T0);
    // Best fit first: space-b spends no family space.
    assert_eq!(
        state.standing("case-1"),
        Some(&Standing::Reserved {
            space: space("space-b"),
            unit: Unit::Bed,
            reserved_at: T0,
            held_until: T0 + Duration::hours(24),
        })
    );
    let state = state.request("case-2", single(), Urgency::Standard, T0);
    let state = state.request("case-3", single(), Urgency::Standard, T0);
    assert_eq!(
        proposals(&state.state, &case("case-3")),
        Vec::<Proposal>::new()
    );
    assert_eq!(
        when(&state, reserve("case-3", "space-a"), &by(REQUESTER, NOW)),
        Err(AllocationError::NoPlaceFree)
    );
    // case-2 holds space-a; it chooses space-b once case-1 leaves it.
    let state = state.run(
        Command::CancelRequest {
            case: case("case-1"),
        },
        &by(REQUESTER, T0),
    );
    assert_eq!(
        state.standing("case-3").map(Standing::code),
        Some("reserved"),
        "space-b went to case-3"
    );
    let state = state.run(
        Command::CancelRequest {
            case: case("case-3"),
        },
        &by(REQUESTER, T0),
    );
    assert_eq!(
        proposals(&state.state, &case("case-2")),
        [Proposal {
            space: space("space-b"),
            unit: Unit::Bed,
            free: 1
        }]
    );
    // Waiting: a family (no family room here) and a woman who must avoid space-b's manager.
    let avoid_b = Needs {
        avoid: [Avoid::Organisation(org(OTHER_MANAGER))]
            .into_iter()
            .collect(),
        ..single()
    };
    let state = state.request("case-4", with_children(1), Urgency::High, T0);
    let state = state.request("case-5", avoid_b, Urgency::Standard, T0);
    assert_eq!(state.waiting(), ["case-4", "case-5"]);
    assert_eq!(
        when(&state, reserve("case-2", "space-b"), &by(REQUESTER, NOW)),
        Ok(vec![
            reserved("case-2", "space-b", Unit::Bed, ReservationReason::Chosen),
            reserved(
                "case-5",
                "space-a",
                Unit::Bed,
                ReservationReason::ReservationMoved
            ),
        ])
    );
}

#[test]
fn only_an_eligible_free_space_by_the_requester() {
    let mut accessible = shelter(1, 0);
    accessible.eligibility.accessible = true;
    let state = given()
        .space("space-a", shelter(2, 0))
        .space("space-b", accessible)
        .request("case-1", with_children(1), Urgency::High, T0)
        .request("case-2", single(), Urgency::High, T0);
    assert_eq!(
        when(&state, reserve("case-1", "space-a"), &by(REQUESTER, NOW)),
        Err(AllocationError::NotEligible),
        "a family needs a family room"
    );
    assert_eq!(
        state.standing("case-2").map(Standing::code),
        Some("reserved")
    );
    assert_eq!(
        when(&state, reserve("case-2", "space-a"), &by(REQUESTER, NOW)),
        Err(AllocationError::AlreadyReservedThere)
    );
    assert_eq!(
        when(&state, reserve("case-2", "space-b"), &by(MANAGER, NOW)),
        Err(AllocationError::NotTheRequester)
    );
    assert_eq!(
        when(&state, reserve("case-2", "space-z"), &by(REQUESTER, NOW)),
        Err(AllocationError::SpaceNotFound)
    );
    let arrived = state.arrive("case-2", T0);
    assert_eq!(
        when(&arrived, reserve("case-2", "space-b"), &by(REQUESTER, NOW)),
        Err(AllocationError::NotAllowedWhile("occupying"))
    );
}
