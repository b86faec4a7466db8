//! `Place`: placements in reception.

use super::support::*;

#[test]
fn placement_is_recorded() {
    let placed = placement("sai-roma-3", NOW);
    assert_eq!(
        when(&given(&[opened()]), Command::Place(placed.clone()), NOW),
        Ok(vec![Event::CasePlaced(placed)])
    );
}

#[test]
fn placement_on_a_case_not_opened_is_case_not_found() {
    assert_eq!(
        when(
            &given(&[]),
            Command::Place(placement("sai-roma-3", NOW)),
            NOW
        ),
        Err(ScreeningError::CaseNotFound)
    );
}

#[test]
fn placement_on_a_closed_case_is_case_closed() {
    assert_eq!(
        when(
            &given(&[opened(), closed(NOW)]),
            Command::Place(placement("sai-roma-3", NOW)),
            NOW
        ),
        Err(ScreeningError::CaseClosed)
    );
}

#[test]
fn placement_in_the_facility_of_arrival_is_refused() {
    assert_eq!(
        when(
            &given(&[opened()]),
            Command::Place(placement(FIRST_FACILITY, NOW)),
            NOW
        ),
        Err(ScreeningError::AlreadyPlacedThere)
    );
}

#[test]
fn placement_in_the_current_facility_is_refused_but_returning_is_allowed() {
    let state = given(&[
        opened(),
        Event::CasePlaced(placement("cas-agrigento-1", ARRIVAL + Duration::DAY)),
    ]);
    assert_eq!(
        when(
            &state,
            Command::Place(placement("cas-agrigento-1", NOW)),
            NOW
        ),
        Err(ScreeningError::AlreadyPlacedThere)
    );
    let back = placement(FIRST_FACILITY, NOW);
    assert_eq!(
        when(&state, Command::Place(back.clone()), NOW),
        Ok(vec![Event::CasePlaced(back)])
    );
}

#[test]
fn placement_in_the_future_is_invalid() {
    assert_invalid(
        when(
            &given(&[opened()]),
            Command::Place(placement("sai-roma-3", NOW + Duration::NANOSECOND)),
            NOW,
        ),
        "placed_at",
    );
}

#[test]
fn placement_before_arrival_is_invalid() {
    assert_invalid(
        when(
            &given(&[opened()]),
            Command::Place(placement("sai-roma-3", ARRIVAL - Duration::NANOSECOND)),
            NOW,
        ),
        "placed_at",
    );
}

#[test]
fn snapshot_of_a_placement() {
    let outcome = when(
        &given(&[opened()]),
        Command::Place(placement("sai-roma-3", NOW)),
        NOW,
    );
    expect![[r#"
        CasePlaced(
            Placement {
                facility_id: FacilityId(
                    "sai-roma-3",
                ),
                province: Province(
                    "RM",
                ),
                facility_kind: Sai,
                placed_at: 2026-03-04 12:00:00.0 +00:00:00,
                arrival_due_at: None,
                detention: None,
            },
        )"#]]
    .assert_eq(&render(outcome));
}
