//! The key store's stream and its two handles: the keeper's and the reader's.

use async_nats::jetstream::{self, stream};
use case_log_jetstream::{CaseLog, TokenId};

use crate::error::KeyStoreError;

/// Subjects of the key store.
pub const KEY_SUBJECT_PREFIX: &str = "approdo-keys";

/// The token after a person's key id naming the record of their referral
/// datasets key: `approdo-keys.<key_id>.datasets`.
pub const DATASETS_TOKEN: &str = "datasets";

/// The person's own key: only the keeper reads it.
fn subject(key_id: &TokenId) -> String {
    format!("{KEY_SUBJECT_PREFIX}.{key_id}")
}

/// The key of the person's referral datasets, derived from their key: what
/// the reader may read (its NATS user may direct-get these subjects only).
fn dataset_subject(key_id: &TokenId) -> String {
    format!("{KEY_SUBJECT_PREFIX}.{key_id}.{DATASETS_TOKEN}")
}

/// The store's subjects: person keys and datasets keys, nothing else.
fn stream_subjects() -> Vec<String> {
    vec![
        format!("{KEY_SUBJECT_PREFIX}.*"),
        format!("{KEY_SUBJECT_PREFIX}.*.{DATASETS_TOKEN}"),
    ]
}

/// What the store holds for one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRecord {
    /// No key was ever stored.
    Missing,
    /// Their wrapped key.
    Key(Vec<u8>),
    /// Their key was destroyed: the tombstone left in its place (an empty
    /// message) makes creating a key for them again impossible.
    Erased,
}

/// What `stream` holds on `subject`.
pub(crate) async fn read(
    stream: &stream::Stream,
    subject: &str,
) -> Result<KeyRecord, KeyStoreError> {
    match stream.get_last_raw_message_by_subject(subject).await {
        Ok(message) if message.payload.is_empty() => Ok(KeyRecord::Erased),
        Ok(message) => Ok(KeyRecord::Key(message.payload.to_vec())),
        Err(error) if error.kind() == stream::LastRawMessageErrorKind::NoMessageFound => {
            Ok(KeyRecord::Missing)
        }
        Err(error) => Err(KeyStoreError::unavailable("read key", error)),
    }
}

/// The wrapped key, if one is stored (not missing, not erased).
fn key(record: KeyRecord) -> Option<Vec<u8>> {
    match record {
        KeyRecord::Key(wrapped) => Some(wrapped),
        KeyRecord::Missing | KeyRecord::Erased => None,
    }
}

/// The keeper's handle: stores each person's key once and destroys it on erasure.
#[derive(Clone)]
pub struct KeeperStore {
    context: jetstream::Context,
    stream: stream::Stream,
}

impl std::fmt::Debug for KeeperStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeeperStore").finish_non_exhaustive()
    }
}

