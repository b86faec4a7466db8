//! Person data keys at a service's edge (architecture invariant 12): wrapped in
//! the key store (`person-keys-jetstream`), unwrapped with the configured
//! key-encryption key, and the one place messages are sealed with a person's
//! key or opened again.
//!
//! Two types, so that what a service may do is in its type: the screening
//! service holds a [`PersonKeyKeeper`] (creates a person's key when their case
//! opens, destroys it on erasure); the referral service holds a
//! [`PersonKeyReader`], which reads only each person's **referral datasets
//! key** (HKDF-SHA256 of the person's key, stored beside it by the keeper,
//! wrapped under its own context [`dataset_key_id`]): it seals and opens
//! datasets, and cannot open what the person's key sealed (the identity).
//! A missing key means erased.

use case_log_jetstream::{CaseLog, TokenId};
use contracts::person::v1::EncryptedMessage;
use person_crypto::{DataKey, KeyEncryptionKey};
use person_keys_jetstream::{
    KeeperStore, KeyRecord, NEEDS_KEY_STREAM, NeedsKeyStore, ReaderStore, SPACE_KEY_STREAM,
    SpaceKeyStore,
};

use crate::config::EncryptionConfig;
use crate::{ServeError, ServiceError};

/// What keepers and readers share: the key store's name and the key-encryption key.
struct Unwrapping {
    stream: String,
    kek: KeyEncryptionKey,
}

impl Unwrapping {
    /// Reads the key-encryption key from configuration: a service that cannot
    /// unwrap keys does not start.
    fn from_config(config: &EncryptionConfig) -> Result<Self, ServeError> {
        let hex = config
            .key_encryption_key_hex()
            .map_err(|e| ServeError::Encryption(e.to_string()))?;
        let kek =
            KeyEncryptionKey::from_hex(&hex).map_err(|e| ServeError::Encryption(e.to_string()))?;
        Ok(Unwrapping {
            stream: config.key_store_stream.clone(),
            kek,
        })
    }

    fn unwrap(&self, key_id: &str, wrapped: &[u8]) -> Result<DataKey, ServiceError> {
        self.kek.unwrap(key_id, wrapped).map_err(|_| {
            ServiceError::internal(format_args!(
                "the stored person key {key_id} cannot be unwrapped with the configured key-encryption key"
            ))
        })
    }
}

/// Creates, reads and destroys person keys: the screening service's.
pub struct PersonKeyKeeper {
    keys: Unwrapping,
    /// Opening refuses an empty store when the case log already holds commits
    /// on these subjects (data sealed with keys that would be lost).
    guarded_subjects: &'static str,
    store: tokio::sync::OnceCell<KeeperStore>,
    metrics: crate::Metrics,
}

impl std::fmt::Debug for PersonKeyKeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonKeyKeeper")
            .field("stream", &self.keys.stream)
            .field("guarded_subjects", &self.guarded_subjects)
            .finish_non_exhaustive()
    }
}

impl PersonKeyKeeper {
    /// The keeper of the configured key store; it guards `guarded_subjects`.
    pub fn from_config(
        config: &EncryptionConfig,
        guarded_subjects: &'static str,
    ) -> Result<Self, ServeError> {
        Ok(PersonKeyKeeper {
            keys: Unwrapping::from_config(config)?,
            guarded_subjects,
            store: tokio::sync::OnceCell::new(),
            metrics: crate::Metrics::disabled(),
        })
    }

    async fn store(&self, log: &CaseLog) -> Result<&KeeperStore, ServiceError> {
        self.store
            .get_or_try_init(|| async {
                let store =
                    KeeperStore::open(log, &self.keys.stream, self.guarded_subjects).await?;
                self.store_missing_dataset_keys(&store).await?;
                Ok::<_, ServiceError>(store)
            })
            .await
    }

    /// Migration, at the store's first use: a person whose key was stored
    /// before datasets keys had their own record gets one now (a tombstone
    /// if they were erased), so the referral service can read it.
    async fn store_missing_dataset_keys(&self, store: &KeeperStore) -> Result<(), ServiceError> {
        for id in store.without_dataset_record().await? {
            match store.get(&id).await? {
                Some(wrapped) => {
                    let key = self.keys.unwrap(id.as_str(), &wrapped)?;
                    self.put_dataset_key(store, id.as_str(), &key).await?;
                }
                None => store.tombstone_dataset(&id).await?,
            }
        }
        Ok(())
    }

