//! The access log: every read of a referral's minimum dataset by an
//! organisation is an event, whoever reads.

use super::invalid;
use crate::{Actor, Context, Event, ReferralError, ReferralId, State};

pub(super) fn record_dataset_read(
    state: &State,
    referral_ids: Vec<ReferralId>,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
    if referral_ids.is_empty() {
        return Err(invalid(
            "referral_ids",
            "a read names at least one referral",
        ));
    }
    // Who may read is the service's to decide; every read by an
    // organisation is recorded, and the system never reads.
    if !matches!(context.actor, Actor::Organisation(_)) {
        return Err(ReferralError::NotAllowedForActor);
    }
    if referral_ids
        .iter()
        .any(|id| !state.referrals.contains_key(id))
    {
        return Err(ReferralError::ReferralNotFound);
    }
    Ok(vec![Event::DatasetRead {
        referral_ids,
        read_at: context.now,
    }])
}
