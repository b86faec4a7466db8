//! A synthetic landing, seeded and reproducible: people arriving at a
//! hotspot with a plausible mix of categories, minors and families, and their
//! pathway through screening, referral and safe-space allocation over gRPC,
//! with realistic delays, declines, redirections, withdrawals, transfers and
//! requests for places in shelters. It serves the demo, the tests (which
//! drive the services' clock through [`Pace`]) and the training of operators
//! (`cargo xtask up --sandbox`: a run against a system of its own).
//!
//! - [`plan`]: the landing drawn from a seed, pure: who arrives and each step
//!   with its time after the landing.
//! - [`registry`]: the facilities, receiving organisations and safe spaces a
//!   landing needs (fictional).
//! - [`drive`]: runs a plan against the services, as the organisations of
//!   the pathway would, with their tokens ([`Credentials`]).

pub mod drive;
pub mod plan;
pub mod registry;

pub use drive::{
    Actor, Credentials, Done, Endpoints, Pace, RealTime, Report, Stepper, register, run,
};
pub use plan::{Action, Landing, Person, Step};
