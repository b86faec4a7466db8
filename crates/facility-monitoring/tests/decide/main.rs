//! Domain tests of the monitoring record, one binary: given recorded events,
//! when a command by an actor, then events or an error; one module per
//! command, the scorecard and comparisons, and property tests.

mod properties;
mod record_training;
mod record_visit;
mod scorecards;
mod support;
