//! Places to avoid for safety: an avoided space, or any space of an avoided
//! managing organisation, is never proposed or reserved; a list that can no
//! longer be read (its key destroyed at erasure) avoids every space; the
//! watcher records the key's destruction once for an erased case.

use super::support::*;

fn other_shelter() -> SpaceProfile {
    let mut profile = shelter(1, 0);
    profile.organisation = org(OTHER_MANAGER);
    profile
}

fn avoiding(avoid: Avoid) -> Needs {
    Needs {
        avoid: [avoid].into_iter().collect(),
        ..Needs::default()
    }
}

#[test]
fn an_avoided_space_or_organisation_is_never_proposed_or_reserved() {
    let state = given()
        .space("space-a", shelter(1, 0))
        .space("space-b", other_shelter())
        .request(
            "case-1",
            avoiding(Avoid::Space(space("space-a"))),
            Urgency::High,
            T0,
        );
    assert_eq!(
        state.standing("case-1"),
        Some(&Standing::Reserved {
            space: space("space-b"),
            unit: Unit::Bed,
            reserved_at: T0,
            held_until: T0 + Duration::hours(24),
        })
    );
    let state = state.request(
        "case-2",
        avoiding(Avoid::Organisation(org(MANAGER))),
        Urgency::Immediate,
        T0,
    );
    // space-a is free, but of the organisation case-2 avoids: case-2 waits.
    assert_eq!(state.waiting(), ["case-2"]);
    assert_eq!(
        proposals(&state.state, &case("case-2")),
        Vec::<Proposal>::new()
    );
    assert_eq!(
        when(
            &state,
            Command::Reserve {
                case: case("case-2"),
                space: space("space-a"),
            },
            &by(REQUESTER, NOW)
        ),
        Err(AllocationError::NotEligible)
    );
    // space-b frees: it goes to case-2, never space-a.
    let state = state.run(
        Command::CancelRequest {
            case: case("case-1"),
        },
        &by(REQUESTER, NOW),
    );
    assert_eq!(
        state.standing("case-2").map(Standing::code),
        Some("reserved")
    );
    assert_eq!(state.state.free(&space("space-a"), Unit::Bed), 1);
}

#[test]
fn an_unreadable_list_avoids_every_space_and_its_destruction_is_recorded_once() {
    let state = given()
        .space("space-a", shelter(1, 0))
        .space("space-b", other_shelter())
        .request("case-0", single(), Urgency::High, T0)
        .request("case-9", single(), Urgency::High, T0)
        .request(
            "case-1",
            avoiding(Avoid::Space(space("space-a"))),
            Urgency::Immediate,
            T0,
        );
    assert!(state.state.avoid_kept.contains(&case("case-1")));
    assert_eq!(state.waiting(), ["case-1"]);
    let erased: BTreeMap<_, _> = [(case("case-1"), ReleaseReason::Erasure)]
        .into_iter()
        .collect();
    let listed: Vec<String> = due(&state.state, NOW, &erased, &BTreeMap::new())
        .iter()
        .map(Due::request_id)
        .collect();
    expect![[r#"
        [
            "release.erasure.case-1.1773133200000000000",
            "avoid-forgotten.case-1",
        ]"#]]
    .assert_eq(&format!("{listed:#?}"));
    // The key destroyed before the release ran: the entry avoids everything.
    let forgotten = state.clone().run(
        Command::ForgetAvoid {
            case: case("case-1"),
        },
        &system(NOW),
    );
    assert!(forgotten.state.avoid_kept.is_empty());
    assert_eq!(
        forgotten.state.cases[&case("case-1")].needs.avoid,
        [Avoid::Unreadable].into_iter().collect()
    );
    let freed = forgotten.run(
        Command::CancelRequest {
            case: case("case-0"),
        },
        &by(REQUESTER, NOW),
    );
    assert_eq!(freed.waiting(), ["case-1"], "never sent anywhere");
    assert_eq!(
        when(
            &freed,
            Command::ForgetAvoid {
                case: case("case-1"),
            },
            &system(NOW)
        ),
        Err(AllocationError::AvoidAlreadyForgotten)
    );
    assert_eq!(
        when(
            &state,
            Command::ForgetAvoid {
                case: case("case-1"),
            },
            &by(REQUESTER, NOW)
        ),
        Err(AllocationError::NotAllowedForActor)
    );
    // A case closed but not erased keeps its key.
    let closed: BTreeMap<_, _> = [(case("case-1"), ReleaseReason::CaseClosed)]
        .into_iter()
        .collect();
    assert!(
        !due(&state.state, NOW, &closed, &BTreeMap::new())
            .iter()
            .any(|d| matches!(d, Due::ForgetAvoid { .. }))
    );
}

/// Whoever answers for the case where it is now may choose as the requester may.
#[test]
fn the_cases_responsible_organisation_may_choose_a_proposed_space() {
    let state = given()
        .space("space-a", shelter(1, 0))
        .space("space-b", other_shelter())
        .request("case-1", single(), Urgency::High, T0);
    let reserve = Command::Reserve {
        case: case("case-1"),
        space: space("space-b"),
    };
    assert_eq!(
        when(&state, reserve.clone(), &by("prefettura-roma", NOW)),
        Err(AllocationError::NotTheRequester)
    );
    let responsible = Context {
        case: CaseFacts {
            responsible: true,
            ..CaseFacts::default()
        },
        ..by("prefettura-roma", NOW)
    };
    let events = when(&state, reserve, &responsible).expect("chosen");
    assert!(matches!(
        &events[0],
        Event::PlaceReserved { reason: ReservationReason::Chosen, space: s, .. } if *s == space("space-b")
    ));
}
