//! `MarkLostToFollowUp`: a transferred person not found at the new facility
//! within the configured time (the placement records when it ends).

use super::care::*;
use super::support::*;

const PLACED_AT: OffsetDateTime = NOW;
const DUE: OffsetDateTime = datetime!(2026-03-07 12:00 UTC);

fn transferred() -> State {
    given(&[
        opened(),
        Event::CasePlaced(transfer("cas-roma-1", PLACED_AT)),
    ])
}

fn lost(detected_at: OffsetDateTime) -> Event {
    Event::LostToFollowUp {
        facility_id: facility("cas-roma-1"),
        placed_at: PLACED_AT,
        due_at: DUE,
        detected_at,
    }
}

#[test]
fn a_transferred_person_not_found_in_time_is_lost_to_follow_up() {
    assert_eq!(
        when(
            &transferred(),
            Command::MarkLostToFollowUp,
            DUE - Duration::NANOSECOND
        ),
        Err(ScreeningError::DeadlineNotMissed)
    );
    assert_eq!(
        when(&transferred(), Command::MarkLostToFollowUp, DUE),
        Ok(vec![lost(DUE)])
    );
    assert!(care_deadlines(&transferred(), DUE).contains(&Command::MarkLostToFollowUp));
}

#[test]
fn a_person_is_recorded_lost_once_per_transfer() {
    let state = apply(transferred(), &[lost(DUE)]);
    assert_eq!(
        when(&state, Command::MarkLostToFollowUp, DUE + Duration::days(5)),
        Err(ScreeningError::DeadlineNotMissed)
    );
    // Found later: recorded, and nothing more is due.
    let found = apply(
        state,
        &[Event::FollowUpRecorded(follow_up(
            None,
            FollowUpOutcome::Found,
            DUE + Duration::DAY,
        ))],
    );
    assert_eq!(care_deadlines(&found, DUE + Duration::days(5)), vec![]);
}

#[test]
fn no_arrival_is_awaited_before_a_transfer_or_for_placements_recorded_before_arrivals() {
    let later = DUE + Duration::days(5);
    for state in [
        given(&[opened()]),
        given(&[opened(), Event::CasePlaced(placement("sai-roma-3", NOW))]),
    ] {
        assert_eq!(
            when(&state, Command::MarkLostToFollowUp, later),
            Err(ScreeningError::DeadlineNotMissed)
        );
    }
}

#[test]
fn a_new_transfer_awaits_its_own_arrival_and_records_the_one_overdue() {
    // Moved on before the first arrival was due: only the new one is awaited.
    let early = PLACED_AT + Duration::DAY;
    let moved = transfer("cas-agrigento-1", early);
    assert_eq!(
        when(&transferred(), Command::Place(moved.clone()), early),
        Ok(vec![Event::CasePlaced(moved.clone())])
    );
    let state = apply(transferred(), &[Event::CasePlaced(moved)]);
    assert_eq!(
        state.follow_ups.awaited_arrival().map(|a| a.due_at),
        Some(early + Duration::hours(72))
    );
    // Moved on after it was due, never found: the loss is recorded with the move.
    let late = DUE + Duration::HOUR;
    let moved = transfer("cas-agrigento-1", late);
    assert_eq!(
        when(&transferred(), Command::Place(moved.clone()), late),
        Ok(vec![lost(late), Event::CasePlaced(moved)])
    );
}

#[test]
fn snapshot_of_a_person_lost_to_follow_up() {
    let outcome = when(&transferred(), Command::MarkLostToFollowUp, DUE);
    expect![[r#"
        LostToFollowUp {
            facility_id: FacilityId(
                "cas-roma-1",
            ),
            placed_at: 2026-03-04 12:00:00.0 +00:00:00,
            due_at: 2026-03-07 12:00:00.0 +00:00:00,
            detected_at: 2026-03-07 12:00:00.0 +00:00:00,
        }"#]]
    .assert_eq(&render(outcome));
}
