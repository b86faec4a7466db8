//! The registry's space aggregate: `Register`, `ChangeCapacity`, `Close`.

use safe_space_allocation::space::{self, SpaceError};

use super::support::*;

fn registry(actor: Actor) -> space::Context {
    space::Context { now: NOW, actor }
}

fn registered(profile: SpaceProfile) -> space::State {
    space::State::default().evolve(&space::Event::SpaceRegistered { profile, at: T0 })
}

#[test]
fn a_space_is_registered_with_its_profile_and_no_name_or_address() {
    let outcome = space::decide(
        &space::State::default(),
        space::Command::Register(shelter(4, 2)),
        &registry(Actor::Administrator),
    );
    expect![[r#"
        Ok(
            [
                SpaceRegistered {
                    profile: SpaceProfile {
                        kind: GbvShelter,
                        organisation: OrganisationId(
                            "differenza-donna",
                        ),
                        province: Province(
                            "RM",
                        ),
                        capacity: Capacity {
                            beds: 4,
                            family_rooms: 2,
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
                    },
                    at: 2026-03-10 12:00:00.0 +00:00:00,
                },
            ],
        )"#]]
    .assert_eq(&format!("{outcome:#?}"));
    assert_eq!(
        space::decide(
            &registered(shelter(4, 2)),
            space::Command::Register(shelter(4, 2)),
            &registry(Actor::Administrator),
        ),
        Err(SpaceError::AlreadyRegistered)
    );
    assert_eq!(
        space::decide(
            &space::State::default(),
            space::Command::Register(shelter(4, 2)),
            &registry(Actor::Organisation(org(OUTSIDER))),
        ),
        Err(SpaceError::NotTheManagingOrganisation)
    );
}

#[test]
fn each_kind_keeps_its_rules() {
    let refused = |profile: SpaceProfile| match space::decide(
        &space::State::default(),
        space::Command::Register(profile),
        &registry(Actor::Administrator),
    ) {
        Err(SpaceError::Invalid { field, .. }) => field,
        other => panic!("expected invalid, got {other:?}"),
    };
    // A single women-only room: beds only, never a family.
    let mut room = shelter(1, 1);
    room.kind = SpaceKind::WomenOnlyRoom;
    assert_eq!(refused(room.clone()), "capacity.family_rooms");
    room.capacity.family_rooms = 0;
    assert_eq!(refused(room.clone()), "capacity.family_rooms");
    room.eligibility.families_with_children = false;
    assert!(room.check().is_ok());
    // Women-only kinds admit women only.
    let mut area = shelter(3, 0);
    area.kind = SpaceKind::WomenOnlyArea;
    area.eligibility.sexes.insert(Sex::Male);
    assert_eq!(refused(area), "eligibility.sexes");
    let mut unknown = shelter(3, 0);
    unknown.kind = SpaceKind::TraffickingShelter;
    unknown.eligibility.sexes = [Sex::Unknown].into_iter().collect();
    assert_eq!(refused(unknown), "eligibility.sexes");
    // An accessible space is accessible.
    let mut accessible = shelter(2, 0);
    accessible.kind = SpaceKind::Accessible;
    assert_eq!(refused(accessible), "eligibility.accessible");
    // Places for unaccompanied minors admit minors' bands only.
    let mut minors = shelter(2, 0);
    minors.kind = SpaceKind::UnaccompaniedMinors;
    minors.eligibility.sexes.clear();
    assert_eq!(refused(minors.clone()), "eligibility.age_bands");
    minors.eligibility.age_bands = [AgeBand::From16To17, AgeBand::Adult].into_iter().collect();
    assert_eq!(refused(minors.clone()), "eligibility.age_bands");
    minors.eligibility.age_bands = [AgeBand::From16To17, AgeBand::Unknown]
        .into_iter()
        .collect();
    assert!(minors.check().is_ok());
    // Family rooms only where families are admitted; at least one place.
    let mut no_families = shelter(2, 1);
    no_families.eligibility.families_with_children = false;
    assert_eq!(refused(no_families), "capacity.family_rooms");
    assert_eq!(refused(shelter(0, 0)), "capacity");
}

#[test]
fn the_manager_changes_the_capacity_and_closes_the_space() {
    let state = registered(shelter(4, 2));
    let by_manager = registry(Actor::Organisation(org(MANAGER)));
    let capacity = Capacity {
        beds: 5,
        family_rooms: 2,
    };
    assert_eq!(
        space::decide(
            &state,
            space::Command::ChangeCapacity(capacity),
            &by_manager
        ),
        Ok(vec![space::Event::CapacityChanged { capacity, at: NOW }])
    );
    assert_eq!(
        space::decide(
            &state,
            space::Command::ChangeCapacity(shelter(4, 2).capacity),
            &by_manager
        ),
        Err(SpaceError::CapacityUnchanged)
    );
    assert_eq!(
        space::decide(
            &state,
            space::Command::ChangeCapacity(capacity),
            &registry(Actor::Organisation(org(OTHER_MANAGER)))
        ),
        Err(SpaceError::NotTheManagingOrganisation)
    );
    assert_eq!(
        space::decide(&state, space::Command::Close, &by_manager),
        Ok(vec![space::Event::SpaceClosed { at: NOW }])
    );
    let closed = state.evolve(&space::Event::SpaceClosed { at: NOW });
    assert_eq!(
        space::decide(&closed, space::Command::Close, &by_manager),
        Err(SpaceError::SpaceClosed)
    );
    assert_eq!(
        space::decide(&space::State::default(), space::Command::Close, &by_manager),
        Err(SpaceError::SpaceNotFound)
    );
}

#[test]
fn a_registered_space_is_forwarded_to_its_allocator() {
    let state = registered(shelter(4, 2));
    assert_eq!(
        state.allocator_command(&space("space-a")),
        Some(Command::AddSpace {
            space: space("space-a"),
            profile: shelter(4, 2),
        })
    );
    assert_eq!(
        space::State::default().allocator_command(&space("space-a")),
        None
    );
}
