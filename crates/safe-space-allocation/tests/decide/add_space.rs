//! `AddSpace`: a registered space joins the allocator of its province and kind.

use super::support::*;

#[test]
fn a_space_joins_its_allocator_and_serves_the_waiting_list() {
    let waiting = given()
        .request("case-1", single(), Urgency::High, T0)
        .request("case-2", with_children(2), Urgency::Standard, T0);
    assert_eq!(waiting.waiting(), ["case-1", "case-2"]);
    let outcome = when(
        &waiting,
        Command::AddSpace {
            space: space("space-a"),
            profile: shelter(1, 1),
        },
        &system(NOW),
    );
    expect![[r#"
        SpaceAdded {
            space: SpaceId(
                "space-a",
            ),
            organisation: OrganisationId(
                "differenza-donna",
            ),
            capacity: Capacity {
                beds: 1,
                family_rooms: 1,
            },
            eligibility: Eligibility {
                sexes: {
                    Female,
                },
                age_bands: {},
                families_with_children: true,
                accessible: false,
                languages: {},
                family_room_persons: 0,
            },
        }
        PlaceReserved {
            case: CaseId(
                "case-1",
            ),
            space: SpaceId(
                "space-a",
            ),
            unit: Bed,
            reserved_at: 2026-03-10 12:00:00.0 +00:00:00,
            held_until: 2026-03-11 12:00:00.0 +00:00:00,
            reason: SpaceAdded,
        }
        PlaceReserved {
            case: CaseId(
                "case-2",
            ),
            space: SpaceId(
                "space-a",
            ),
            unit: FamilyRoom,
            reserved_at: 2026-03-10 12:00:00.0 +00:00:00,
            held_until: 2026-03-11 12:00:00.0 +00:00:00,
            reason: SpaceAdded,
        }"#]]
    .assert_eq(&render(outcome));
}

#[test]
fn only_a_space_of_this_province_and_kind_once_by_its_manager() {
    let mut elsewhere = shelter(1, 0);
    elsewhere.province = Province::parse("PA").expect("province");
    let add = |profile| Command::AddSpace {
        space: space("space-a"),
        profile,
    };
    assert_eq!(
        when(&given(), add(elsewhere), &system(NOW)),
        Err(AllocationError::NotThisAllocator)
    );
    let mut trafficking = shelter(1, 0);
    trafficking.kind = SpaceKind::TraffickingShelter;
    assert_eq!(
        when(&given(), add(trafficking), &system(NOW)),
        Err(AllocationError::NotThisAllocator)
    );
    assert_eq!(
        when(&given(), add(shelter(1, 0)), &by(OUTSIDER, NOW)),
        Err(AllocationError::NotTheManagingOrganisation)
    );
    assert!(when(&given(), add(shelter(1, 0)), &by(MANAGER, NOW)).is_ok());
    assert_eq!(
        when(
            &given().space("space-a", shelter(1, 0)),
            add(shelter(1, 0)),
            &system(NOW)
        ),
        Err(AllocationError::SpaceAlreadyAdded)
    );
    assert_invalid(when(&given(), add(shelter(0, 0)), &system(NOW)), "capacity");
}
