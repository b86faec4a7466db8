//! The referral record's reactions to what screening recorded about its case,
//! run by the service's watcher: a closed case cancels the referrals not yet
//! in care and tells the receivers of those in care; a case placed elsewhere
//! takes its referrals with it (their province, the receiver told).

use super::{by_the_system, system_acts_on};
use crate::{Context, Event, Place, ReferralError, ReferralId, ReferralState, State};

/// Whether a referral must react to its case's closure: cancelled while not
/// yet in care (draft, sent, received, accepted), its receiver told once
/// while in care or on hold.
pub fn closure_reaction_due(state: ReferralState, closure_notified: bool) -> bool {
    use ReferralState as S;
    match state {
        S::Draft | S::Sent | S::Received | S::Accepted => true,
        S::InCare | S::OnHold => !closure_notified,
        _ => false,
    }
}

/// Whether an open referral must follow its case to another place: it knows
/// where the case was (referrals drafted before places were recorded do not)
/// and the case is elsewhere now.
pub fn transfer_due(state: ReferralState, known: Option<&Place>, case: Option<&Place>) -> bool {
    match (known, case) {
        (Some(known), Some(case)) => !state.is_terminal() && known != case,
        _ => false,
    }
}

pub(super) fn react_to_closure(
    state: &State,
    referral_id: ReferralId,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
    by_the_system(context)?;
    let Some(reason) = &context.case.closed else {
        return Err(ReferralError::NothingToReactTo);
    };
    let referral = state
        .referrals
        .get(&referral_id)
        .ok_or(ReferralError::ReferralNotFound)?;
    if !closure_reaction_due(referral.state, referral.closure_notified) {
        return Err(ReferralError::NothingToReactTo);
    }
    let at = context.now;
    Ok(vec![match referral.state {
        ReferralState::InCare | ReferralState::OnHold => Event::CaseClosureNotified {
            referral_id,
            reason: reason.clone(),
            at,
        },
        _ => Event::ReferralCancelled {
            referral_id,
            at,
            reason: crate::CancelReason::CaseClosed,
        },
    }])
}

pub(super) fn follow_transfer(
    state: &State,
    referral_id: ReferralId,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
    let referral = system_acts_on(state, &referral_id, context)?;
    let case = context.case.place.as_ref();
    if !transfer_due(referral.state, referral.place.as_ref(), case) {
        return Err(ReferralError::NothingToReactTo);
    }
    let place = case.cloned().ok_or(ReferralError::NothingToReactTo)?;
    Ok(vec![Event::ReferralCaseTransferred {
        referral_id,
        place,
        at: context.now,
    }])
}