    /// Stores the person's referral datasets key, derived from `key`, unless
    /// it is there.
    async fn put_dataset_key(
        &self,
        store: &KeeperStore,
        key_id: &str,
        key: &DataKey,
    ) -> Result<(), ServiceError> {
        let id = token(key_id)?;
        let derived = key.derive_referral_datasets_key().map_err(|e| {
            ServiceError::internal(format_args!("deriving the datasets key of {key_id}: {e}"))
        })?;
        let wrapped = self
            .keys
            .kek
            .wrap(&dataset_key_id(key_id), &derived)
            .map_err(|e| ServiceError::internal(format_args!("wrapping the key {key_id}: {e}")))?;
        store.get_or_put_dataset(&id, wrapped).await?;
        Ok(())
    }

    /// The person's data key, created on first use, with the referral
    /// datasets key derived from it beside it.
    async fn create_or_get_unmeasured(
        &self,
        log: &CaseLog,
        key_id: &str,
    ) -> Result<DataKey, ServiceError> {
        let id = token(key_id)?;
        let fresh = self
            .keys
            .kek
            .wrap(key_id, &DataKey::generate())
            .map_err(|e| ServiceError::internal(format_args!("wrapping the key {key_id}: {e}")))?;
        let store = self.store(log).await?;
        let wrapped = store.get_or_put(&id, fresh).await?;
        let key = self.keys.unwrap(key_id, &wrapped)?;
        self.put_dataset_key(store, key_id, &key).await?;
        Ok(key)
    }

    /// The person's data key if it still exists: `None` once erased.
    async fn existing_unmeasured(
        &self,
        log: &CaseLog,
        key_id: &str,
    ) -> Result<Option<DataKey>, ServiceError> {
        let id = token(key_id)?;
        match self.store(log).await?.get(&id).await? {
            Some(wrapped) => self.keys.unwrap(key_id, &wrapped).map(Some),
            None => Ok(None),
        }
    }

    /// Destroys the person's key and their datasets key; false if both were
    /// already gone.
    async fn destroy_unmeasured(&self, log: &CaseLog, key_id: &str) -> Result<bool, ServiceError> {
        let id = token(key_id)?;
        Ok(self.store(log).await?.destroy(&id).await?)
    }
}

/// Reads referral datasets keys, and can do nothing else: the referral service's.
pub struct PersonKeyReader {
    keys: Unwrapping,
    store: tokio::sync::OnceCell<ReaderStore>,
    metrics: crate::Metrics,
}

impl std::fmt::Debug for PersonKeyReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonKeyReader")
            .field("stream", &self.keys.stream)
            .finish_non_exhaustive()
    }
}

impl PersonKeyReader {
    /// The reader of the configured key store (which must exist when first read).
    pub fn from_config(config: &EncryptionConfig) -> Result<Self, ServeError> {
        Ok(PersonKeyReader {
            keys: Unwrapping::from_config(config)?,
            store: tokio::sync::OnceCell::new(),
            metrics: crate::Metrics::disabled(),
        })
    }

    /// The person's referral datasets key if it still exists: `None` once
    /// erased. Seal and open with [`dataset_key_id`] as the key id.
    async fn dataset_key_unmeasured(
        &self,
        log: &CaseLog,
        key_id: &str,
    ) -> Result<Option<DataKey>, ServiceError> {
        let id = token(key_id)?;
        let store = self
            .store
            .get_or_try_init(|| ReaderStore::open(log, &self.keys.stream))
            .await?;
        match store.dataset_key(&id).await? {
            Some(wrapped) => self
                .keys
                .unwrap(&dataset_key_id(key_id), &wrapped)
                .map(Some),
            None => Ok(None),
        }
    }
}

/// Keeps each safe space's data key: the safe-space service's. A space's key
/// is created when the space is registered, wrapped by the key-encryption key
/// under its key id ([`space_key_id`]), and stored once in the space key
/// store (`APPRODO_SPACE_KEYS`, a stream of its own: the service's NATS user
/// never touches a person's key). Seal and open with [`seal`] and [`open`]
/// and the same key id.
pub struct SpaceKeyKeeper {
    kek: KeyEncryptionKey,
    /// Opening refuses an empty store over a log that already holds these subjects.
    guarded_subjects: &'static str,
    store: tokio::sync::OnceCell<SpaceKeyStore>,
    metrics: crate::Metrics,
}

