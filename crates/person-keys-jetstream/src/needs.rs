//! The needs key store: for each case that asked for a safe-space place with
//! places to avoid, the key sealing that list, wrapped by the key-encryption
//! key, one JetStream message on `approdo-needs-keys.<case_id>` in a stream of
//! its own (`APPRODO_NEEDS_KEYS`), kept by the safe-space service. Unlike the
//! space key store, a key here is destroyed when the case is erased: the
//! stream allows deleting single messages (JetStream's explicit delete, which
//! overwrites the message in the store files) and nothing else, and a
//! tombstone (an empty message) takes the key's place so that no key is ever
//! created for that case again.

use async_nats::jetstream::{self, stream};
use case_log_jetstream::{CaseLog, TokenId};

use crate::error::KeyStoreError;
use crate::store::{self, KeyRecord, read};

/// The needs key store's stream.
pub const NEEDS_KEY_STREAM: &str = "APPRODO_NEEDS_KEYS";

/// Subjects of the needs key store.
pub const NEEDS_KEY_SUBJECT_PREFIX: &str = "approdo-needs-keys";

fn subject(case_id: &TokenId) -> String {
    format!("{NEEDS_KEY_SUBJECT_PREFIX}.{case_id}")
}

/// The safe-space service's handle: stores each case's needs key once, reads
/// it back, destroys it.
#[derive(Clone)]
pub struct NeedsKeyStore {
    context: jetstream::Context,
    stream: stream::Stream,
}

impl std::fmt::Debug for NeedsKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NeedsKeyStore").finish_non_exhaustive()
    }
}

impl NeedsKeyStore {
    /// Opens the needs key store on the case log's connection, creating it
    /// when missing (never updating it). No subject of the case log holds
    /// sealed lists only (an allocator's subject holds every request), so a
    /// lost store is not refused here: a sealed list whose key is missing
    /// (neither a key nor a tombstone) is an error where it is read.
    pub async fn open(log: &CaseLog, name: &str) -> Result<NeedsKeyStore, KeyStoreError> {
        let context = log.jetstream().clone();
        let config = stream::Config {
            name: name.to_owned(),
            description: Some(
                "Approdo safe-space needs keys, wrapped; erasure deletes them".to_owned(),
            ),
            subjects: vec![format!("{NEEDS_KEY_SUBJECT_PREFIX}.*")],
            storage: stream::StorageType::File,
            num_replicas: log.config().replicas,
            max_messages_per_subject: 1,
            discard: stream::DiscardPolicy::New,
            discard_new_per_subject: true,
            deny_delete: false,
            deny_purge: true,
            allow_direct: true,
            ..Default::default()
        };
        let stream =
            case_log_jetstream::create_or_get(&context, config, "provision needs key store")
                .await
                .map_err(KeyStoreError::Log)?;
        Ok(NeedsKeyStore { context, stream })
    }

    /// What the store holds for `case_id`: a key, a tombstone, or nothing.
    pub async fn record(&self, case_id: &TokenId) -> Result<KeyRecord, KeyStoreError> {
        read(&self.stream, &subject(case_id)).await
    }

    /// Stores `wrapped` for `case_id` unless a key is already there (then the
    /// stored one is returned); refused with `Erased` after a destruction.
    pub async fn get_or_put(
        &self,
        case_id: &TokenId,
        wrapped: Vec<u8>,
    ) -> Result<Vec<u8>, KeyStoreError> {
        store::get_or_put_at(&self.context, &self.stream, subject(case_id), wrapped).await
    }

    /// Destroys the key of `case_id` (deleted, overwritten on disk) and
    /// leaves a tombstone in its place. Idempotent; false when there was no
    /// key as it began.
    pub async fn destroy(&self, case_id: &TokenId) -> Result<bool, KeyStoreError> {
        store::destroy_at(&self.context, &self.stream, &subject(case_id)).await
    }
}
