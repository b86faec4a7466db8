//! Follow-up of a case (pathway phase 8): follow-ups scheduled with a due day
//! and recorded with an outcome, each due by the end of its day in Rome; and
//! the arrival a transfer expects: the new facility confirms the person
//! arrived (a follow-up found) within the configured time, or the person is
//! lost to follow-up. Codes and ids only.

use std::collections::BTreeMap;

use time::{Date, OffsetDateTime};

use crate::{Event, FacilityId, FollowUpId, FollowUpOutcome, FollowUpPurpose};

/// At most this many follow-ups may wait to be recorded on one case.
pub const MAX_OPEN_FOLLOW_UPS: usize = 32;

/// A follow-up scheduled on a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUpSchedule {
    pub follow_up_id: FollowUpId,
    /// The day (in Rome) it is due: missed when that day ends unrecorded.
    pub due_on: Date,
    pub purpose: FollowUpPurpose,
    /// The caller's verified organisation.
    pub scheduled_by_organisation: String,
}

/// A follow-up done: of one scheduled, or a contact not scheduled (an arrival
/// confirmed after a transfer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUpRecord {
    pub follow_up_id: Option<FollowUpId>,
    pub outcome: FollowUpOutcome,
    /// When the person was followed up.
    pub at: OffsetDateTime,
    /// The caller's verified organisation.
    pub recorded_by_organisation: String,
}

/// When a follow-up due on `day` is missed: when that day ends in Rome.
pub fn follow_up_due_at(day: Date) -> OffsetDateTime {
    pathway::calendar::limit_ends(day, 0)
}

/// A scheduled follow-up as it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledFollowUp {
    pub due_on: Date,
    pub purpose: FollowUpPurpose,
    pub recorded: bool,
    pub missed: bool,
}

/// The arrival a transfer expects at the new facility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedArrival {
    pub facility_id: FacilityId,
    pub placed_at: OffsetDateTime,
    pub due_at: OffsetDateTime,
    /// A follow-up found the person there.
    pub confirmed: bool,
    /// `LostToFollowUp` was recorded for this transfer.
    pub lost_recorded: bool,
}

/// The follow-up part of the screening record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowUps {
    pub scheduled: BTreeMap<FollowUpId, ScheduledFollowUp>,
    /// How many placements the case had (each transfer expects an arrival).
    pub placements: u32,
    /// The arrival the last transfer expects; `None` before any transfer, or
    /// for placements recorded before arrivals were expected.
    pub arrival: Option<ExpectedArrival>,
}

impl FollowUps {
    /// Follow-ups scheduled and not yet recorded.
    pub fn open(&self) -> impl Iterator<Item = (&FollowUpId, &ScheduledFollowUp)> {
        self.scheduled.iter().filter(|(_, f)| !f.recorded)
    }

    /// The arrival still unconfirmed and not yet recorded as lost.
    pub fn awaited_arrival(&self) -> Option<&ExpectedArrival> {
        self.arrival
            .as_ref()
            .filter(|a| !a.confirmed && !a.lost_recorded)
    }

    pub(crate) fn evolve(&mut self, event: &Event) {
        match event {
            Event::CasePlaced(placement) => {
                self.placements += 1;
                self.arrival = placement.arrival_due_at.map(|due_at| ExpectedArrival {
                    facility_id: placement.facility_id.clone(),
                    placed_at: placement.placed_at,
                    due_at,
                    confirmed: false,
                    lost_recorded: false,
                });
            }
            Event::FollowUpScheduled(schedule) => {
                self.scheduled.insert(
                    schedule.follow_up_id.clone(),
                    ScheduledFollowUp {
                        due_on: schedule.due_on,
                        purpose: schedule.purpose,
                        recorded: false,
                        missed: false,
                    },
                );
            }
            Event::FollowUpRecorded(record) => {
                if let Some(follow_up) = record
                    .follow_up_id
                    .as_ref()
                    .and_then(|id| self.scheduled.get_mut(id))
                {
                    follow_up.recorded = true;
                }
                if let Some(arrival) = self.arrival.as_mut()
                    && confirms_arrival(record, arrival)
                {
                    arrival.confirmed = true;
                }
            }
            Event::FollowUpMissed { follow_up_id, .. } => {
                if let Some(follow_up) = self.scheduled.get_mut(follow_up_id) {
                    follow_up.missed = true;
                }
            }
            Event::LostToFollowUp { .. } => {
                if let Some(arrival) = self.arrival.as_mut() {
                    arrival.lost_recorded = true;
                }
            }
            _ => {}
        }
    }
}

/// A follow-up that found the person, at or after the transfer, confirms the arrival.
pub fn confirms_arrival(record: &FollowUpRecord, arrival: &ExpectedArrival) -> bool {
    record.outcome == FollowUpOutcome::Found && record.at >= arrival.placed_at
}
