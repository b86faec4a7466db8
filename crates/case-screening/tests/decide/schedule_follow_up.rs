//! `ScheduleFollowUp`: a follow-up due on a day, with a purpose code.

use super::care::*;
use super::support::*;

#[test]
fn a_follow_up_is_scheduled() {
    let scheduled = schedule(date!(2026 - 03 - 10));
    let state = given(&[opened()]);
    let events = when(&state, Command::ScheduleFollowUp(scheduled.clone()), NOW).expect("ok");
    assert_eq!(events, vec![Event::FollowUpScheduled(scheduled)]);
    let state = apply(state, &events);
    assert_eq!(state.follow_ups.open().count(), 1);
}

#[test]
fn a_follow_up_due_today_in_rome_is_accepted_and_yesterday_is_invalid() {
    // 23:30 UTC on 4 March is already 5 March in Rome.
    let late_evening = datetime!(2026-03-04 23:30 UTC);
    let state = given(&[opened()]);
    assert!(
        when(
            &state,
            Command::ScheduleFollowUp(schedule(date!(2026 - 03 - 05))),
            late_evening
        )
        .is_ok()
    );
    assert_invalid(
        when(
            &state,
            Command::ScheduleFollowUp(schedule(date!(2026 - 03 - 04))),
            late_evening,
        ),
        "due_on",
    );
}

#[test]
fn a_follow_up_more_than_a_year_ahead_is_invalid() {
    assert_invalid(
        when(
            &given(&[opened()]),
            Command::ScheduleFollowUp(schedule(date!(2027 - 03 - 06))),
            NOW,
        ),
        "due_on",
    );
}

#[test]
fn the_same_follow_up_twice_is_invalid() {
    let state = given(&[
        opened(),
        Event::FollowUpScheduled(schedule(date!(2026 - 03 - 10))),
    ]);
    assert_invalid(
        when(
            &state,
            Command::ScheduleFollowUp(schedule(date!(2026 - 03 - 12))),
            NOW,
        ),
        "follow_up_id",
    );
}

#[test]
fn at_most_32_follow_ups_wait_to_be_recorded() {
    let mut events = vec![opened()];
    for i in 0..32 {
        events.push(Event::FollowUpScheduled(FollowUpSchedule {
            follow_up_id: follow_up_id(&format!("follow-up-{i}")),
            ..schedule(date!(2026 - 03 - 10))
        }));
    }
    let full = given(&events);
    let one_more = FollowUpSchedule {
        follow_up_id: follow_up_id("follow-up-32"),
        ..schedule(date!(2026 - 03 - 10))
    };
    assert_eq!(
        when(&full, Command::ScheduleFollowUp(one_more.clone()), NOW),
        Err(ScreeningError::TooManyOpenFollowUps)
    );
    // One recorded frees a place.
    let freed = apply(
        full,
        &[Event::FollowUpRecorded(follow_up(
            Some("follow-up-0"),
            FollowUpOutcome::Found,
            NOW,
        ))],
    );
    assert!(when(&freed, Command::ScheduleFollowUp(one_more), NOW).is_ok());
}

#[test]
fn snapshot_of_a_follow_up_scheduled() {
    let outcome = when(
        &given(&[opened()]),
        Command::ScheduleFollowUp(schedule(date!(2026 - 03 - 10))),
        NOW,
    );
    expect![[r#"
        FollowUpScheduled(
            FollowUpSchedule {
                follow_up_id: FollowUpId(
                    "0190a1b2-0000-7000-8000-00000000f001",
                ),
                due_on: 2026-03-10,
                purpose: Wellbeing,
                scheduled_by_organisation: "hotspot-lampedusa",
            },
        )"#]]
    .assert_eq(&render(outcome));
}
