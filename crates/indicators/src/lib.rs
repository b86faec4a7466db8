//! The monitoring indicators' arithmetic, pure (no I/O, no clock, no
//! randomness): grouping observations into tables ([`table`]), medians and
//! 90th percentiles of durations ([`stats`]), and the privacy of what is
//! published ([`suppression`]: no cell under the threshold, and complementary
//! suppression so that no suppressed cell can be recovered by difference from
//! the row and column totals).
//!
//! What an observation is for each indicator (which events, which case) is
//! the monitoring service's projection; this crate only counts.

pub mod stats;
pub mod suppression;
pub mod table;

pub use suppression::{Protected, THRESHOLD, protect};
pub use table::{Group, Layout, Observation, TableBuilder, TableOutput};
