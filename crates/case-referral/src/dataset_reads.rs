//! The access record of one call that read the minimum datasets of referrals
//! of several cases (a list, an inbox page, a watch batch): one record per
//! call, listing every case and referral it returned, so that reading many
//! cases appends one record, not one per case. A call reading one case's
//! datasets records `DatasetRead` in that case's own referral record instead.

use time::OffsetDateTime;

use crate::ReferralId;

/// The referrals of one case whose datasets were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRead {
    pub case_id: String,
    pub referral_ids: Vec<ReferralId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Record { reads: Vec<CaseRead> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Recorded {
        reads: Vec<CaseRead>,
        read_at: OffsetDateTime,
    },
}

/// Why a record is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("a read record lists at least one referral")]
    NothingRead,
    #[error("this read is already recorded")]
    AlreadyRecorded,
}

/// A record, once written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub recorded: bool,
}

impl State {
    pub fn evolve(mut self, event: &Event) -> State {
        match event {
            Event::Recorded { .. } => self.recorded = true,
        }
        self
    }
}

/// Records the reads once, at `now`.
pub fn decide(
    state: &State,
    command: Command,
    now: OffsetDateTime,
) -> Result<Vec<Event>, RecordError> {
    match command {
        Command::Record { reads } => {
            if state.recorded {
                return Err(RecordError::AlreadyRecorded);
            }
            if reads.iter().all(|read| read.referral_ids.is_empty()) {
                return Err(RecordError::NothingRead);
            }
            Ok(vec![Event::Recorded {
                reads,
                read_at: now,
            }])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(case_id: &str) -> CaseRead {
        CaseRead {
            case_id: case_id.to_owned(),
            referral_ids: vec![ReferralId::parse("r-1").expect("id")],
        }
    }

    #[test]
    fn a_call_is_recorded_once_and_only_when_it_read_something() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let reads = vec![read("case-1"), read("case-2")];
        let events = decide(
            &State::default(),
            Command::Record {
                reads: reads.clone(),
            },
            now,
        )
        .expect("recorded");
        assert_eq!(
            events,
            [Event::Recorded {
                reads,
                read_at: now
            }]
        );
        let state = State::default().evolve(&events[0]);
        assert_eq!(
            decide(
                &state,
                Command::Record {
                    reads: vec![read("case-3")]
                },
                now
            ),
            Err(RecordError::AlreadyRecorded)
        );
        assert_eq!(
            decide(&State::default(), Command::Record { reads: vec![] }, now),
            Err(RecordError::NothingRead)
        );
    }
}
