//! The places a person must avoid for safety, sealed: each case's needs key
//! (`service_runtime::NeedsKeyKeeper`, in the service's own needs key store,
//! destroyed when the case is erased), kept in memory once read, and the
//! allocator's codec, which seals a request's list when it is written and
//! opens it when the allocator's history is folded.
//!
//! A fold that meets a list whose key this instance has not read yet
//! records the case as missed and reads the list as unreadable; a command
//! decided on such a fold appends nothing (its encoding refuses), and the
//! service reads the missed keys and runs it again ([`AvoidCodec::missed`]).
//! A list whose key was destroyed (at erasure: a tombstone stands in the
//! store) is read as `Avoid::Unreadable` on purpose: the domain then avoids
//! every space. A list whose key is missing altogether (the store lost) is
//! an error, never silently unreadable.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use case_log_jetstream::CaseLog;
use contracts::person::v1::EncryptedMessage;
use contracts::safe_space::v1 as wire;
use person_crypto::DataKey;
use safe_space_allocation::{Avoid, CaseId, OrganisationId, SpaceId};
use service_runtime::person_keys::{self, needs_key_id};
use service_runtime::{NeedsKey, NeedsKeyKeeper, ServiceError};

/// What a needs key seals: the list of places to avoid.
pub const AVOID: &str = "avoid";

/// A needs key as this instance last read it.
#[derive(Clone)]
enum Known {
    Key(Arc<DataKey>),
    Erased,
    Missing,
}

/// Needs keys read so far, and the keeper that reads, creates and destroys them.
pub struct NeedsKeys {
    keeper: Option<NeedsKeyKeeper>,
    cache: Mutex<HashMap<String, Known>>,
}

impl NeedsKeys {
    pub fn new(keeper: NeedsKeyKeeper) -> Self {
        NeedsKeys {
            keeper: Some(keeper),
            cache: Mutex::default(),
        }
    }

    /// Keys given by hand, no store (unit tests of the codec).
    pub fn in_memory(keys: impl IntoIterator<Item = (String, Option<DataKey>)>) -> Self {
        NeedsKeys {
            keeper: None,
            cache: Mutex::new(
                keys.into_iter()
                    .map(|(case, key)| {
                        (
                            case,
                            key.map_or(Known::Erased, |key| Known::Key(Arc::new(key))),
                        )
                    })
                    .collect(),
            ),
        }
    }

    fn keeper(&self) -> Result<&NeedsKeyKeeper, ServiceError> {
        self.keeper
            .as_ref()
            .ok_or_else(|| ServiceError::internal("no needs key store"))
    }

    fn cached(&self, case: &str) -> Option<Known> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.get(case).cloned()
    }

    fn remember(&self, case: &str, key: Known) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.insert(case.to_owned(), key);
    }

    /// Whether this instance holds the case's key.
    pub fn holds(&self, case: &CaseId) -> bool {
        matches!(self.cached(case.as_str()), Some(Known::Key(_)))
    }

    /// The case's needs key, created if it has none (refused once destroyed).
    pub async fn create(&self, log: &CaseLog, case: &CaseId) -> Result<(), ServiceError> {
        if let Some(Known::Key(_)) = self.cached(case.as_str()) {
            return Ok(());
        }
        let key = self.keeper()?.create_or_get(log, case.as_str()).await?;
        self.remember(case.as_str(), Known::Key(Arc::new(key)));
        Ok(())
    }

    /// Reads the keys of `cases` from the store.
    pub async fn load(&self, log: &CaseLog, cases: &[String]) -> Result<(), ServiceError> {
        for case in cases {
            let key = match self.keeper()?.existing(log, case).await? {
                NeedsKey::Key(key) => Known::Key(Arc::new(key)),
                NeedsKey::Erased => Known::Erased,
                NeedsKey::Missing => Known::Missing,
            };
            self.remember(case, key);
        }
        Ok(())
    }

    /// Destroys the case's needs key (the case was erased); idempotent.
    pub async fn destroy(&self, log: &CaseLog, case: &CaseId) -> Result<(), ServiceError> {
        self.keeper()?.destroy(log, case.as_str()).await?;
        self.remember(case.as_str(), Known::Erased);
        Ok(())
    }
}