impl KeeperStore {
    /// Opens the key store `name` on the case log's connection, creating it
    /// when missing (never updating it). Losing it is never silent: if the
    /// stream is missing while the case log already holds commits on
    /// `guarded_subjects` (data sealed with its keys), opening refuses instead
    /// of starting an empty store.
    pub async fn open(
        log: &CaseLog,
        name: &str,
        guarded_subjects: &str,
    ) -> Result<KeeperStore, KeyStoreError> {
        let context = log.jetstream().clone();
        let exists = context.get_stream(name).await.is_ok();
        if !exists && log.holds(guarded_subjects).await? {
            return Err(KeyStoreError::Refused {
                operation: "open key store",
                description: format!(
                    "the key store {name} is missing although the case log holds sealed personal data: restore it from backup"
                ),
            });
        }
        let config = stream::Config {
            name: name.to_owned(),
            description: Some("Approdo person keys, wrapped; erasure deletes them".to_owned()),
            subjects: stream_subjects(),
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
        let stream = case_log_jetstream::create_or_get(&context, config, "provision key store")
            .await
            .map_err(KeyStoreError::Log)?;
        // A store created before datasets keys had their own records holds
        // `approdo-keys.*` only; services never update streams.
        if !stream_subjects()
            .iter()
            .all(|s| stream.cached_info().config.subjects.contains(s))
        {
            return Err(KeyStoreError::Refused {
                operation: "open key store",
                description: format!(
                    "the key store {name} does not hold datasets keys: an operator must set its subjects to {:?}",
                    stream_subjects()
                ),
            });
        }
        Ok(KeeperStore { context, stream })
    }

    /// The wrapped key stored for `key_id`, if any: `None` when missing or erased.
    pub async fn get(&self, key_id: &TokenId) -> Result<Option<Vec<u8>>, KeyStoreError> {
        read(&self.stream, &subject(key_id)).await.map(key)
    }

    /// What the store holds for `key_id`: a key, a tombstone, or nothing.
    pub async fn record(&self, key_id: &TokenId) -> Result<KeyRecord, KeyStoreError> {
        read(&self.stream, &subject(key_id)).await
    }

    /// What the store holds as `key_id`'s referral datasets key.
    pub async fn dataset_record(&self, key_id: &TokenId) -> Result<KeyRecord, KeyStoreError> {
        read(&self.stream, &dataset_subject(key_id)).await
    }

    /// The people with a key record (a key or a tombstone) but no datasets
    /// key record: those whose key was stored before datasets keys existed.
    pub async fn without_dataset_record(&self) -> Result<Vec<TokenId>, KeyStoreError> {
        use futures::StreamExt;
        let mut people = std::collections::BTreeSet::new();
        let mut with_datasets = std::collections::BTreeSet::new();
        let mut subjects = self
            .stream
            .info_with_subjects(format!("{KEY_SUBJECT_PREFIX}.>"))
            .await
            .map_err(|e| KeyStoreError::unavailable("list keys", e))?;
        while let Some(entry) = subjects.next().await {
            let (subject, _) = entry.map_err(|e| KeyStoreError::unavailable("list keys", e))?;
            let mut tokens = subject.split('.').skip(1);
            match (tokens.next(), tokens.next()) {
                (Some(id), None) => people.insert(id.to_owned()),
                (Some(id), Some(DATASETS_TOKEN)) => with_datasets.insert(id.to_owned()),
                _ => false,
            };
        }
        Ok(people
            .difference(&with_datasets)
            .filter_map(|id| TokenId::parse(id).ok())
            .collect())
    }

    /// Stores `wrapped` for `key_id` unless a key is already there; returns the
    /// stored one. A person erased keeps their tombstone: [`KeyStoreError::Erased`].
    pub async fn get_or_put(
        &self,
        key_id: &TokenId,
        wrapped: Vec<u8>,
    ) -> Result<Vec<u8>, KeyStoreError> {
        self.get_or_put_at(subject(key_id), wrapped).await
    }

    /// Stores `wrapped` as `key_id`'s referral datasets key unless one is
    /// there; returns the stored one. Refused for a person erased (either
    /// record a tombstone): [`KeyStoreError::Erased`].
    pub async fn get_or_put_dataset(
        &self,
        key_id: &TokenId,
        wrapped: Vec<u8>,
    ) -> Result<Vec<u8>, KeyStoreError> {
        if self.record(key_id).await? == KeyRecord::Erased {
            return Err(KeyStoreError::Erased);
        }
        self.get_or_put_at(dataset_subject(key_id), wrapped).await
    }

    /// Leaves a tombstone as `key_id`'s datasets key record when there is
    /// none: for a person erased before datasets keys had their own records.
    pub async fn tombstone_dataset(&self, key_id: &TokenId) -> Result<(), KeyStoreError> {
        self.destroy_at(&dataset_subject(key_id)).await.map(|_| ())
    }

    async fn get_or_put_at(
        &self,
        subject: String,
        wrapped: Vec<u8>,
    ) -> Result<Vec<u8>, KeyStoreError> {
        get_or_put_at(&self.context, &self.stream, subject, wrapped).await
    }

    /// Destroys the key of `key_id` and the datasets key derived from it:
    /// each message is deleted (and overwritten on disk), and a tombstone
    /// takes its place so that neither can be created for the person again.
    /// Idempotent, and safe to run concurrently for the same person (the
    /// erasure request and the erasure reconciler, or two replicas, do):
    /// returns false when there was no key as it began (never stored, or
    /// already erased); the tombstones are there either way.
    pub async fn destroy(&self, key_id: &TokenId) -> Result<bool, KeyStoreError> {
        let had_dataset_key = self.destroy_at(&dataset_subject(key_id)).await?;
        let had_key = self.destroy_at(&subject(key_id)).await?;
        Ok(had_key || had_dataset_key)
    }

    async fn destroy_at(&self, subject: &str) -> Result<bool, KeyStoreError> {
        destroy_at(&self.context, &self.stream, subject).await
    }
}

/// Stores `wrapped` on `subject` unless a key is already there (then the
/// stored one is returned); refused with `Erased` where a tombstone stands.
/// Safe to run concurrently: the store takes only the first message per
/// subject, and a loser reads back what won.
pub(crate) async fn get_or_put_at(
    context: &jetstream::Context,
    stream: &stream::Stream,
    subject: String,
    wrapped: Vec<u8>,
) -> Result<Vec<u8>, KeyStoreError> {
    match read(stream, &subject).await? {
        KeyRecord::Key(existing) => return Ok(existing),
        KeyRecord::Erased => return Err(KeyStoreError::Erased),
        KeyRecord::Missing => {}
    }
    let publish = jetstream::message::PublishMessage::build()
        .payload(wrapped.clone().into())
        .expected_last_subject_sequence(0);
    let acked = context
        .send_publish(subject.clone(), publish)
        .await
        .map_err(|e| KeyStoreError::unavailable("store key", e))?
        .await;
    match acked {
        Ok(_) => Ok(wrapped),
        // A concurrent request stored one first (or erased them): use what is there.
        Err(_) => match read(stream, &subject).await? {
            KeyRecord::Key(existing) => Ok(existing),
            KeyRecord::Erased => Err(KeyStoreError::Erased),
            KeyRecord::Missing => Err(KeyStoreError::Refused {
                operation: "store key",
                description: "the key store refused the key".to_owned(),
            }),
        },
    }
}

/// Destroys the key on `subject` (deleted, overwritten on disk) and leaves a
/// tombstone in its place. Idempotent and safe to run concurrently; false
/// when there was no key as it began.
pub(crate) async fn destroy_at(
    context: &jetstream::Context,
    stream: &stream::Stream,
    subject: &str,
) -> Result<bool, KeyStoreError> {
    let had_key = match stream.get_last_raw_message_by_subject(subject).await {
        Ok(message) if message.payload.is_empty() => return Ok(false),
        Ok(message) => {
            if let Err(error) = stream.delete_message(message.sequence).await {
                // A concurrent destruction deleted it first (the server
                // answers that there is no such message), or a delete
                // that timed out was applied: what counts is whether the
                // key is still there.
                if holds(stream, subject, message.sequence).await? {
                    return Err(KeyStoreError::unavailable("destroy key", error));
                }
            }
            true
        }
        Err(error) if error.kind() == stream::LastRawMessageErrorKind::NoMessageFound => false,
        Err(error) => return Err(KeyStoreError::unavailable("read key", error)),
    };
    let tombstone = jetstream::message::PublishMessage::build()
        .payload(Default::default())
        .expected_last_subject_sequence(0);
    let acked = context
        .send_publish(subject.to_owned(), tombstone)
        .await
        .map_err(|e| KeyStoreError::unavailable("write tombstone", e))?
        .await;
    match (acked, read(stream, subject).await?) {
        (_, KeyRecord::Erased) => Ok(had_key),
        (Ok(_), _) | (Err(_), _) => Err(KeyStoreError::Refused {
            operation: "destroy key",
            description: "no tombstone stands where the key was".to_owned(),
        }),
    }
}

/// Whether the message `sequence` is still the last on `subject`.
async fn holds(
    stream: &stream::Stream,
    subject: &str,
    sequence: u64,
) -> Result<bool, KeyStoreError> {
    match stream.get_last_raw_message_by_subject(subject).await {
        Ok(message) => Ok(message.sequence == sequence),
        Err(error) if error.kind() == stream::LastRawMessageErrorKind::NoMessageFound => Ok(false),
        Err(error) => Err(KeyStoreError::unavailable("read key", error)),
    }
}

/// The reader's handle: reads datasets keys, and can do nothing else (not
/// even read a person's own key: it asks with a direct get whose subject is
/// the record's, which the referral service's NATS user may make only for
/// `approdo-keys.*.datasets`).
#[derive(Clone)]
pub struct ReaderStore {
    stream: stream::Stream,
}

impl std::fmt::Debug for ReaderStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReaderStore").finish_non_exhaustive()
    }
}

