//! The consent ledger: consents and recorded exceptions, and their withdrawal,
//! which revokes every open referral that relied on them in the same commit.

use time::OffsetDateTime;

use super::invalid;
use crate::{Actor, Basis, ConsentId, Context, Event, Recipient, ReferralError, State};

pub(super) fn give(
    state: &State,
    consent_id: ConsentId,
    recipient: Recipient,
    basis: Basis,
    given_at: OffsetDateTime,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
    let now = context.now;
    if context.actor == Actor::System {
        return Err(ReferralError::NotAllowedForActor);
    }
    if state.consents.contains_key(&consent_id) {
        return Err(ReferralError::AlreadyExists);
    }
    if given_at > now {
        return Err(invalid("given_at", "is in the future"));
    }
    if let Basis::Consent {
        scopes,
        valid_until,
        grantor,
        ..
    } = &basis
    {
        if scopes.is_empty() {
            return Err(invalid("scopes", "a consent must name what may be shared"));
        }
        if *valid_until <= now {
            return Err(invalid("valid_until", "is not in the future"));
        }
        if context.case_concerns_a_minor && !grantor.valid_for_a_minor() {
            return Err(ReferralError::MinorConsentRequired);
        }
    }
    Ok(vec![Event::ConsentGiven {
        consent_id,
        recipient,
        basis,
        given_at,
    }])
}

pub(super) fn withdraw(
    state: &State,
    consent_id: ConsentId,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
    let now = context.now;
    if context.actor == Actor::System {
        return Err(ReferralError::NotAllowedForActor);
    }
    let entry = state
        .consents
        .get(&consent_id)
        .ok_or(ReferralError::ConsentNotFound)?;
    if entry.withdrawn_at.is_some() {
        return Err(ReferralError::AlreadyWithdrawn);
    }
    let mut events = vec![Event::ConsentWithdrawn {
        consent_id: consent_id.clone(),
        withdrawn_at: now,
    }];
    for (referral_id, referral) in &state.referrals {
        if referral.consent_id == consent_id && !referral.state.is_terminal() {
            events.push(Event::ReferralRevoked {
                referral_id: referral_id.clone(),
                at: now,
                consent_id: consent_id.clone(),
            });
        }
    }
    Ok(events)
}
