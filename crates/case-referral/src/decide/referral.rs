//! The referrer's side of a referral: drafting it, sending it under a valid
//! consent (which sets its deadlines), and cancelling it.

use pathway::Urgency;

use super::{Party, invalid, transition};
use crate::{
    Actor, Basis, ConsentId, Context, Dataset, Event, OrganisationId, ReferralError, ReferralId,
    ReferralState as S, ServiceType, State,
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
    }];
    if send {
        // Sending is decided on the state as it will be once the draft is recorded.
        let drafted = State::from_events([]).evolve(&events[0]);
        let merged = State {
            consents: state.consents.clone(),
            referrals: drafted.referrals,
        };
        events.extend(send_events(&merged, &referral_id, context)?);
    }
    Ok(events)
}

pub(super) fn send(
    state: &State,
    referral_id: ReferralId,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
    transition(state, &referral_id, context, Party::Referrer, &[S::Draft])?;
    send_events(state, &referral_id, context)
}

pub(super) fn cancel(
    state: &State,
    referral_id: ReferralId,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
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
    }])
}

fn send_events(
    state: &State,
    referral_id: &ReferralId,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
    let referral = state
        .referrals
        .get(referral_id)
        .ok_or(ReferralError::ReferralNotFound)?;
    let entry = state
        .consents
        .get(&referral.consent_id)
        .ok_or(ReferralError::ConsentNotFound)?;
    let dataset = referral
        .dataset
        .as_ref()
        .ok_or(ReferralError::PersonalDataErased)?;
    if !entry.covers(
        &referral.receiver,
        referral.service_type,
        dataset,
        context.now,
    ) {
        return Err(ReferralError::NoValidConsent);
    }
    // The case may have been found to concern a minor after the consent was given.
    if let Basis::Consent { grantor, .. } = &entry.basis
        && context.case_concerns_a_minor
        && !grantor.valid_for_a_minor()
    {
        return Err(ReferralError::MinorConsentRequired);
    }
    let urgency = dataset.urgency.unwrap_or(Urgency::Standard);
    let window = context.deadlines.acknowledge_within(urgency);
    Ok(vec![Event::ReferralSent {
        referral_id: referral_id.clone(),
        sent_at: context.now,
        acknowledge_by: context.now + window,
        answer_by: context.now + window * context.deadlines.answer_windows,
    }])
}
