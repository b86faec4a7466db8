//! `DiscloseLocation`: the location of the space a case holds is disclosed,
//! and recorded, only to the space's manager or an organisation the case
//! entitles, and only while the case holds that space.

use std::collections::BTreeSet;

use super::support::*;

const RECEIVER: &str = "antiviolenza-roma";

fn disclose(case_id: &str, space_id: &str) -> Command {
    Command::DiscloseLocation {
        case: case(case_id),
        space: space(space_id),
        purpose: DisclosurePurpose::Transfer,
    }
}

/// `organisation` asking, with the case entitling `readers`.
fn asking(organisation: &str, readers: &[&str]) -> Context {
    let mut context = by(organisation, NOW);
    context.case.location_readers = readers.iter().map(|r| org(r)).collect::<BTreeSet<_>>();
    context
}

/// case-1 holds a reservation in space-a (MANAGER's); space-b is OTHER_MANAGER's.
fn reserved() -> Given {
    given()
        .space("space-a", shelter(1, 0))
        .request("case-1", single(), Urgency::High, T0)
        .space(
            "space-b",
            SpaceProfile {
                organisation: org(OTHER_MANAGER),
                ..shelter(1, 0)
            },
        )
}

#[test]
fn the_manager_and_the_organisations_the_case_entitles_learn_it_while_it_is_held() {
    let state = reserved();
    let held = "space-a";
    assert!(matches!(
        state.standing("case-1"),
        Some(Standing::Reserved { space: s, .. }) if s.as_str() == held
    ));
    assert_eq!(
        when(
            &state,
            disclose("case-1", held),
            &asking(RECEIVER, &[RECEIVER])
        ),
        Ok(vec![Event::LocationDisclosed {
            case: case("case-1"),
            space: space(held),
            to: org(RECEIVER),
            purpose: DisclosurePurpose::Transfer,
            at: NOW,
        }])
    );
    assert!(when(&state, disclose("case-1", held), &asking(MANAGER, &[])).is_ok());
    let occupying = state.arrive("case-1", T0);
    assert!(
        when(
            &occupying,
            disclose("case-1", held),
            &asking(REQUESTER, &[REQUESTER])
        )
        .is_ok()
    );
}

#[test]
fn nobody_else_nor_another_space_nor_after_release() {
    let state = reserved();
    let held = "space-a";
    assert!(matches!(
        state.standing("case-1"),
        Some(Standing::Reserved { space: s, .. }) if s.as_str() == held
    ));
    let other = "space-b";
    let refused = Err(AllocationError::LocationNotDisclosed);
    // Not entitled by the case, not the manager.
    assert_eq!(
        when(
            &state,
            disclose("case-1", held),
            &asking(OUTSIDER, &[RECEIVER])
        ),
        refused
    );
    assert_eq!(
        when(
            &state,
            disclose("case-1", held),
            &asking(OTHER_MANAGER, &[])
        ),
        refused
    );
    // Entitled, but the case does not hold that space, or holds nothing here.
    assert_eq!(
        when(
            &state,
            disclose("case-1", other),
            &asking(RECEIVER, &[RECEIVER])
        ),
        refused
    );
    assert_eq!(
        when(&state, disclose("case-9", held), &asking(MANAGER, &[])),
        refused
    );
    // Not an organisation.
    assert_eq!(
        when(&state, disclose("case-1", held), &system(NOW)),
        refused
    );
    assert_eq!(
        when(
            &state,
            disclose("case-1", held),
            &context(Actor::Administrator, NOW)
        ),
        refused
    );
    // After release, nobody.
    let released = state.arrive("case-1", T0).run(
        Command::Release {
            case: case("case-1"),
            reason: ReleaseReason::Discharge,
        },
        &by(MANAGER, NOW),
    );
    for asker in [asking(MANAGER, &[]), asking(RECEIVER, &[RECEIVER])] {
        assert_eq!(when(&released, disclose("case-1", held), &asker), refused);
    }
}

#[test]
fn a_disclosure_changes_no_place() {
    let state = reserved();
    let held = "space-a";
    assert!(matches!(
        state.standing("case-1"),
        Some(Standing::Reserved { space: s, .. }) if s.as_str() == held
    ));
    let events = when(&state, disclose("case-1", held), &asking(MANAGER, &[])).expect("disclosed");
    let after = events.iter().fold(state.state.clone(), |s, e| s.evolve(e));
    assert_eq!(after, state.state);
}
