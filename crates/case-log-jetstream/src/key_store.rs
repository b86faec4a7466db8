//! The person key store: each person's wrapped data key, one JetStream message
//! on `approdo-keys.<key_id>` in its own stream. Erasure deletes that message
//! with JetStream's explicit delete, which overwrites it in the store files
//! (measured on nats-server 2.15.1; a key-value purge or a replaced value would
//! leave the old bytes on disk). The stream allows deleting single messages
//! and nothing else: no purge, no rollup.

use async_nats::jetstream::{self, stream};

use crate::error::LogError;
use crate::subject::TokenId;

/// Subjects of the key store.
pub const KEY_SUBJECT_PREFIX: &str = "approdo-keys";

#[derive(Clone)]
pub struct KeyStore {
    context: jetstream::Context,
    stream: stream::Stream,
}

fn subject(key_id: &TokenId) -> String {
    format!("{KEY_SUBJECT_PREFIX}.{key_id}")
}

impl KeyStore {
    pub(crate) async fn open(
        context: jetstream::Context,
        name: &str,
        replicas: usize,
    ) -> Result<KeyStore, LogError> {
        let config = stream::Config {
            name: name.to_owned(),
            description: Some("Approdo person keys, wrapped; erasure deletes them".to_owned()),
            subjects: vec![format!("{KEY_SUBJECT_PREFIX}.*")],
            storage: stream::StorageType::File,
            num_replicas: replicas,
            max_messages_per_subject: 1,
            discard: stream::DiscardPolicy::New,
            discard_new_per_subject: true,
            deny_delete: false,
            deny_purge: true,
            allow_direct: true,
            ..Default::default()
        };
        let stream = crate::log::create_or_get(&context, config, "provision key store").await?;
        Ok(KeyStore { context, stream })
    }

    /// A store whose stream was found (readers never create it).
    pub(crate) fn existing(context: jetstream::Context, stream: stream::Stream) -> KeyStore {
        KeyStore { context, stream }
    }

    /// The wrapped key stored for `key_id`, if any.
    pub async fn get(&self, key_id: &TokenId) -> Result<Option<Vec<u8>>, LogError> {
        match self
            .stream
            .get_last_raw_message_by_subject(&subject(key_id))
            .await
        {
            Ok(message) => Ok(Some(message.payload.to_vec())),
            Err(error) if error.kind() == stream::LastRawMessageErrorKind::NoMessageFound => {
                Ok(None)
            }
            Err(error) => Err(LogError::unavailable("read key", error)),
        }
    }

    /// Stores `wrapped` for `key_id` unless a key is already there; returns the stored one.
    pub async fn get_or_put(
        &self,
        key_id: &TokenId,
        wrapped: Vec<u8>,
    ) -> Result<Vec<u8>, LogError> {
        if let Some(existing) = self.get(key_id).await? {
            return Ok(existing);
        }
        let publish = jetstream::message::PublishMessage::build()
            .payload(wrapped.clone().into())
            .expected_last_subject_sequence(0);
        let acked = self
            .context
            .send_publish(subject(key_id), publish)
            .await
            .map_err(|e| LogError::unavailable("store key", e))?
            .await;
        match acked {
            Ok(_) => Ok(wrapped),
            // A concurrent request stored one first: use that one.
            Err(_) => self.get(key_id).await?.ok_or(LogError::Refused {
                operation: "store key",
                description: "the key store refused the key".to_owned(),
            }),
        }
    }

    /// Destroys the key of `key_id`: its message is deleted and overwritten.
    /// Returns false when there was no key (already erased).
    pub async fn destroy(&self, key_id: &TokenId) -> Result<bool, LogError> {
        let message = match self
            .stream
            .get_last_raw_message_by_subject(&subject(key_id))
            .await
        {
            Ok(message) => message,
            Err(error) if error.kind() == stream::LastRawMessageErrorKind::NoMessageFound => {
                return Ok(false);
            }
            Err(error) => return Err(LogError::unavailable("read key", error)),
        };
        self.stream
            .delete_message(message.sequence)
            .await
            .map_err(|e| LogError::unavailable("destroy key", e))?;
        if self.get(key_id).await?.is_some() {
            return Err(LogError::Refused {
                operation: "destroy key",
                description: "the key is still stored after its deletion".to_owned(),
            });
        }
        Ok(true)
    }
}