impl std::fmt::Debug for SpaceKeyKeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpaceKeyKeeper")
            .field("stream", &SPACE_KEY_STREAM)
            .finish_non_exhaustive()
    }
}

impl SpaceKeyKeeper {
    /// The keeper of the space key store; a service without a key-encryption key does not start.
    pub fn from_config(
        config: &EncryptionConfig,
        guarded_subjects: &'static str,
    ) -> Result<Self, ServeError> {
        Ok(SpaceKeyKeeper {
            kek: Unwrapping::from_config(config)?.kek,
            guarded_subjects,
            store: tokio::sync::OnceCell::new(),
            metrics: crate::Metrics::disabled(),
        })
    }

    async fn store(&self, log: &CaseLog) -> Result<&SpaceKeyStore, ServiceError> {
        self.store
            .get_or_try_init(|| async {
                Ok::<_, ServiceError>(
                    SpaceKeyStore::open(log, SPACE_KEY_STREAM, self.guarded_subjects).await?,
                )
            })
            .await
    }

    /// The space's data key, created on first use.
    async fn create_or_get_unmeasured(
        &self,
        log: &CaseLog,
        space_id: &str,
    ) -> Result<DataKey, ServiceError> {
        let id = token(space_id)?;
        let key_id = space_key_id(space_id);
        let fresh = self
            .kek
            .wrap(&key_id, &DataKey::generate())
            .map_err(|e| ServiceError::internal(format_args!("wrapping the key {key_id}: {e}")))?;
        let wrapped = self.store(log).await?.get_or_put(&id, fresh).await?;
        self.unwrap(&key_id, &wrapped)
    }

    /// The space's data key if one was stored.
    async fn existing_unmeasured(
        &self,
        log: &CaseLog,
        space_id: &str,
    ) -> Result<Option<DataKey>, ServiceError> {
        let id = token(space_id)?;
        match self.store(log).await?.get(&id).await? {
            Some(wrapped) => self.unwrap(&space_key_id(space_id), &wrapped).map(Some),
            None => Ok(None),
        }
    }

    fn unwrap(&self, key_id: &str, wrapped: &[u8]) -> Result<DataKey, ServiceError> {
        self.kek.unwrap(key_id, wrapped).map_err(|_| {
            ServiceError::internal(format_args!(
                "the stored key {key_id} cannot be unwrapped with the configured key-encryption key"
            ))
        })
    }
}

/// Keeps each case's **needs key**: the safe-space service's. It seals the
/// places a person must avoid for safety (`PlaceRequested.sealed_avoid`); it
/// is created at the first request with such places, wrapped by the
/// key-encryption key under [`needs_key_id`], stored once in the needs key
/// store (`APPRODO_NEEDS_KEYS`, the service's own stream) and destroyed when
/// the case is erased (a tombstone then forbids a new one).
pub struct NeedsKeyKeeper {
    kek: KeyEncryptionKey,
    store: tokio::sync::OnceCell<NeedsKeyStore>,
    metrics: crate::Metrics,
}

impl std::fmt::Debug for NeedsKeyKeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NeedsKeyKeeper")
            .field("stream", &NEEDS_KEY_STREAM)
            .finish_non_exhaustive()
    }
}

/// What the needs key store holds for a case.
pub enum NeedsKey {
    Key(DataKey),
    /// Destroyed (the case was erased): nothing sealed with it can be read.
    Erased,
    /// Never stored (or the store was lost).
    Missing,
}

impl NeedsKeyKeeper {
    /// The keeper of the needs key store; a service without a key-encryption key does not start.
    pub fn from_config(config: &EncryptionConfig) -> Result<Self, ServeError> {
        Ok(NeedsKeyKeeper {
            kek: Unwrapping::from_config(config)?.kek,
            store: tokio::sync::OnceCell::new(),
            metrics: crate::Metrics::disabled(),
        })
    }

