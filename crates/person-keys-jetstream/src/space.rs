//! The space key store: each safe space's data key, wrapped by the
//! key-encryption key, one JetStream message on `approdo-space-keys.<space_id>`
//! in its own stream (`APPRODO_SPACE_KEYS`), kept by the safe-space service.
//! A stream of its own, not the person key store: the safe-space service's
//! NATS user may then touch space keys only, never a person's key (NATS
//! permissions match whole tokens, so subjects inside `approdo-keys.*` could
//! not be told apart from person keys).

use async_nats::jetstream::{self, stream};
use case_log_jetstream::{CaseLog, TokenId};

use crate::error::KeyStoreError;

/// The space key store's stream.
pub const SPACE_KEY_STREAM: &str = "APPRODO_SPACE_KEYS";

/// Subjects of the space key store.
pub const SPACE_KEY_SUBJECT_PREFIX: &str = "approdo-space-keys";

fn subject(space_id: &TokenId) -> String {
    format!("{SPACE_KEY_SUBJECT_PREFIX}.{space_id}")
}

/// The safe-space service's handle: stores each space's key once, reads it back.
#[derive(Clone)]
pub struct SpaceKeyStore {
    context: jetstream::Context,
    stream: stream::Stream,
}

impl std::fmt::Debug for SpaceKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpaceKeyStore").finish_non_exhaustive()
    }
}

impl SpaceKeyStore {
    /// Opens the space key store on the case log's connection, creating it
    /// when missing (never updating it); refuses to start an empty store when
    /// the case log already holds commits on `guarded_subjects` (locations
    /// sealed with keys that would be lost).
    pub async fn open(
        log: &CaseLog,
        name: &str,
        guarded_subjects: &str,
    ) -> Result<SpaceKeyStore, KeyStoreError> {
        let context = log.jetstream().clone();
        let exists = context.get_stream(name).await.is_ok();
        if !exists && log.holds(guarded_subjects).await? {
            return Err(KeyStoreError::Refused {
                operation: "open space key store",
                description: format!(
                    "the key store {name} is missing although the case log holds sealed locations: restore it from backup"
                ),
            });
        }
        let config = stream::Config {
            name: name.to_owned(),
            description: Some("Approdo safe-space keys, wrapped".to_owned()),
            subjects: vec![format!("{SPACE_KEY_SUBJECT_PREFIX}.*")],
            storage: stream::StorageType::File,
            num_replicas: log.config().replicas,
            max_messages_per_subject: 1,
            discard: stream::DiscardPolicy::New,
            discard_new_per_subject: true,
            deny_delete: true,
            deny_purge: true,
            allow_direct: true,
            ..Default::default()
        };
        let stream =
            case_log_jetstream::create_or_get(&context, config, "provision space key store")
                .await
                .map_err(KeyStoreError::Log)?;
        Ok(SpaceKeyStore { context, stream })
    }

    /// The wrapped key of `space_id`, if one is stored.
    pub async fn get(&self, space_id: &TokenId) -> Result<Option<Vec<u8>>, KeyStoreError> {
        match self
            .stream
            .direct_get_last_for_subject(subject(space_id))
            .await
        {
            Ok(message) if message.payload.is_empty() => Ok(None),
            Ok(message) => Ok(Some(message.payload.to_vec())),
            Err(error) if error.kind() == stream::DirectGetErrorKind::NotFound => Ok(None),
            Err(error) => Err(KeyStoreError::unavailable("read space key", error)),
        }
    }

    /// Stores `wrapped` for `space_id` unless a key is already there; returns
    /// the stored one (a concurrent registration's, if it won).
    pub async fn get_or_put(
        &self,
        space_id: &TokenId,
        wrapped: Vec<u8>,
    ) -> Result<Vec<u8>, KeyStoreError> {
        if let Some(existing) = self.get(space_id).await? {
            return Ok(existing);
        }
        let publish = jetstream::message::PublishMessage::build()
            .payload(wrapped.clone().into())
            .expected_last_subject_sequence(0);
        let acked = self
            .context
            .send_publish(subject(space_id), publish)
            .await
            .map_err(|e| KeyStoreError::unavailable("store space key", e))?
            .await;
        match acked {
            Ok(_) => Ok(wrapped),
            Err(_) => self
                .get(space_id)
                .await?
                .ok_or_else(|| KeyStoreError::Refused {
                    operation: "store space key",
                    description: "the space key store refused the key".to_owned(),
                }),
        }
    }
}
