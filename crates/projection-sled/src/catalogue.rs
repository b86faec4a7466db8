//! The catalogue: a projection every service keeps beside its domain views.
//! It records which commits and events it has applied, per event type and per
//! root (case, facility, organisation), and refuses to apply an event twice,
//! which makes it the witness of exactly-once application.
//!
//! It counts what it applied, nothing else: a parked commit (untrusted, or
//! refused, see the crate's docs) is in the store's parked list and counted
//! there, not here. An event id seen twice is blamed on the commit
//! ([`ApplyError::Contradicts`]): parked when another producer wrote it, a
//! loud failure on the catalogue's own service's subjects.

use case_log_jetstream::{Producer, RecordedCommit};

use crate::{ApplyError, Consumes, Projection, Rows};

pub const EVENTS: &str = "catalogue.event";
pub const EVENT_TYPES: &str = "catalogue.event_type";
pub const ROOTS: &str = "catalogue.root";

/// Counts commits and events; its rows are ids, types and numbers only.
pub struct Catalogue {
    name: &'static str,
    consumes: Consumes,
}

impl Catalogue {
    /// The catalogue of the whole log, for the service called `name` (its
    /// producer, when `name` is a producer's token).
    pub fn new(name: &'static str) -> Self {
        Catalogue {
            name,
            consumes: Consumes::All,
        }
    }

    /// The catalogue of what a service consumes, beside its domain view.
    pub fn within(name: &'static str, consumes: Consumes) -> Self {
        Catalogue { name, consumes }
    }
}

impl Projection for Catalogue {
    fn name(&self) -> &'static str {
        self.name
    }

    fn producer(&self) -> Option<Producer> {
        Producer::from_token(self.name)
    }

    fn consumes(&self) -> Consumes {
        self.consumes.clone()
    }

    fn apply(&self, rows: &mut Rows<'_>, commit: &RecordedCommit) -> Result<(), ApplyError> {
        for event in &commit.commit.events {
            let key = event.event_id.as_bytes();
            if rows.get(EVENTS, key)?.is_some() {
                return Err(ApplyError::Contradicts(format!(
                    "event {} applied twice",
                    event.event_id
                )));
            }
            rows.put(EVENTS, key, &commit.sequence.to_be_bytes())?;
            increment(rows, EVENT_TYPES, event.event_type.as_bytes(), 1)?;
        }
        if let Some(aggregate) = &commit.commit.aggregate {
            let root = format!("{}.{}", aggregate.root_kind, aggregate.root_id);
            increment(rows, ROOTS, root.as_bytes(), 1)?;
        }
        Ok(())
    }
}

fn increment(rows: &mut Rows<'_>, table: &str, key: &[u8], by: u64) -> Result<(), ApplyError> {
    let current = rows
        .get(table, key)?
        .map_or(0, |bytes| decode_count(&bytes));
    rows.put(table, key, &(current + by).to_be_bytes())?;
    Ok(())
}

/// Reads a count written by the catalogue.
pub fn decode_count(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or(0)
}
