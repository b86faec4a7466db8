//! `Release`: a request, a reservation or a place ends for a reason; the
//! place freed goes to the first eligible person waiting, once.

use super::support::*;

fn release(case_id: &str, reason: ReleaseReason) -> Command {
    Command::Release {
        case: case(case_id),
        reason,
    }
}

fn full_shelter() -> Given {
    given()
        .space("space-a", shelter(1, 0))
        .request("case-1", single(), Urgency::Standard, T0)
        .arrive("case-1", T0)
        .request("case-2", with_children(1), Urgency::Immediate, T0)
        .request(
            "case-3",
            single(),
            Urgency::Standard,
            T0 + Duration::hours(2),
        )
        .request("case-4", single(), Urgency::High, T0 + Duration::hours(3))
}

#[test]
fn a_discharge_gives_the_place_to_the_first_eligible_person_waiting() {
    let outcome = when(
        &full_shelter(),
        release("case-1", ReleaseReason::Discharge),
        &by(MANAGER, NOW),
    );
    expect![[r#"
        PlaceReleased {
            case: CaseId(
                "case-1",
            ),
            reason: Discharge,
            at: 2026-03-10 12:00:00.0 +00:00:00,
        }
        PlaceReserved {
            case: CaseId(
                "case-4",
            ),
            space: SpaceId(
                "space-a",
            ),
            unit: Bed,
            reserved_at: 2026-03-10 12:00:00.0 +00:00:00,
            held_until: 2026-03-11 12:00:00.0 +00:00:00,
            reason: PlaceReleased,
        }"#]]
    .assert_eq(&render(outcome));
}

#[test]
fn the_service_releases_for_the_case_and_the_referral() {
    let state = full_shelter();
    for reason in ReleaseReason::ALL
        .iter()
        .copied()
        .filter(|r| r.by_the_system_only())
    {
        assert_eq!(
            when(&state, release("case-1", reason), &by(MANAGER, NOW)),
            Err(AllocationError::NotAllowedForActor),
            "{reason}"
        );
        let events = when(&state, release("case-1", reason), &system(NOW)).expect("released");
        assert_eq!(events.len(), 2, "{reason}: released and given to case-4");
        // A person waiting leaves the list; nothing is freed.
        assert_eq!(
            when(&state, release("case-3", reason), &system(NOW)),
            Ok(vec![Event::PlaceReleased {
                case: case("case-3"),
                reason,
                at: NOW,
            }])
        );
    }
    assert!(
        when(
            &state,
            release("case-1", ReleaseReason::Transfer),
            &system(NOW)
        )
        .is_ok()
    );
    assert!(
        when(
            &state,
            release("case-1", ReleaseReason::Transfer),
            &by(REQUESTER, NOW)
        )
        .is_ok()
    );
}

#[test]
fn a_discharge_ends_a_stay_by_a_party_only() {
    let state = full_shelter();
    assert_eq!(
        when(
            &state,
            release("case-3", ReleaseReason::Discharge),
            &by(REQUESTER, NOW)
        ),
        Err(AllocationError::NotAllowedWhile("waiting"))
    );
    assert_eq!(
        when(
            &state,
            release("case-1", ReleaseReason::Discharge),
            &by(OUTSIDER, NOW)
        ),
        Err(AllocationError::NotTheRequester)
    );
    assert_eq!(
        when(
            &state,
            release("case-9", ReleaseReason::Discharge),
            &by(MANAGER, NOW)
        ),
        Err(AllocationError::RequestNotFound)
    );
}
