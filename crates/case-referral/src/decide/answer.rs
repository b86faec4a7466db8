//! The receiver's answer to a referral: the receipt, then acceptance or
//! decline (possibly redirecting to another organisation). A closed case's
//! referrals are no longer received or accepted (they are being cancelled).

use super::deadlines::late;
use super::{Party, invalid, open_case, transition};
use crate::{
    Context, DeadlineKind, DeclineReason, Event, OrganisationId, Referral, ReferralError,
    ReferralId, ReferralState as S, State,
};

pub(super) fn receive(
    state: &State,
    referral_id: ReferralId,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
    let now = context.now;
    let referral = transition(state, &referral_id, context, Party::Receiver, &[S::Sent])?;
    open_case(context)?;
    let mut events = late(
        &referral,
        &referral_id,
        DeadlineKind::Acknowledgement,
        context,
    );
    events.push(Event::ReferralReceived {
        referral_id,
        at: now,
    });
    Ok(events)
}

pub(super) fn accept(
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
        &[S::Sent, S::Received],
    )?;
    open_case(context)?;
    let mut events = answer_events(&referral, &referral_id, context);
    events.push(Event::ReferralAccepted {
        referral_id,
        at: now,
        take_charge_by: now + context.deadlines.take_charge,
    });
    Ok(events)
}

pub(super) fn decline(
    state: &State,
    referral_id: ReferralId,
    reason: DeclineReason,
    redirect_to: Option<OrganisationId>,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
    let now = context.now;
    let referral = transition(
        state,
        &referral_id,
        context,
        Party::Receiver,
        &[S::Sent, S::Received],
    )?;
    if redirect_to
        .as_ref()
        .is_some_and(|to| *to == referral.receiver)
    {
        return Err(invalid(
            "redirect_to_organisation_id",
            "cannot redirect to the same organisation",
        ));
    }
    let mut events = answer_events(&referral, &referral_id, context);
    events.push(Event::ReferralDeclined {
        referral_id,
        at: now,
        reason,
        redirect_to,
    });
    Ok(events)
}

/// What precedes an answer (accept or decline): the receipt when the receiver
/// answers straight from `sent`, and any deadline it answers after.
fn answer_events(referral: &Referral, referral_id: &ReferralId, context: &Context) -> Vec<Event> {
    let mut events = Vec::new();
    if referral.state == S::Sent {
        events.extend(late(
            referral,
            referral_id,
            DeadlineKind::Acknowledgement,
            context,
        ));
        events.push(Event::ReferralReceived {
            referral_id: referral_id.clone(),
            at: context.now,
        });
    }
    events.extend(late(referral, referral_id, DeadlineKind::Answer, context));
    events
}
