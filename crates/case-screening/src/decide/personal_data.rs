//! The person's personal data: its erasure (GDPR Art. 17) and the log of every
//! read of it. Both apply to closed cases too.

use time::OffsetDateTime;

use super::opened;
use crate::{ErasureReason, Event, ReadPurpose, ScreeningError, State};

pub(super) fn erase(
    state: &State,
    reason: ErasureReason,
    now: OffsetDateTime,
) -> Result<Vec<Event>, ScreeningError> {
    opened(state)?;
    if state.personal_data_erased {
        return Err(ScreeningError::PersonalDataErased);
    }
    Ok(vec![Event::PersonalDataErased {
        reason,
        erased_at: now,
    }])
}

pub(super) fn record_identity_read(
    state: &State,
    purpose: ReadPurpose,
    now: OffsetDateTime,
) -> Result<Vec<Event>, ScreeningError> {
    opened(state)?;
    // Nothing identifying is left to read once erased.
    if state.personal_data_erased {
        return Err(ScreeningError::PersonalDataErased);
    }
    Ok(vec![Event::IdentityRead {
        purpose,
        read_at: now,
    }])
}
