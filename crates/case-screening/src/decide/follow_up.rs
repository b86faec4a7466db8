//! Follow-up: scheduling and recording follow-ups of a case, and the two
//! deadlines the watcher marks: a follow-up missed (its day ended in Rome
//! unrecorded), and a transferred person lost to follow-up (the new facility
//! did not find them in time).

use time::OffsetDateTime;

use super::{invalid, open_case, within};
use crate::follow_up::{MAX_OPEN_FOLLOW_UPS, confirms_arrival, follow_up_due_at};
use crate::{Event, FollowUpId, FollowUpRecord, FollowUpSchedule, ScreeningError, State};

/// How far ahead a follow-up may be scheduled.
const LONGEST_AHEAD: time::Duration = time::Duration::days(366);

pub(super) fn schedule(
    state: &State,
    schedule: FollowUpSchedule,
    now: OffsetDateTime,
) -> Result<Vec<Event>, ScreeningError> {
    open_case(state)?;
    let today = pathway::calendar::date_in_rome(now);
    if schedule.due_on < today {
        return Err(invalid("due_on", "is in the past"));
    }
    if schedule.due_on > today + LONGEST_AHEAD {
        return Err(invalid("due_on", "is more than a year ahead"));
    }
    if state
        .follow_ups
        .scheduled
        .contains_key(&schedule.follow_up_id)
    {
        return Err(invalid("follow_up_id", "is already scheduled"));
    }
    if state.follow_ups.open().count() >= MAX_OPEN_FOLLOW_UPS {
        return Err(ScreeningError::TooManyOpenFollowUps);
    }
    Ok(vec![Event::FollowUpScheduled(schedule)])
}

pub(super) fn record(
    state: &State,
    record: FollowUpRecord,
    now: OffsetDateTime,
) -> Result<Vec<Event>, ScreeningError> {
    let arrived_at = open_case(state)?.arrived_at;
    within(record.at, arrived_at, now, "at")?;
    // A follow-up or an arrival done after its deadline still records the
    // miss, in the same commit: a missed deadline is never silent.
    let mut events = Vec::new();
    if let Some(id) = &record.follow_up_id {
        let follow_up = state
            .follow_ups
            .scheduled
            .get(id)
            .ok_or_else(|| invalid("follow_up_id", "is not a follow-up of this case"))?;
        if follow_up.recorded {
            return Err(ScreeningError::FollowUpAlreadyRecorded);
        }
        if !follow_up.missed && follow_up_due_at(follow_up.due_on) <= record.at {
            events.push(Event::FollowUpMissed {
                follow_up_id: id.clone(),
                due_on: follow_up.due_on,
                detected_at: now,
            });
        }
    }
    if let Some(arrival) = state.follow_ups.awaited_arrival()
        && confirms_arrival(&record, arrival)
    {
        events.extend(lost_to_follow_up(state, record.at, now));
    }
    events.push(Event::FollowUpRecorded(record));
    Ok(events)
}

pub(super) fn mark_missed(
    state: &State,
    follow_up_id: FollowUpId,
    now: OffsetDateTime,
) -> Result<Vec<Event>, ScreeningError> {
    open_case(state)?;
    match state.follow_ups.scheduled.get(&follow_up_id) {
        Some(follow_up)
            if !follow_up.recorded
                && !follow_up.missed
                && follow_up_due_at(follow_up.due_on) <= now =>
        {
            Ok(vec![Event::FollowUpMissed {
                follow_up_id,
                due_on: follow_up.due_on,
                detected_at: now,
            }])
        }
        _ => Err(ScreeningError::DeadlineNotMissed),
    }
}

pub(super) fn mark_lost(state: &State, now: OffsetDateTime) -> Result<Vec<Event>, ScreeningError> {
    open_case(state)?;
    lost_to_follow_up(state, now, now)
        .map(|event| vec![event])
        .ok_or(ScreeningError::DeadlineNotMissed)
}

/// The arrival a transfer awaits, not confirmed by `at` although due by then.
pub(super) fn lost_to_follow_up(
    state: &State,
    at: OffsetDateTime,
    now: OffsetDateTime,
) -> Option<Event> {
    let arrival = state.follow_ups.awaited_arrival()?;
    (arrival.due_at <= at).then(|| Event::LostToFollowUp {
        facility_id: arrival.facility_id.clone(),
        placed_at: arrival.placed_at,
        due_at: arrival.due_at,
        detected_at: now,
    })
}