    async fn store(&self, log: &CaseLog) -> Result<&NeedsKeyStore, ServiceError> {
        self.store
            .get_or_try_init(|| async {
                Ok::<_, ServiceError>(NeedsKeyStore::open(log, NEEDS_KEY_STREAM).await?)
            })
            .await
    }

    /// The case's needs key, created on first use; refused once destroyed.
    async fn create_or_get_unmeasured(
        &self,
        log: &CaseLog,
        case_id: &str,
    ) -> Result<DataKey, ServiceError> {
        let id = token(case_id)?;
        let key_id = needs_key_id(case_id);
        let fresh = self
            .kek
            .wrap(&key_id, &DataKey::generate())
            .map_err(|e| ServiceError::internal(format_args!("wrapping the key {key_id}: {e}")))?;
        let wrapped = self.store(log).await?.get_or_put(&id, fresh).await?;
        self.unwrap(&key_id, &wrapped)
    }

    /// The case's needs key as the store holds it now.
    async fn existing_unmeasured(
        &self,
        log: &CaseLog,
        case_id: &str,
    ) -> Result<NeedsKey, ServiceError> {
        let id = token(case_id)?;
        match self.store(log).await?.record(&id).await? {
            KeyRecord::Key(wrapped) => self
                .unwrap(&needs_key_id(case_id), &wrapped)
                .map(NeedsKey::Key),
            KeyRecord::Erased => Ok(NeedsKey::Erased),
            KeyRecord::Missing => Ok(NeedsKey::Missing),
        }
    }

    /// Destroys the case's needs key; false if it was already gone.
    async fn destroy_unmeasured(&self, log: &CaseLog, case_id: &str) -> Result<bool, ServiceError> {
        let id = token(case_id)?;
        Ok(self.store(log).await?.destroy(&id).await?)
    }

    fn unwrap(&self, key_id: &str, wrapped: &[u8]) -> Result<DataKey, ServiceError> {
        self.kek.unwrap(key_id, wrapped).map_err(|_| {
            ServiceError::internal(format_args!(
                "the stored key {key_id} cannot be unwrapped with the configured key-encryption key"
            ))
        })
    }
}

/// The id of a case's needs key (`safe-space-needs/<case_id>`): the context
/// it is wrapped under and the `key_id` of what it seals, never a person's key id.
pub fn needs_key_id(case_id: &str) -> String {
    format!("safe-space-needs/{case_id}")
}

/// The id of a safe space's key: the context it is wrapped under and the
/// `key_id` of what it seals (`safe-space/<space_id>`), never a person's key id.
pub fn space_key_id(space_id: &str) -> String {
    format!("safe-space/{space_id}")
}

/// The id of a person's referral datasets key: the context it is wrapped
/// under, and the `key_id` of what it seals (`<person key id>/datasets`), so a
/// dataset says which key sealed it.
pub fn dataset_key_id(person_key_id: &str) -> String {
    format!("{person_key_id}/datasets")
}

fn token(key_id: &str) -> Result<TokenId, ServiceError> {
    TokenId::parse(key_id)
        .map_err(|_| ServiceError::internal("a person key id is not a subject token"))
}

/// The context a sealed message is bound to: the key id and what the message is
/// (for example `identity`, `referral_dataset/<referral id>`), so a ciphertext
/// cannot be moved to another person or another field.
pub fn seal_context(key_id: &str, kind: &str) -> String {
    format!("{key_id}/{kind}")
}

/// Seals `message` with the person's key. A failure is an internal error
/// carrying its cause (ids only), never an empty ciphertext.
pub fn seal(
    key: &DataKey,
    key_id: &str,
    kind: &str,
    message: &impl prost::Message,
) -> Result<EncryptedMessage, ServiceError> {
    let (nonce, ciphertext) = key
        .seal(&seal_context(key_id, kind), &message.encode_to_vec())
        .map_err(|e| {
            ServiceError::internal(format_args!("sealing a {kind} of key {key_id}: {e}"))
        })?;
    Ok(EncryptedMessage {
        key_id: key_id.to_owned(),
        algorithm: person_crypto::ALGORITHM.to_owned(),
        nonce,
        ciphertext,
    })
}

