//! The deadlines of a referral (acknowledgement, answer, taking charge): when
//! they fall due, the watcher's marking of a missed one, and the mark a late
//! action records in its own commit.

use time::OffsetDateTime;

use crate::{
    Actor, Context, DeadlineKind, Event, Referral, ReferralError, ReferralId, ReferralState, State,
};

pub(super) fn mark_missed(
    state: &State,
    referral_id: ReferralId,
    kind: DeadlineKind,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
    let now = context.now;
    if context.actor != Actor::System {
        return Err(ReferralError::NotAllowedForActor);
    }
    let referral = state
        .referrals
        .get(&referral_id)
        .ok_or(ReferralError::ReferralNotFound)?;
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

/// A deadline that passed unmarked before a late action: recorded in the same
/// commit, so that a missed deadline is never silent.
pub(super) fn late(
    referral: &Referral,
    referral_id: &ReferralId,
    kind: DeadlineKind,
    now: OffsetDateTime,
) -> Vec<Event> {
    match due(referral, kind) {
        Some(due_at) if due_at <= now => vec![Event::DeadlineMissed {
            referral_id: referral_id.clone(),
            kind,
            due_at,
            detected_at: now,
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

/// Every deadline that has passed unmet and unmarked: what the watcher must try.
pub fn missed_deadlines(state: &State, now: OffsetDateTime) -> Vec<(ReferralId, DeadlineKind)> {
    let mut missed = Vec::new();
    for (id, referral) in &state.referrals {
        for kind in DeadlineKind::ALL {
            if due(referral, *kind).is_some_and(|at| at <= now) {
                missed.push((id.clone(), *kind));
            }
        }
    }
    missed
}