impl ReaderStore {
    /// Opens the key store `name`, which must exist (the keeper creates it
    /// with the first case): a missing store is an error, never an empty one.
    pub async fn open(log: &CaseLog, name: &str) -> Result<ReaderStore, KeyStoreError> {
        match log.jetstream().get_stream(name).await {
            Ok(stream) => Ok(ReaderStore { stream }),
            Err(error)
                if matches!(
                    error.kind(),
                    jetstream::context::GetStreamErrorKind::JetStream(_)
                ) =>
            {
                Err(KeyStoreError::Refused {
                    operation: "open key store",
                    description: format!(
                        "the key store {name} is missing: it is created with the first case, or must be restored from backup"
                    ),
                })
            }
            Err(error) => Err(KeyStoreError::unavailable("open key store", error)),
        }
    }

    /// The wrapped referral datasets key of `key_id`, if any: `None` once erased.
    pub async fn dataset_key(&self, key_id: &TokenId) -> Result<Option<Vec<u8>>, KeyStoreError> {
        match self
            .stream
            .direct_get_last_for_subject(dataset_subject(key_id))
            .await
        {
            Ok(message) if message.payload.is_empty() => Ok(None),
            Ok(message) => Ok(Some(message.payload.to_vec())),
            Err(error) if error.kind() == stream::DirectGetErrorKind::NotFound => Ok(None),
            Err(error) => Err(KeyStoreError::unavailable("read datasets key", error)),
        }
    }
}
