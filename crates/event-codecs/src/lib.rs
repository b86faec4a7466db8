//! The case events of screening and referral between the wire and the domain
//! crates: one event contract per producer (`case_log_jetstream::event_contract!`),
//! encode and decode. Shared by the services that record the events and by
//! monitoring, which folds them into the domain's state for replay (no
//! service depends on another: tidy test).
//!
//! Nothing here holds a key. Sealed parts travel as they are: screening's
//! `PersonalParts` are sealed by the screening service before encoding;
//! a referral's dataset is sealed and opened through the closures the
//! referral service passes (`referral::encode_with`, `referral::decode_with`),
//! and replay passes one that never opens it.

pub mod referral;
pub mod screening;
pub mod screening_protection;
