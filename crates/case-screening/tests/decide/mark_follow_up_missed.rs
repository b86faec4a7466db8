//! `MarkFollowUpMissed`: a follow-up's day ended in Rome without a record.

use super::care::*;
use super::support::*;

/// 29 March, the day summer time starts: it ends at 22:00 UTC.
const DUE_ON: Date = date!(2026 - 03 - 29);
const DUE_END: OffsetDateTime = datetime!(2026-03-29 22:00 UTC);

fn mark() -> Command {
    Command::MarkFollowUpMissed {
        follow_up_id: follow_up_id(FOLLOW_UP),
    }
}

fn scheduled() -> State {
    given(&[opened(), Event::FollowUpScheduled(schedule(DUE_ON))])
}

#[test]
fn a_follow_up_is_missed_when_its_day_ends_in_rome() {
    assert_eq!(
        when(&scheduled(), mark(), DUE_END - Duration::NANOSECOND),
        Err(ScreeningError::DeadlineNotMissed)
    );
    assert_eq!(
        when(&scheduled(), mark(), DUE_END),
        Ok(vec![Event::FollowUpMissed {
            follow_up_id: follow_up_id(FOLLOW_UP),
            due_on: DUE_ON,
            detected_at: DUE_END,
        }])
    );
}

#[test]
fn a_follow_up_is_marked_missed_once_and_never_once_recorded() {
    let missed = apply(
        scheduled(),
        &when(&scheduled(), mark(), DUE_END).expect("missed"),
    );
    assert_eq!(
        when(&missed, mark(), DUE_END + Duration::days(2)),
        Err(ScreeningError::DeadlineNotMissed)
    );
    let recorded = apply(
        scheduled(),
        &[Event::FollowUpRecorded(follow_up(
            Some(FOLLOW_UP),
            FollowUpOutcome::Found,
            NOW,
        ))],
    );
    assert_eq!(
        when(&recorded, mark(), DUE_END + Duration::days(2)),
        Err(ScreeningError::DeadlineNotMissed)
    );
    assert_eq!(
        when(&given(&[opened()]), mark(), DUE_END),
        Err(ScreeningError::DeadlineNotMissed),
        "no such follow-up"
    );
}

#[test]
fn missed_deadlines_lists_each_follow_up_due() {
    let other = FollowUpSchedule {
        follow_up_id: follow_up_id("follow-up-later"),
        ..schedule(date!(2026 - 04 - 30))
    };
    let state = apply(scheduled(), &[Event::FollowUpScheduled(other)]);
    assert_eq!(
        care_deadlines(&state, DUE_END - Duration::NANOSECOND),
        vec![]
    );
    assert_eq!(care_deadlines(&state, DUE_END), vec![mark()]);
    let both = care_deadlines(&state, datetime!(2026-05-01 00:00 UTC));
    assert!(both.contains(&mark()));
    assert!(both.contains(&Command::MarkFollowUpMissed {
        follow_up_id: follow_up_id("follow-up-later")
    }));
}

#[test]
fn snapshot_of_a_follow_up_missed() {
    let outcome = when(&scheduled(), mark(), DUE_END);
    expect![[r#"
        FollowUpMissed {
            follow_up_id: FollowUpId(
                "0190a1b2-0000-7000-8000-00000000f001",
            ),
            due_on: 2026-03-29,
            detected_at: 2026-03-29 22:00:00.0 +00:00:00,
        }"#]]
    .assert_eq(&render(outcome));
}