/// Opens a message sealed by [`seal`] with the same key id and kind.
pub fn open<M: prost::Message + Default>(
    key: &DataKey,
    key_id: &str,
    kind: &str,
    sealed: &EncryptedMessage,
) -> Result<M, ServiceError> {
    let bytes = key
        .open(
            &seal_context(key_id, kind),
            &sealed.nonce,
            &sealed.ciphertext,
        )
        .map_err(|_| {
            ServiceError::internal(format_args!(
                "a sealed {kind} of key {key_id} does not open with its person's key"
            ))
        })?;
    M::decode(bytes.as_slice()).map_err(|_| {
        ServiceError::internal(format_args!(
            "an opened {kind} of key {key_id} cannot be decoded"
        ))
    })
}

use crate::metrics::{KeyKind, KeyOperation, KeyOutcome};

/// Records one key-store operation: absent when `absent` says so.
fn measure<T>(
    metrics: &crate::Metrics,
    kind: KeyKind,
    operation: KeyOperation,
    result: Result<T, ServiceError>,
    absent: impl FnOnce(&T) -> bool,
) -> Result<T, ServiceError> {
    let outcome = match &result {
        Ok(value) if absent(value) => KeyOutcome::Absent,
        Ok(_) => KeyOutcome::Ok,
        Err(_) => KeyOutcome::Error,
    };
    metrics.key_store(kind, operation, outcome);
    result
}

