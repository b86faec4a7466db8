//! `ExpireHold`: the watcher ends a reservation whose hold passed; the place
//! goes to the first eligible person waiting.

use super::support::*;

fn expire(case_id: &str) -> Command {
    Command::ExpireHold {
        case: case(case_id),
    }
}

#[test]
fn an_expired_hold_frees_the_place_for_the_next_person() {
    let state = given()
        .space("space-a", shelter(1, 0))
        .request("case-1", single(), Urgency::Standard, T0)
        .request(
            "case-2",
            single(),
            Urgency::Standard,
            T0 + Duration::hours(1),
        );
    let deadline = T0 + Duration::hours(24);
    assert_eq!(
        when(
            &state,
            expire("case-1"),
            &system(deadline - Duration::seconds(1))
        ),
        Err(AllocationError::HoldNotExpired)
    );
    assert_eq!(
        when(&state, expire("case-1"), &by(MANAGER, deadline)),
        Err(AllocationError::NotAllowedForActor)
    );
    assert_eq!(
        when(&state, expire("case-2"), &system(deadline)),
        Err(AllocationError::HoldNotExpired)
    );
    let outcome = when(&state, expire("case-1"), &system(deadline));
    expect![[r#"
        HoldExpired {
            case: CaseId(
                "case-1",
            ),
            space: SpaceId(
                "space-a",
            ),
            at: 2026-03-11 9:00:00.0 +00:00:00,
        }
        PlaceReserved {
            case: CaseId(
                "case-2",
            ),
            space: SpaceId(
                "space-a",
            ),
            unit: Bed,
            reserved_at: 2026-03-11 9:00:00.0 +00:00:00,
            held_until: 2026-03-12 9:00:00.0 +00:00:00,
            reason: HoldExpired,
        }"#]]
    .assert_eq(&render(outcome));
}

#[test]
fn the_hold_is_the_configured_one() {
    let state = given().space("space-a", shelter(1, 0));
    let mut short = requesting(woman(None), NOW);
    short.policy.hold = Duration::hours(2);
    let events = when(&state, request("case-1", single()), &short).expect("requested");
    assert!(matches!(
        events.last(),
        Some(Event::PlaceReserved { held_until, .. }) if *held_until == NOW + Duration::hours(2)
    ));
}
