//! The one harness of the end-to-end tests: a [`System`] of a real nats-server
//! and in-process services with an injected clock, callers and their tokens,
//! and waiting on conditions instead of sleeping.

pub mod auth;
pub mod system;
pub mod traced;
pub mod wait;

pub use auth::{Caller, token, with_token};
pub use system::{ReferralClient, Running, ScreeningClient, Service, System};
pub use wait::{eventually, until_some};

use time::OffsetDateTime;

/// `at` as a protobuf timestamp field.
pub fn ts(at: OffsetDateTime) -> Option<prost_types::Timestamp> {
    Some(case_log_jetstream::envelope::timestamp(at))
}
