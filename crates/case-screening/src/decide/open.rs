//! Opening a case: the arrival, where the screening record begins.

use pathway::calendar::date_in_rome;
use time::OffsetDateTime;

use super::{invalid, not_after};
use crate::{Event, FacilityKind, OpenCase, ScreeningError, State};

pub(super) fn open(
    state: &State,
    open: OpenCase,
    now: OffsetDateTime,
) -> Result<Vec<Event>, ScreeningError> {
    // Even a closed case stays opened: its id is never reused.
    if state.opened.is_some() {
        return Err(ScreeningError::AlreadyOpened);
    }
    not_after(open.arrived_at, now, "arrival.arrived_at")?;
    // The service reads the kind from the facility's registration.
    if open.facility_kind.is_none() {
        return Err(invalid(
            "facility_kind",
            "is required (the facility's registered kind)",
        ));
    }
    // The detention rule holds for an opening too: a minor is detained only
    // with recorded grounds, which only a placement carries (`PlaceCase`).
    if open.facility_kind == Some(FacilityKind::Detention) && open.age_band.is_minor() {
        return Err(ScreeningError::DetentionNeedsJustification);
    }
    if let Some(date) = open.application_date
        && date > date_in_rome(now)
    {
        return Err(invalid("application_date", "is in the future"));
    }
    for (i, link) in open.family_links.iter().enumerate() {
        if link.case_id == open.case_id {
            return Err(invalid(
                format!("family_links[{i}].case_id"),
                "links the case to itself",
            ));
        }
        if open.family_links[..i]
            .iter()
            .any(|other| other.case_id == link.case_id)
        {
            return Err(invalid(
                format!("family_links[{i}].case_id"),
                "is linked twice",
            ));
        }
    }
    // The case is opened now: the screening deadline of a case opened in the
    // territory runs from this instant.
    Ok(vec![Event::CaseOpened(OpenCase {
        opened_at: Some(now),
        ..open
    })])
}
