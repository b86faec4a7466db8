//! The person key store: each person's data key, wrapped by the key-encryption
//! key, one JetStream message on `approdo-keys.<key_id>`, and beside it the
//! key derived from it for referral datasets on `approdo-keys.<key_id>.datasets`,
//! in its own stream
//! (`APPRODO_PERSON_KEYS`), on the case log's connection. Erasure deletes that
//! message with JetStream's explicit delete, which overwrites it in the store
//! files (measured on nats-server 2.15.1; a key-value purge or a replaced value
//! would leave the old bytes on disk). The stream allows deleting single
//! messages and nothing else: no purge, no rollup.
//!
//! Two handles, so that what a service may do is in its type:
//! - [`KeeperStore`] (the screening service): creates the stream, stores a key
//!   once, destroys it; it refuses to start an empty store over a case log that
//!   already holds data sealed with lost keys;
//! - [`ReaderStore`] (the referral service): reads datasets keys only, by
//!   direct get of their subjects (what its NATS user is allowed); the stream
//!   must exist, a missing one is an error, never an empty store.
//!
//! Wrapping, unwrapping and sealing are not here: they belong to `person-crypto`
//! and the services' edge (`service_runtime::person_keys`). This crate holds bytes.

mod error;
mod needs;
mod space;
mod store;

pub use error::KeyStoreError;
pub use needs::{NEEDS_KEY_STREAM, NEEDS_KEY_SUBJECT_PREFIX, NeedsKeyStore};
pub use space::{SPACE_KEY_STREAM, SPACE_KEY_SUBJECT_PREFIX, SpaceKeyStore};
pub use store::{DATASETS_TOKEN, KEY_SUBJECT_PREFIX, KeeperStore, KeyRecord, ReaderStore};
