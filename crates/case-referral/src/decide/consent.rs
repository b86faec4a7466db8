//! The consent ledger: consents and recorded exceptions, their withdrawal
//! (which revokes in the same commit every referral relying on them that is
//! not yet in care, and ends the data sharing of those in care), and refusals.

use time::OffsetDateTime;

use super::invalid;
use crate::{
    Actor, Basis, Code, ConsentId, Context, Event, Recipient, ReferralError, ReferralState, State,
};

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
    if state.ledger_has(&consent_id) {
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
        if !grantor.valid_for(&context.case, &context.minors) {
            return Err(ReferralError::MinorConsentRequired);
        }
    }
    Ok(vec![Event::ConsentGiven {
        consent_id,
        recipient,
        basis,
        given_at,
        age_band: context.case.age_band,
    }])
}

pub(super) fn withdraw(
    state: &State,
    consent_id: ConsentId,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
    use ReferralState as S;
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
        if referral.consent_id != consent_id {
            continue;
        }
        match referral.state {
            // Not yet in care: the referral cannot go on without the consent.
            S::Draft | S::Sent | S::Received | S::Accepted => events.push(Event::ReferralRevoked {
                referral_id: referral_id.clone(),
                at: now,
                consent_id: consent_id.clone(),
            }),
            // In care: the care goes on, the sharing of data ends.
            S::InCare | S::OnHold => events.push(Event::ConsentWithdrawnDuringCare {
                referral_id: referral_id.clone(),
                consent_id: consent_id.clone(),
                at: now,
            }),
            _ => {}
        }
    }
    Ok(events)
}

/// A refusal is recorded in the ledger under its own id, and blocks nothing
/// else: another consent may be given later.
pub(super) fn refuse(
    state: &State,
    consent_id: ConsentId,
    recipient: Recipient,
    purpose: Code,
    refused_at: OffsetDateTime,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
    if context.actor == Actor::System {
        return Err(ReferralError::NotAllowedForActor);
    }
    if state.ledger_has(&consent_id) {
        return Err(ReferralError::AlreadyExists);
    }
    if refused_at > context.now {
        return Err(invalid("refused_at", "is in the future"));
    }
    Ok(vec![Event::ConsentRefused {
        consent_id,
        recipient,
        purpose,
        refused_at,
    }])
}
