//! Taking charge (presa in carico) and the care that follows: on hold and
//! back, completion, or loss to follow-up.

use super::deadlines::late;
use super::{Party, open_case, transition};
use crate::{
    CareOutcome, Context, DeadlineKind, Event, FailureReason, ReferralError, ReferralId,
    ReferralState as S, State,
};

pub(super) fn take_charge(
    state: &State,
    referral_id: ReferralId,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
    let now = context.now;
    let referral = transition(
        state,
        &referral_id,
        context,
        Party::Receiver,
        &[S::Accepted],
    )?;
    open_case(context)?;
    let mut events = late(&referral, &referral_id, DeadlineKind::TakingCharge, context);
    events.push(Event::TakenIntoCare {
        referral_id,
        at: now,
    });
    Ok(events)
}

pub(super) fn hold(
    state: &State,
    referral_id: ReferralId,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
    transition(state, &referral_id, context, Party::Receiver, &[S::InCare])?;
    Ok(vec![Event::PutOnHold {
        referral_id,
        at: context.now,
    }])
}

pub(super) fn resume(
    state: &State,
    referral_id: ReferralId,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
    transition(state, &referral_id, context, Party::Receiver, &[S::OnHold])?;
    Ok(vec![Event::Resumed {
        referral_id,
        at: context.now,
    }])
}

pub(super) fn complete(
    state: &State,
    referral_id: ReferralId,
    outcome: CareOutcome,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
    transition(state, &referral_id, context, Party::Receiver, &[S::InCare])?;
    Ok(vec![Event::ReferralCompleted {
        referral_id,
        at: context.now,
        outcome,
    }])
}

pub(super) fn mark_failed(
    state: &State,
    referral_id: ReferralId,
    reason: Option<FailureReason>,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
    // Either party may lose track of the person once care was agreed.
    transition(
        state,
        &referral_id,
        context,
        Party::Either,
        &[S::Accepted, S::InCare, S::OnHold],
    )?;
    Ok(vec![Event::ReferralFailed {
        referral_id,
        at: context.now,
        reason,
    }])
}