impl PersonKeyKeeper {
    /// Records its operations on `metrics`.
    pub fn measured(mut self, metrics: crate::Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// The person's data key, created on first use, with the referral
    /// datasets key derived from it beside it.
    pub async fn create_or_get(
        &self,
        log: &CaseLog,
        key_id: &str,
    ) -> Result<DataKey, ServiceError> {
        let result = self.create_or_get_unmeasured(log, key_id).await;
        measure(
            &self.metrics,
            KeyKind::Person,
            KeyOperation::CreateOrGet,
            result,
            |_| false,
        )
    }

    /// The person's data key if it still exists: `None` once erased.
    pub async fn existing(
        &self,
        log: &CaseLog,
        key_id: &str,
    ) -> Result<Option<DataKey>, ServiceError> {
        let result = self.existing_unmeasured(log, key_id).await;
        measure(
            &self.metrics,
            KeyKind::Person,
            KeyOperation::Get,
            result,
            Option::is_none,
        )
    }

    /// Destroys the person's key and their datasets key; false if both were
    /// already gone.
    pub async fn destroy(&self, log: &CaseLog, key_id: &str) -> Result<bool, ServiceError> {
        let result = self.destroy_unmeasured(log, key_id).await;
        measure(
            &self.metrics,
            KeyKind::Person,
            KeyOperation::Destroy,
            result,
            |done| !done,
        )
    }
}

impl PersonKeyReader {
    /// Records its operations on `metrics`.
    pub fn measured(mut self, metrics: crate::Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// The person's referral datasets key if it still exists: `None` once
    /// erased. Seal and open with [`dataset_key_id`] as the key id.
    pub async fn dataset_key(
        &self,
        log: &CaseLog,
        key_id: &str,
    ) -> Result<Option<DataKey>, ServiceError> {
        let result = self.dataset_key_unmeasured(log, key_id).await;
        measure(
            &self.metrics,
            KeyKind::Dataset,
            KeyOperation::Get,
            result,
            Option::is_none,
        )
    }
}

impl SpaceKeyKeeper {
    /// Records its operations on `metrics`.
    pub fn measured(mut self, metrics: crate::Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// The space's data key, created on first use.
    pub async fn create_or_get(
        &self,
        log: &CaseLog,
        space_id: &str,
    ) -> Result<DataKey, ServiceError> {
        let result = self.create_or_get_unmeasured(log, space_id).await;
        measure(
            &self.metrics,
            KeyKind::Space,
            KeyOperation::CreateOrGet,
            result,
            |_| false,
        )
    }

    /// The space's data key if one was stored.
    pub async fn existing(
        &self,
        log: &CaseLog,
        space_id: &str,
    ) -> Result<Option<DataKey>, ServiceError> {
        let result = self.existing_unmeasured(log, space_id).await;
        measure(
            &self.metrics,
            KeyKind::Space,
            KeyOperation::Get,
            result,
            Option::is_none,
        )
    }
}

impl NeedsKeyKeeper {
    /// Records its operations on `metrics`.
    pub fn measured(mut self, metrics: crate::Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// The case's needs key, created on first use; refused once destroyed.
    pub async fn create_or_get(
        &self,
        log: &CaseLog,
        case_id: &str,
    ) -> Result<DataKey, ServiceError> {
        let result = self.create_or_get_unmeasured(log, case_id).await;
        measure(
            &self.metrics,
            KeyKind::Needs,
            KeyOperation::CreateOrGet,
            result,
            |_| false,
        )
    }

    /// The case's needs key as the store holds it now.
    pub async fn existing(&self, log: &CaseLog, case_id: &str) -> Result<NeedsKey, ServiceError> {
        let result = self.existing_unmeasured(log, case_id).await;
        measure(
            &self.metrics,
            KeyKind::Needs,
            KeyOperation::Get,
            result,
            |key| !matches!(key, NeedsKey::Key(_)),
        )
    }

    /// Destroys the case's needs key; false if it was already gone.
    pub async fn destroy(&self, log: &CaseLog, case_id: &str) -> Result<bool, ServiceError> {
        let result = self.destroy_unmeasured(log, case_id).await;
        measure(
            &self.metrics,
            KeyKind::Needs,
            KeyOperation::Destroy,
            result,
            |done| !done,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::person::v1::PersonalData;

    #[test]
    fn a_sealed_message_opens_only_as_what_it_was_sealed_for() {
        let key = DataKey::generate();
        let data = PersonalData {
            given_names: "Zainab".to_owned(),
            ..Default::default()
        };
        let sealed = seal(&key, "case-1", "identity", &data).expect("sealed");
        assert!(!sealed.nonce.is_empty() && sealed.ciphertext.len() > 16);
        assert!(!sealed.ciphertext.windows(6).any(|w| w == b"Zainab"));
        let opened: PersonalData = open(&key, "case-1", "identity", &sealed).expect("opens");
        assert_eq!(opened, data);
        assert!(open::<PersonalData>(&key, "case-2", "identity", &sealed).is_err());
        assert!(open::<PersonalData>(&key, "case-1", "special_category", &sealed).is_err());
        assert!(open::<PersonalData>(&DataKey::generate(), "case-1", "identity", &sealed).is_err());
    }

    /// A space's location sealed with its key opens only with that key, that
    /// space's key id and that kind; the ciphertext holds neither name nor address.
    #[test]
    fn a_sealed_space_location_opens_only_for_its_space() {
        use contracts::safe_space::v1::SpaceLocation;
        let key = DataKey::generate();
        let location = SpaceLocation {
            name: "Casa Lucia".to_owned(),
            address: "Via dei Glicini 17, Roma".to_owned(),
        };
        let id = space_key_id("space-1");
        let sealed = seal(&key, &id, "location", &location).expect("sealed");
        assert_eq!(sealed.key_id, "safe-space/space-1");
        for clear in [&b"Casa Lucia"[..], &b"Glicini"[..]] {
            assert!(!sealed.ciphertext.windows(clear.len()).any(|w| w == clear));
        }
        let opened: SpaceLocation = open(&key, &id, "location", &sealed).expect("opens");
        assert_eq!(opened, location);
        assert!(
            open::<SpaceLocation>(&key, &space_key_id("space-2"), "location", &sealed).is_err()
        );
        assert!(open::<SpaceLocation>(&key, "space-1", "location", &sealed).is_err());
        assert!(open::<SpaceLocation>(&key, &id, "identity", &sealed).is_err());
        assert!(open::<SpaceLocation>(&DataKey::generate(), &id, "location", &sealed).is_err());
    }

    /// A space key wrapped under one space's key id does not unwrap as another's.
    #[test]
    fn a_wrapped_space_key_unwraps_only_under_its_space_key_id() {
        let kek = KeyEncryptionKey::from_hex(&"ab".repeat(32)).expect("kek");
        let wrapped = kek
            .wrap(&space_key_id("space-1"), &DataKey::generate())
            .expect("wrapped");
        assert!(kek.unwrap(&space_key_id("space-1"), &wrapped).is_ok());
        assert!(kek.unwrap(&space_key_id("space-2"), &wrapped).is_err());
        assert!(kek.unwrap("space-1", &wrapped).is_err());
    }
}
