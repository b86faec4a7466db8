//! Eligibility and fit: families never in a single women-only room,
//! accessible needs only in accessible places, sex and age bands respected,
//! places to avoid never offered; proposals best fit first.

use super::support::*;

fn room() -> SpaceProfile {
    let mut room = shelter(1, 0);
    room.kind = SpaceKind::WomenOnlyRoom;
    room.eligibility.families_with_children = false;
    room
}

#[test]
fn a_family_with_children_is_never_offered_a_single_women_only_room() {
    let rooms = |now| Context {
        kind: SpaceKind::WomenOnlyRoom,
        ..requesting(woman(Some(Urgency::Immediate)), now)
    };
    let state = given()
        .run(
            Command::AddSpace {
                space: space("room-1"),
                profile: room(),
            },
            &Context {
                kind: SpaceKind::WomenOnlyRoom,
                ..system(T0)
            },
        )
        .run(request("case-1", with_children(1)), &rooms(T0));
    assert_eq!(state.waiting(), ["case-1"]);
    assert!(proposals(&state.state, &case("case-1")).is_empty());
    assert_eq!(
        when(
            &state,
            Command::Reserve {
                case: case("case-1"),
                space: space("room-1")
            },
            &by(REQUESTER, NOW)
        ),
        Err(AllocationError::NotEligible)
    );
    // A woman alone, even less urgent and later, gets the room.
    let state = state.run(
        request("case-2", single()),
        &Context {
            case: woman(Some(Urgency::Standard)),
            ..rooms(NOW)
        },
    );
    assert_eq!(
        state.standing("case-2").map(Standing::code),
        Some("reserved")
    );
    assert_eq!(state.waiting(), ["case-1"]);
}

#[test]
fn an_accessible_need_only_gets_accessible_places() {
    let mut accessible = shelter(1, 0);
    accessible.eligibility.accessible = true;
    let needs = Needs {
        accessibility: true,
        ..single()
    };
    let state =
        given()
            .space("space-a", shelter(3, 0))
            .request("case-1", needs.clone(), Urgency::High, T0);
    assert_eq!(state.waiting(), ["case-1"]);
    let state = state.space("space-b", accessible);
    assert_eq!(
        state.standing("case-1"),
        Some(&Standing::Reserved {
            space: space("space-b"),
            unit: Unit::Bed,
            reserved_at: T0,
            held_until: T0 + Duration::hours(24),
        })
    );
}

#[test]
fn sex_age_bands_and_places_to_avoid_are_respected() {
    let mut minors_only = shelter(1, 0);
    minors_only.eligibility.age_bands = [AgeBand::From16To17].into_iter().collect();
    let state = given()
        .space("space-a", shelter(1, 0))
        .space("space-b", minors_only);
    let ask = |facts, needs| {
        let events =
            when(&state, request("case-1", needs), &requesting(facts, NOW)).expect("asked");
        events.iter().find_map(|event| match event {
            Event::PlaceReserved { space, .. } => Some(space.as_str().to_owned()),
            _ => None,
        })
    };
    assert_eq!(ask(woman(None), single()), Some("space-a".to_owned()));
    let man = CaseFacts {
        sex: Sex::Male,
        ..woman(None)
    };
    assert_eq!(ask(man, single()), None);
    let unknown = CaseFacts {
        sex: Sex::Unknown,
        ..woman(None)
    };
    assert_eq!(ask(unknown, single()), None);
    let girl = CaseFacts {
        age_band: AgeBand::From16To17,
        ..woman(None)
    };
    assert_eq!(ask(girl.clone(), single()), Some("space-a".to_owned()));
    let avoid_a = Needs {
        avoid: [Avoid::Space(space("space-a"))].into_iter().collect(),
        ..single()
    };
    assert_eq!(ask(girl, avoid_a.clone()), Some("space-b".to_owned()));
    assert_eq!(
        ask(woman(None), avoid_a),
        None,
        "an adult is not admitted to space-b"
    );
    let avoid_manager = Needs {
        avoid: [Avoid::Organisation(org(MANAGER))].into_iter().collect(),
        ..single()
    };
    assert_eq!(ask(woman(None), avoid_manager), None);
}

#[test]
fn proposals_put_the_best_fit_first() {
    let mut speaks = shelter(2, 0);
    speaks.eligibility.languages = [language("ti")].into_iter().collect();
    let mut accessible = shelter(2, 0);
    accessible.eligibility.accessible = true;
    accessible.eligibility.families_with_children = false;
    let mut singles = shelter(2, 0);
    singles.eligibility.families_with_children = false;
    let state = given()
        .space("space-a", accessible)
        .space("space-b", shelter(2, 0))
        .space("space-c", singles)
        .space("space-d", speaks);
    let tigrinya = Needs {
        languages: [language("ti")].into_iter().collect(),
        ..single()
    };
    let ranked = |needs: Needs| {
        let mut state = state.clone();
        state.state = state.state.evolve(&Event::PlaceRequested {
            case: case("case-1"),
            requested_by: org(REQUESTER),
            referral: None,
            needs,
            urgency: None,
            sex: Sex::Female,
            age_band: AgeBand::Adult,
            requested_at: NOW,
        });
        proposals(&state.state, &case("case-1"))
            .into_iter()
            .map(|p| p.space.as_str().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ranked(tigrinya),
        ["space-d", "space-c", "space-b", "space-a"]
    );
    assert_eq!(
        ranked(single()),
        ["space-c", "space-b", "space-d", "space-a"]
    );
}

/// Sized family rooms: a family fits only where a room holds the parent
/// and every child; unsized rooms take one family whatever its size.
#[test]
fn a_family_gets_only_a_family_room_it_fits_in() {
    let mut small = shelter(0, 1);
    small.eligibility.family_room_persons = 3;
    let mut unsized_rooms = shelter(0, 1);
    unsized_rooms.organisation = org(OTHER_MANAGER);
    let state = given().space("space-small", small.clone()).request(
        "case-1",
        with_children(3),
        Urgency::High,
        T0,
    );
    assert_eq!(
        state.waiting(),
        ["case-1"],
        "four persons, a room for three"
    );
    assert!(proposals(&state.state, &case("case-1")).is_empty());
    let state = state.request("case-2", with_children(2), Urgency::Standard, T0);
    assert_eq!(
        state.standing("case-2").map(Standing::code),
        Some("reserved"),
        "three persons fit"
    );
    let state = state.space("space-unsized", unsized_rooms);
    assert_eq!(
        state.standing("case-1").map(Standing::code),
        Some("reserved"),
        "an unsized room takes the family"
    );
    let mut bad = small;
    bad.eligibility.family_room_persons = 1;
    assert_eq!(
        bad.check(),
        Err((
            "eligibility.family_room_persons",
            "0 (unsized), or 2 to 21 persons where families are admitted"
        ))
    );
}
