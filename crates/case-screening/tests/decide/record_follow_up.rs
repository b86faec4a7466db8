//! `RecordFollowUp`: a follow-up done, of one scheduled or not; after a
//! transfer, one that found the person confirms their arrival.

use super::care::*;
use super::support::*;

/// Due on 10 March: missed when that day ends in Rome (23:00 UTC, winter).
const DUE_ON: Date = date!(2026 - 03 - 10);
const DUE_END: OffsetDateTime = datetime!(2026-03-10 23:00 UTC);

fn scheduled() -> State {
    given(&[opened(), Event::FollowUpScheduled(schedule(DUE_ON))])
}

#[test]
fn a_follow_up_recorded_on_its_day_is_on_time() {
    let done = follow_up(
        Some(FOLLOW_UP),
        FollowUpOutcome::Found,
        DUE_END - Duration::SECOND,
    );
    let events =
        when(&scheduled(), Command::RecordFollowUp(done.clone()), DUE_END).expect("recorded");
    assert_eq!(events, vec![Event::FollowUpRecorded(done)]);
    let state = apply(scheduled(), &events);
    assert_eq!(state.follow_ups.open().count(), 0);
    assert_eq!(care_deadlines(&state, DUE_END + Duration::days(3)), vec![]);
}

#[test]
fn a_follow_up_recorded_after_its_day_records_the_miss_in_the_same_commit() {
    let late = follow_up(Some(FOLLOW_UP), FollowUpOutcome::Declined, DUE_END);
    let now = DUE_END + Duration::HOUR;
    assert_eq!(
        when(&scheduled(), Command::RecordFollowUp(late.clone()), now),
        Ok(vec![
            Event::FollowUpMissed {
                follow_up_id: follow_up_id(FOLLOW_UP),
                due_on: DUE_ON,
                detected_at: now,
            },
            Event::FollowUpRecorded(late.clone()),
        ])
    );
    // Already marked by the watcher: only the record.
    let marked = apply(
        scheduled(),
        &[Event::FollowUpMissed {
            follow_up_id: follow_up_id(FOLLOW_UP),
            due_on: DUE_ON,
            detected_at: DUE_END,
        }],
    );
    assert_eq!(
        when(&marked, Command::RecordFollowUp(late.clone()), now),
        Ok(vec![Event::FollowUpRecorded(late)])
    );
}

#[test]
fn a_follow_up_is_recorded_once() {
    let done = follow_up(Some(FOLLOW_UP), FollowUpOutcome::Found, NOW);
    let state = apply(scheduled(), &[Event::FollowUpRecorded(done.clone())]);
    assert_eq!(
        when(&state, Command::RecordFollowUp(done), NOW),
        Err(ScreeningError::FollowUpAlreadyRecorded)
    );
}

#[test]
fn a_follow_up_not_scheduled_on_the_case_is_invalid() {
    assert_invalid(
        when(
            &scheduled(),
            Command::RecordFollowUp(follow_up(
                Some("another-follow-up"),
                FollowUpOutcome::Found,
                NOW,
            )),
            NOW,
        ),
        "follow_up_id",
    );
}

#[test]
fn a_follow_up_before_arrival_or_in_the_future_is_invalid() {
    for at in [ARRIVAL - Duration::SECOND, NOW + Duration::SECOND] {
        assert_invalid(
            when(
                &scheduled(),
                Command::RecordFollowUp(follow_up(Some(FOLLOW_UP), FollowUpOutcome::Found, at)),
                NOW,
            ),
            "at",
        );
    }
}

#[test]
fn a_contact_not_scheduled_is_recorded() {
    let contact = follow_up(None, FollowUpOutcome::Escalated, NOW);
    assert_eq!(
        when(
            &given(&[opened()]),
            Command::RecordFollowUp(contact.clone()),
            NOW
        ),
        Ok(vec![Event::FollowUpRecorded(contact)])
    );
}

#[test]
fn after_a_transfer_a_follow_up_that_found_the_person_confirms_the_arrival() {
    let placed_at = NOW;
    let state = given(&[
        opened(),
        Event::CasePlaced(transfer("cas-roma-1", placed_at)),
    ]);
    let due = placed_at + Duration::hours(72);
    let arrived = follow_up(None, FollowUpOutcome::Found, placed_at + Duration::hours(5));
    let events = when(
        &state,
        Command::RecordFollowUp(arrived.clone()),
        placed_at + Duration::hours(6),
    )
    .expect("recorded");
    assert_eq!(events, vec![Event::FollowUpRecorded(arrived)]);
    let state = apply(state, &events);
    assert!(state.follow_ups.awaited_arrival().is_none());
    assert_eq!(care_deadlines(&state, due + Duration::days(1)), vec![]);
}

#[test]
fn not_found_or_a_contact_before_the_transfer_confirms_no_arrival() {
    let placed_at = NOW;
    let state = given(&[
        opened(),
        Event::CasePlaced(transfer("cas-roma-1", placed_at)),
    ]);
    for record in [
        follow_up(None, FollowUpOutcome::NotFound, placed_at + Duration::HOUR),
        follow_up(None, FollowUpOutcome::Found, placed_at - Duration::HOUR),
    ] {
        let after = apply(state.clone(), &[Event::FollowUpRecorded(record)]);
        assert!(after.follow_ups.awaited_arrival().is_some());
    }
}

#[test]
fn an_arrival_found_after_the_time_allowed_records_the_person_lost_first() {
    let placed_at = NOW;
    let due = placed_at + Duration::hours(72);
    let state = given(&[
        opened(),
        Event::CasePlaced(transfer("cas-roma-1", placed_at)),
    ]);
    let late = follow_up(None, FollowUpOutcome::Found, due + Duration::HOUR);
    let now = due + Duration::hours(2);
    assert_eq!(
        when(&state, Command::RecordFollowUp(late.clone()), now),
        Ok(vec![
            Event::LostToFollowUp {
                facility_id: facility("cas-roma-1"),
                placed_at,
                due_at: due,
                detected_at: now,
            },
            Event::FollowUpRecorded(late),
        ])
    );
}

#[test]
fn snapshot_of_a_follow_up_recorded() {
    let outcome = when(
        &scheduled(),
        Command::RecordFollowUp(follow_up(Some(FOLLOW_UP), FollowUpOutcome::Found, NOW)),
        NOW,
    );
    expect![[r#"
        FollowUpRecorded(
            FollowUpRecord {
                follow_up_id: Some(
                    FollowUpId(
                        "0190a1b2-0000-7000-8000-00000000f001",
                    ),
                ),
                outcome: Found,
                at: 2026-03-04 12:00:00.0 +00:00:00,
                recorded_by_organisation: "cas-roma-1",
            },
        )"#]]
    .assert_eq(&render(outcome));
}