/// The allocator's codec for one fold or one command: seals and opens lists
/// of places to avoid, and remembers the cases whose key it did not have.
pub struct AvoidCodec {
    keys: Arc<NeedsKeys>,
    missed: Mutex<BTreeSet<String>>,
}

impl AvoidCodec {
    pub fn new(keys: Arc<NeedsKeys>) -> Self {
        AvoidCodec {
            keys,
            missed: Mutex::default(),
        }
    }

    /// The cases whose list was met without their key read yet.
    pub fn missed(&self) -> Vec<String> {
        let missed = self.missed.lock().unwrap_or_else(|e| e.into_inner());
        missed.iter().cloned().collect()
    }

    /// The case's list, opened; `Avoid::Unreadable` when its key was
    /// destroyed (or not read yet: then recorded as missed). A key missing
    /// from the store, or a list that does not open with its key, is an error.
    pub fn open(
        &self,
        case: &CaseId,
        sealed: &EncryptedMessage,
    ) -> Result<BTreeSet<Avoid>, &'static str> {
        let unreadable = || [Avoid::Unreadable].into_iter().collect();
        match self.keys.cached(case.as_str()) {
            None => {
                let mut missed = self.missed.lock().unwrap_or_else(|e| e.into_inner());
                missed.insert(case.to_string());
                Ok(unreadable())
            }
            Some(Known::Erased) => Ok(unreadable()),
            Some(Known::Missing) => {
                Err("the needs key of a sealed list is missing from the needs key store")
            }
            Some(Known::Key(key)) => {
                let list = person_keys::open::<wire::AvoidList>(
                    &key,
                    &needs_key_id(case.as_str()),
                    AVOID,
                    sealed,
                )
                .map_err(|_| "a sealed list of places to avoid does not open with its key")?;
                from_wire(&list).map_err(|_| "a list of places to avoid holds a bad id")
            }
        }
    }

    /// The case's list, sealed with its key (read or created before the command).
    pub fn seal(
        &self,
        case: &CaseId,
        avoid: &BTreeSet<Avoid>,
    ) -> Result<EncryptedMessage, ServiceError> {
        if !self.missed().is_empty() {
            return Err(ServiceError::internal(
                "decided on an allocator whose needs keys were not all read",
            ));
        }
        let Some(Known::Key(key)) = self.keys.cached(case.as_str()) else {
            return Err(ServiceError::internal(format_args!(
                "the needs key of case {case} is not read"
            )));
        };
        person_keys::seal(&key, &needs_key_id(case.as_str()), AVOID, &to_wire(avoid))
    }

    /// The case's key was recorded destroyed (`AvoidListDestroyed`, by
    /// whichever instance): this instance forgets its copy too.
    pub fn forget(&self, case: &CaseId) {
        self.keys.remember(case.as_str(), Known::Erased);
    }

    /// Refuses to write anything decided on a fold with a missed key.
    pub fn check_complete(&self) -> Result<(), ServiceError> {
        if self.missed().is_empty() {
            Ok(())
        } else {
            Err(ServiceError::internal(
                "decided on an allocator whose needs keys were not all read",
            ))
        }
    }
}

pub fn to_wire(avoid: &BTreeSet<Avoid>) -> wire::AvoidList {
    let mut list = wire::AvoidList::default();
    for entry in avoid {
        match entry {
            Avoid::Space(space) => list.space_ids.push(space.to_string()),
            Avoid::Organisation(org) => list.organisation_ids.push(org.to_string()),
            Avoid::Unreadable => {}
        }
    }
    list
}

pub fn from_wire(list: &wire::AvoidList) -> Result<BTreeSet<Avoid>, pathway::InvalidValue> {
    let mut avoid = BTreeSet::new();
    for space in &list.space_ids {
        avoid.insert(Avoid::Space(SpaceId::parse(space)?));
    }
    for org in &list.organisation_ids {
        avoid.insert(Avoid::Organisation(OrganisationId::parse(org)?));
    }
    Ok(avoid)
}
