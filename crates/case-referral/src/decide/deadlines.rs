//! The deadlines of a referral (acknowledgement, answer, taking charge): when
//! they fall due, the watcher's marking of a missed one, the mark a late
//! action records in its own commit, and their tightening when the case's
//! urgency rises after sending (earlier, never later). A closed case's
//! deadlines stop: nothing marks them any more.

use pathway::Urgency;
use time::OffsetDateTime;

use super::system_acts_on;
use crate::{
    Context, DeadlineKind, Event, Referral, ReferralError, ReferralId, ReferralState, State,
};

pub(super) fn mark_missed(
    state: &State,
    referral_id: ReferralId,
    kind: DeadlineKind,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
    let now = context.now;
    let referral = system_acts_on(state, &referral_id, context)?;
    let Some(due_at) = due(referral, kind) else {
        return Err(ReferralError::DeadlineNotMissed);
    };
    if due_at > now {
        return Err(ReferralError::DeadlineNotMissed);
    }
    let mut events = vec![Event::DeadlineMissed {
        referral_id: referral_id.clone(),
        kind,
        due_at,
        detected_at: now,
    }];
    // No answer in time: the referral expires, so it cannot be answered late.
    if kind == DeadlineKind::Answer {
        events.push(Event::ReferralExpired {
            referral_id,
            at: now,
        });
    }
    Ok(events)
}

/// Whether a referral's deadlines must follow the case's urgency `case`:
/// it awaits an acknowledgement or an answer (sent, received) and the case is
/// now more urgent than the urgency its deadlines follow (a referral sent
/// before the urgency was recorded counts as standard).
pub fn tightening_due(state: ReferralState, follows: Option<Urgency>, case: Urgency) -> bool {
    matches!(state, ReferralState::Sent | ReferralState::Received)
        && case < follows.unwrap_or(Urgency::Standard)
}

/// The case's urgency rose after sending: the windows of the new urgency run
/// from when the case reached it (or from sending, if later), and each open
/// deadline becomes the earlier of what it was and what the new urgency gives.
pub(super) fn tighten(
    state: &State,
    referral_id: ReferralId,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
    let referral = system_acts_on(state, &referral_id, context)?;
    let urgency = context.case.urgency();
    if !tightening_due(referral.state, referral.urgency, urgency) {
        return Err(ReferralError::NothingToReactTo);
    }
    let since = context.case.urgency_since.unwrap_or(context.now);
    let from = referral.sent_at.map_or(since, |sent| sent.max(since));
    let (acknowledge, answer) = context.deadlines.deadlines(urgency, from);
    let earlier =
        |was: Option<OffsetDateTime>, now: OffsetDateTime| was.map_or(now, |was| was.min(now));
    Ok(vec![Event::DeadlinesTightened {
        referral_id,
        urgency,
        acknowledge_by: earlier(referral.acknowledge_by, acknowledge),
        answer_by: earlier(referral.answer_by, answer),
        at: context.now,
    }])
}

/// A deadline that passed unmarked before a late action: recorded in the same
/// commit, so that a missed deadline is never silent (unless the case is
/// closed: its deadlines stopped).
pub(super) fn late(
    referral: &Referral,
    referral_id: &ReferralId,
    kind: DeadlineKind,
    context: &Context,
) -> Vec<Event> {
    if context.case.is_closed() {
        return Vec::new();
    }
    match due(referral, kind) {
        Some(due_at) if due_at <= context.now => vec![Event::DeadlineMissed {
            referral_id: referral_id.clone(),
            kind,
            due_at,
            detected_at: context.now,
        }],
        _ => Vec::new(),
    }
}

/// When a deadline of a referral falls due, if it is still open and not yet marked.
fn due(referral: &Referral, kind: DeadlineKind) -> Option<OffsetDateTime> {
    if referral.missed.contains(&kind) {
        return None;
    }
    match kind {
        DeadlineKind::Acknowledgement if referral.state == ReferralState::Sent => {
            referral.acknowledge_by
        }
        DeadlineKind::Answer
            if matches!(
                referral.state,
                ReferralState::Sent | ReferralState::Received
            ) =>
        {
            referral.answer_by
        }
        DeadlineKind::TakingCharge if referral.state == ReferralState::Accepted => {
            referral.take_charge_by
        }
        _ => None,
    }
}

/// The deadlines of a referral passed unmet and unmarked at `now`.
pub(super) fn missed(referral: &Referral, now: OffsetDateTime) -> Vec<DeadlineKind> {
    DeadlineKind::ALL
        .iter()
        .copied()
        .filter(|kind| due(referral, *kind).is_some_and(|at| at <= now))
        .collect()
}
