//! The case log: the immutable record of everything that happened to every person,
//! on NATS JetStream. It and `person-keys-jetstream` (the person key store, on
//! this crate's connection) are the only crates that import `async-nats`.
//!
//! - [`subject`]: the subject scheme (which aggregate lives where);
//! - [`envelope`]: the commit envelope services append and projections read;
//! - [`contract`]: [`event_contract!`], each service's events declared once;
//! - [`CaseLog`]: provisioning, [`CaseLog::append`] with optimistic concurrency,
//!   [`CaseLog::execute`] (idempotent commands), histories (recently used
//!   aggregates' held in memory: `history_cache.rs`), and [`CaseLog::follow`].

mod config;
pub mod contract;
pub mod envelope;
mod error;
mod follow;
mod history_cache;
mod log;
pub mod subject;

pub use config::{CaseLogConfig, DEFAULT_HISTORY_CACHE_BYTES, DEFAULT_MAX_BYTES};
pub use contract::DecodeError;
pub use envelope::{Actor, Distrust, NewCommit, NewEvent, PendingCommit, RecordedCommit};
pub use error::LogError;
pub use follow::{Decoded, Delivery, Following};
pub use history_cache::HistoryCacheStats;
pub use log::{
    AppendReceipt, CaseLog, ExecuteError, Executed, HistoryBound, LogUsage, create_or_get,
    inbox_prefix, principal,
};
pub use subject::{AggregateAddress, HistoryScope, Producer, RootKind, TokenId, producer_subjects};
