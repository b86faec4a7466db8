//! The referrer's side of a referral: drafting it (for a receiver the
//! directory registers with its service type, with a dataset of what the case
//! has, recording where the case is and the pathway rules in force), sending
//! it under a valid consent (deadlines from the case's urgency), and
//! cancelling it.

use super::{Party, invalid, open_case, transition};
use crate::{
    Actor, CancelReason, ConsentId, Context, Dataset, Event, OrganisationId, OrganisationProfile,
    Referral, ReferralError, ReferralId, ReferralState as S, ServiceType, State,
};

/// What a new referral is made of.
pub(super) struct Draft {
    pub referral_id: ReferralId,
    pub receiver: OrganisationId,
    pub service_type: ServiceType,
    pub consent_id: ConsentId,
    pub dataset: Dataset,
}

pub(super) fn create(
    state: &State,
    draft: Draft,
    send: bool,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
    let Draft {
        referral_id,
        receiver,
        service_type,
        consent_id,
        dataset,
    } = draft;
    let Actor::Organisation(referrer) = &context.actor else {
        return Err(ReferralError::NotTheReferrer);
    };
    open_case(context)?;
    if state.referrals.contains_key(&referral_id) {
        return Err(ReferralError::AlreadyExists);
    }
    if *referrer == receiver {
        return Err(invalid(
            "receiver_organisation_id",
            "cannot refer to oneself",
        ));
    }
    if dataset.categories.is_empty() {
        return Err(invalid(
            "dataset.categories",
            "a referral names at least one category",
        ));
    }
    if let Some((index, _)) = dataset.category_not_on(&context.case) {
        return Err(invalid(
            format!("dataset.categories[{index}]"),
            "not suspected or confirmed on the case",
        ));
    }
    match registered(context, &receiver) {
        None => {
            return Err(invalid(
                "receiver_organisation_id",
                "not an active organisation of the directory",
            ));
        }
        Some(entry) if !entry.service_types.contains(&service_type) => {
            return Err(invalid(
                "service_type",
                "not a service type the receiver is registered with",
            ));
        }
        Some(_) => {}
    }
    if !state.consents.contains_key(&consent_id) {
        return Err(ReferralError::ConsentNotFound);
    }
    let mut events = vec![Event::ReferralDrafted {
        referral_id: referral_id.clone(),
        referrer: referrer.clone(),
        receiver,
        service_type,
        consent_id,
        dataset: Some(dataset),
        place: context.case.place.clone(),
        rules_version: context.rules_version,
    }];
    if send {
        // Sending is decided on the state as it will be once the draft is recorded.
        let drafted = State::from_events([]).evolve(&events[0]);
        let referral = &drafted.referrals[&referral_id];
        events.extend(send_events(state, referral, &referral_id, context)?);
    }
    Ok(events)
}

pub(super) fn send(
    state: &State,
    referral_id: ReferralId,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
    let referral = transition(state, &referral_id, context, Party::Referrer, &[S::Draft])?;
    open_case(context)?;
    send_events(state, &referral, &referral_id, context)
}

pub(super) fn cancel(
    state: &State,
    referral_id: ReferralId,
    reason: CancelReason,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
    if !reason.by_a_referrer() {
        return Err(invalid(
            "cancel.reason",
            "a closed case's referrals are cancelled by the service",
        ));
    }
    // Once the receiver has accepted, the referral is theirs to carry on:
    // the referrer can no longer cancel it (so an accept and a cancel
    // racing on the same referral have exactly one winner).
    transition(
        state,
        &referral_id,
        context,
        Party::Referrer,
        &[S::Draft, S::Sent, S::Received],
    )?;
    Ok(vec![Event::ReferralCancelled {
        referral_id,
        at: context.now,
        reason,
    }])
}

/// The receiver's directory entry in the context, if it is that
/// organisation's and it is active.
fn registered<'a>(
    context: &'a Context,
    receiver: &OrganisationId,
) -> Option<&'a OrganisationProfile> {
    context
        .receiver
        .as_ref()
        .filter(|entry| entry.organisation_id == *receiver && entry.active)
}

/// Sending `referral` (recorded in `state` or drafted in the same command):
/// checked against the directory, the case and the consent as they are now;
/// its deadlines follow the case's current urgency, whatever the dataset says.
fn send_events(
    state: &State,
    referral: &Referral,
    referral_id: &ReferralId,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
    let entry = state
        .consents
        .get(&referral.consent_id)
        .ok_or(ReferralError::ConsentNotFound)?;
    let dataset = referral
        .dataset
        .as_ref()
        .ok_or(ReferralError::PersonalDataErased)?;
    let receiver = registered(context, &referral.receiver)
        .filter(|receiver| receiver.service_types.contains(&referral.service_type))
        .ok_or(ReferralError::ReceiverDoesNotOffer)?;
    // The case may have changed since the draft: a category ruled out.
    if dataset.category_not_on(&context.case).is_some() {
        return Err(ReferralError::CategoryNotOnCase);
    }
    if !entry.covers(receiver, referral.service_type, dataset, context.now) {
        return Err(ReferralError::NoValidConsent);
    }
    // The case may have been found to concern a minor after the consent was given.
    if let crate::Basis::Consent { grantor, .. } = &entry.basis
        && !grantor.valid_for(&context.case, &context.minors)
    {
        return Err(ReferralError::MinorConsentRequired);
    }
    let urgency = context.case.urgency();
    let (acknowledge_by, answer_by) = context.deadlines.deadlines(urgency, context.now);
    Ok(vec![Event::ReferralSent {
        referral_id: referral_id.clone(),
        sent_at: context.now,
        acknowledge_by,
        answer_by,
        urgency: Some(urgency),
        policy_version: context.deadlines.version,
    }])
}
