//! The sled store of one projection: its rows and the log position they reflect,
//! always written together in one transaction (architecture invariant 7).
//!
//! Layout: a `meta` tree holds the position and the current generation; rows live
//! in the tree `rows-<generation>`. A rebuild switches to a new generation and a
//! position of 0 in one atomic write, then drops the old rows: a crash at any
//! point leaves either the old rows with their position or empty rows at 0.
//!
//! The parked list (architecture invariant 13) lives in the rows tree under
//! the store's own tables `projection.parked` (one row per parked commit,
//! keyed by sequence) and `projection.parked_count`: written in the same
//! transaction as the position, emptied by a rebuild with the rows, part of
//! the digest (a rebuild parks the same commits). Tables starting with
//! `projection.` belong to the store.

use std::collections::BTreeMap;
use std::path::Path;

use case_log_jetstream::RecordedCommit;
use sha2::{Digest, Sha256};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use crate::{ApplyError, Projection};

const POSITION: &[u8] = b"position";
const GENERATION: &[u8] = b"generation";
const SHAPE: &[u8] = b"shape";
/// The parked list: one row per parked commit, keyed by its sequence (big endian).
pub const PARKED: &str = "projection.parked";
/// How many commits are parked (one row, empty key).
pub const PARKED_COUNT: &str = "projection.parked_count";

/// A commit the projection skipped (architecture invariant 13): where it is
/// and why, ids and codes only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedCommit {
    pub sequence: u64,
    /// The subject it was stored on.
    pub subject: String,
    /// A code: `undecodable_envelope`, `unknown_subject`,
    /// `claims_another_aggregate`, `not_applicable`.
    pub reason: String,
    /// What the decoder or the projection said (names of types and fields, ids).
    pub detail: String,
}

impl ParkedCommit {
    /// A message the log did not trust as a commit.
    pub fn untrusted(
        sequence: u64,
        subject: &str,
        distrust: &case_log_jetstream::Distrust,
    ) -> Self {
        ParkedCommit {
            sequence,
            subject: subject.to_owned(),
            reason: distrust.code().to_owned(),
            detail: distrust.detail(),
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for field in [&self.subject, &self.reason, &self.detail] {
            bytes.extend_from_slice(&(field.len() as u32).to_be_bytes());
            bytes.extend_from_slice(field.as_bytes());
        }
        bytes
    }

    fn decode(sequence: u64, mut bytes: &[u8]) -> Result<Self, String> {
        let mut field = || -> Result<String, String> {
            let (len, rest) = bytes
                .split_first_chunk::<4>()
                .ok_or("truncated parked commit")?;
            let len = u32::from_be_bytes(*len) as usize;
            if rest.len() < len {
                return Err("truncated parked commit".to_owned());
            }
            let (text, rest) = rest.split_at(len);
            bytes = rest;
            String::from_utf8(text.to_vec()).map_err(|e| e.to_string())
        };
        Ok(ParkedCommit {
            sequence,
            subject: field()?,
            reason: field()?,
            detail: field()?,
        })
    }
}

/// One entry of a batch: a commit to apply, or a message already known to be
/// untrusted (parked without being shown to the projection).
#[derive(Debug, Clone)]
pub enum Incoming {
    Commit(RecordedCommit, telemetry::TraceContext),
    Untrusted(ParkedCommit),
    /// A commit on a subject the projection does not consume, never decoded:
    /// only the position moves past it.
    Elsewhere(u64),
}

impl Incoming {
    pub fn sequence(&self) -> u64 {
        match self {
            Incoming::Commit(commit, _) => commit.sequence,
            Incoming::Untrusted(parked) => parked.sequence,
            Incoming::Elsewhere(sequence) => *sequence,
        }
    }
}

/// What a stored batch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The new position.
    pub position: u64,
    /// The commits of this batch that were parked.
    pub parked: Vec<ParkedCommit>,
    /// Commits parked in all, this batch included.
    pub parked_total: u64,
}

/// Why a transaction was abandoned: a failure, or a commit to park (the
/// batch is then stored again without its effects).
enum Abandon {
    Fail(StoreError),
    Park(ParkedCommit),
}

/// The rows of a projection as seen inside the transaction that applies a batch.
pub struct Rows<'a> {
    tx: &'a TransactionalTree,
}

/// A storage failure inside a transaction; return it with `?` from `apply`.
#[derive(Debug, thiserror::Error)]
#[error("projection storage failed")]
pub struct RowsError(#[from] sled::transaction::UnabortableTransactionError);

impl Rows<'_> {
    pub fn get(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, RowsError> {
        Ok(self.tx.get(row_key(table, key))?.map(|v| v.to_vec()))
    }

    pub fn put(&self, table: &str, key: &[u8], value: &[u8]) -> Result<(), RowsError> {
        self.tx.insert(row_key(table, key), value)?;
        Ok(())
    }

    pub fn delete(&self, table: &str, key: &[u8]) -> Result<(), RowsError> {
        self.tx.remove(row_key(table, key))?;
        Ok(())
    }
}

fn row_key(table: &str, key: &[u8]) -> Vec<u8> {
    let mut full = Vec::with_capacity(table.len() + 1 + key.len());
    full.extend_from_slice(table.as_bytes());
    full.push(0);
    full.extend_from_slice(key);
    full
}

/// Why a batch was not stored.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("projection store failed")]
    Sled(#[from] sled::Error),
    /// A commit could not be applied: the projection must stop there.
    #[error("commit at sequence {sequence} ({event_types}) cannot be applied: {reason}")]
    Apply {
        sequence: u64,
        event_types: String,
        reason: String,
    },
    /// A stored row does not decode: never answered as "not found" or left out.
    #[error("projection row {table}/{key} cannot be decoded: {reason}")]
    CorruptRow {
        table: String,
        key: String,
        reason: String,
    },
}

fn corrupt_row(table: &str, key: &[u8], reason: impl std::fmt::Display) -> StoreError {
    StoreError::CorruptRow {
        table: table.to_owned(),
        key: String::from_utf8_lossy(key).into_owned(),
        reason: reason.to_string(),
    }
}

/// A row read back: its key within the table, and its value.
pub type Row = (Vec<u8>, Vec<u8>);

/// The page cache a store keeps by default, in bytes: sled's own default
/// (1 GiB) let a service's memory grow with its projection to well past
/// 100 MiB at 100,000 commits (BENCHMARKS.md, "A million events").
pub const DEFAULT_CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// One projection's database.
pub struct ProjectionStore {
    db: sled::Db,
    meta: sled::Tree,
    rows: std::sync::RwLock<sled::Tree>,
    /// The shape the projection keeps (0: not stated), recorded with each
    /// batch, in the transaction that stores its rows and position.
    shape: std::sync::atomic::AtomicU64,
    /// Dropped with the store, after its trees (fields drop in order): tells
    /// [`StoreReleased`] that the folder can be opened again.
    released: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Resolves once a [`ProjectionStore`] and every handle on it are dropped,
/// so its folder (and sled's lock on it) is free to open again.
pub struct StoreReleased(tokio::sync::oneshot::Receiver<()>);

impl StoreReleased {
    /// Waits up to `limit`; `false` if something still holds the store then.
    pub async fn wait(self, limit: std::time::Duration) -> bool {
        // The sender is never used: its drop is the signal.
        tokio::time::timeout(limit, self.0).await.is_ok()
    }
}

impl ProjectionStore {
    /// The signal of this store's release (one per store: a second call
    /// replaces the first, whose wait then resolves at once).
    pub fn on_release(&mut self) -> StoreReleased {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        self.released = Some(sender);
        StoreReleased(receiver)
    }

    /// Opens (or creates) the store in `dir`, with the default page cache.
    pub fn open(dir: &Path) -> Result<ProjectionStore, StoreError> {
        ProjectionStore::open_with_cache(dir, DEFAULT_CACHE_BYTES)
    }

    /// Opens (or creates) the store in `dir`, keeping at most about
    /// `cache_bytes` of its pages in memory (sled's default is 1 GiB).
    pub fn open_with_cache(dir: &Path, cache_bytes: u64) -> Result<ProjectionStore, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .open()?;
        let meta = db.open_tree("meta")?;
        let generation = read_u64(&meta, GENERATION)?;
        let rows = db.open_tree(rows_tree(generation))?;
        // Drop rows of generations a crash left behind during a rebuild.
        for name in db.tree_names() {
            if name.starts_with(b"rows-") && name != rows_tree(generation).as_bytes() {
                db.drop_tree(name)?;
            }
        }
        Ok(ProjectionStore {
            db,
            meta,
            rows: std::sync::RwLock::new(rows),
            shape: std::sync::atomic::AtomicU64::new(0),
            released: None,
        })
    }

    fn rows(&self) -> sled::Tree {
        // A poisoned lock only means a panic elsewhere; the tree handle is still valid.
        self.rows.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The sequence of the last commit applied, 0 before the first.
    pub fn position(&self) -> Result<u64, StoreError> {
        Ok(read_u64(&self.meta, POSITION)?)
    }

    /// Applies commits in one transaction together with the new position.
    /// Commits at or below the stored position are skipped: applying is idempotent.
    pub fn apply_batch<P: Projection + ?Sized>(
        &self,
        projection: &P,
        commits: &[(RecordedCommit, telemetry::TraceContext)],
    ) -> Result<u64, StoreError> {
        let incoming: Vec<Incoming> = commits
            .iter()
            .map(|(commit, trace)| Incoming::Commit(commit.clone(), trace.clone()))
            .collect();
        Ok(self.apply(projection, &incoming)?.position)
    }

    /// Applies a batch in one transaction together with the new position and
    /// the commits parked: the untrusted ones, and those of another producer
    /// that the projection cannot apply (their effects are not stored: the
    /// transaction runs again without them). A commit of the projection's own
    /// producer that it cannot apply is [`StoreError::Apply`], nothing stored.
    pub fn apply<P: Projection + ?Sized>(
        &self,
        projection: &P,
        incoming: &[Incoming],
    ) -> Result<Applied, StoreError> {
        let mut refused: BTreeMap<u64, ParkedCommit> = BTreeMap::new();
        // Each pass parks one more commit of the batch, or ends.
        for _ in 0..=incoming.len() {
            match self.try_apply(projection, incoming, &refused) {
                Ok(applied) => return Ok(applied),
                Err(Abandon::Fail(error)) => return Err(error),
                Err(Abandon::Park(parked)) => {
                    refused.insert(parked.sequence, parked);
                }
            }
        }
        Err(StoreError::Apply {
            sequence: 0,
            event_types: String::new(),
            reason: "a batch parked more commits than it holds".to_owned(),
        })
    }

    fn try_apply<P: Projection + ?Sized>(
        &self,
        projection: &P,
        incoming: &[Incoming],
        refused: &BTreeMap<u64, ParkedCommit>,
    ) -> Result<Applied, Abandon> {
        let rows = self.rows();
        let own = projection.producer();
        let shape = self.shape.load(std::sync::atomic::Ordering::SeqCst);
        let result = (&rows, &self.meta).transaction(|(rows_tx, meta_tx)| {
            let mut position = match meta_tx.get(POSITION)? {
                Some(bytes) => decode_u64(&bytes),
                None => 0,
            };
            let mut parked_total = match rows_tx.get(row_key(PARKED_COUNT, b""))? {
                Some(bytes) => decode_u64(&bytes),
                None => 0,
            };
            let mut parked = Vec::new();
            for entry in incoming {
                let sequence = entry.sequence();
                if sequence <= position {
                    continue;
                }
                let (commit, trace) = match (entry, refused.get(&sequence)) {
                    (Incoming::Elsewhere(_), _) => {
                        position = sequence;
                        continue;
                    }
                    (Incoming::Untrusted(skip), _) | (_, Some(skip)) => {
                        rows_tx.insert(row_key(PARKED, &sequence.to_be_bytes()), skip.encode())?;
                        parked_total += 1;
                        parked.push(skip.clone());
                        position = sequence;
                        continue;
                    }
                    (Incoming::Commit(commit, trace), None) => (commit, trace),
                };
                let span = tracing::info_span!(
                    "projection.apply",
                    projection = projection.name(),
                    sequence = commit.sequence,
                    event_types = %commit.event_types(),
                );
                telemetry::continue_trace(&span, trace);
                let _entered = span.enter();
                match projection.apply(&mut Rows { tx: rows_tx }, commit) {
                    Ok(()) => position = commit.sequence,
                    Err(ApplyError::Rows(RowsError(storage))) => return Err(storage.into()),
                    Err(refusal) if refusal.blames_commit() && commit.producer() != own => {
                        return Err(ConflictableTransactionError::Abort(Abandon::Park(
                            ParkedCommit {
                                sequence: commit.sequence,
                                subject: commit.subject.clone(),
                                reason: "not_applicable".to_owned(),
                                detail: refusal.to_string(),
                            },
                        )));
                    }
                    Err(refusal) => {
                        return Err(ConflictableTransactionError::Abort(Abandon::Fail(
                            StoreError::Apply {
                                sequence: commit.sequence,
                                event_types: commit.event_types(),
                                reason: refusal.to_string(),
                            },
                        )));
                    }
                }
            }
            if !parked.is_empty() {
                rows_tx.insert(row_key(PARKED_COUNT, b""), &parked_total.to_be_bytes())?;
            }
            meta_tx.insert(POSITION, &position.to_be_bytes())?;
            if shape != 0 {
                meta_tx.insert(SHAPE, &shape.to_be_bytes())?;
            }
            Ok(Applied {
                position,
                parked,
                parked_total,
            })
        });
        match result {
            Ok(applied) => Ok(applied),
            Err(TransactionError::Abort(abandon)) => Err(abandon),
            Err(TransactionError::Storage(error)) => Err(Abandon::Fail(error.into())),
        }
    }

    /// How many commits are parked.
    pub fn parked_count(&self) -> Result<u64, StoreError> {
        Ok(self
            .rows()
            .get(row_key(PARKED_COUNT, b""))?
            .map_or(0, |bytes| decode_u64(&bytes)))
    }

    /// Up to `limit` parked commits after sequence `after`, in log order.
    pub fn parked(&self, after: u64, limit: usize) -> Result<Vec<ParkedCommit>, StoreError> {
        let prefix = row_key(PARKED, b"");
        let start = row_key(PARKED, &after.saturating_add(1).to_be_bytes());
        let mut list = Vec::new();
        for row in self.rows().range(start..) {
            let (key, value) = row?;
            if !key.starts_with(&prefix) || list.len() >= limit {
                break;
            }
            let sequence = decode_u64(&key[prefix.len()..]);
            let parked = ParkedCommit::decode(sequence, &value)
                .map_err(|e| corrupt_row(PARKED, &key[prefix.len()..], e))?;
            list.push(parked);
        }
        Ok(list)
    }

    /// Makes the store hold rows of `shape`: a store that holds rows of
    /// another shape (a store with rows and no shape recorded holds shape 1)
    /// is emptied to be rebuilt from the log. Answers whether it was emptied.
    /// The shape is recorded with the next batch, in its transaction: no
    /// write of its own when a process starts.
    pub fn ensure_shape(&self, shape: u32) -> Result<bool, StoreError> {
        let recorded = match self.meta.get(SHAPE)? {
            Some(bytes) => Some(decode_u64(&bytes)),
            None if self.position()? > 0 => Some(1),
            None => None,
        };
        let rebuild = recorded.is_some_and(|recorded| recorded != u64::from(shape));
        if rebuild {
            self.reset()?;
        }
        self.shape
            .store(u64::from(shape), std::sync::atomic::Ordering::SeqCst);
        Ok(rebuild)
    }

    /// Empties the projection and sets its position to 0, atomically.
    pub fn reset(&self) -> Result<(), StoreError> {
        let mut rows = self.rows.write().unwrap_or_else(|p| p.into_inner());
        let old = read_u64(&self.meta, GENERATION)?;
        let new = old + 1;
        let fresh = self.db.open_tree(rows_tree(new))?;
        let mut switch = sled::Batch::default();
        switch.insert(GENERATION, &new.to_be_bytes());
        switch.insert(POSITION, &0_u64.to_be_bytes());
        self.meta.apply_batch(switch)?;
        self.db.flush()?;
        *rows = fresh;
        self.db.drop_tree(rows_tree(old))?;
        Ok(())
    }

    /// One row.
    pub fn get(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.rows().get(row_key(table, key))?.map(|v| v.to_vec()))
    }

    /// One row, decoded: a row that does not decode is [`StoreError::CorruptRow`].
    pub fn get_decoded<T, E: std::fmt::Display>(
        &self,
        table: &str,
        key: &[u8],
        decode: impl Fn(&[u8]) -> Result<T, E>,
    ) -> Result<Option<T>, StoreError> {
        self.get(table, key)?
            .map(|bytes| decode(&bytes).map_err(|e| corrupt_row(table, key, e)))
            .transpose()
    }

    /// Every row of a table whose key starts with `prefix`, decoded, in key
    /// order: one row that does not decode fails the whole read.
    pub fn scan_decoded<T, E: std::fmt::Display>(
        &self,
        table: &str,
        prefix: &[u8],
        decode: impl Fn(&[u8]) -> Result<T, E>,
    ) -> Result<Vec<T>, StoreError> {
        self.scan(table, prefix)?
            .into_iter()
            .map(|(key, bytes)| decode(&bytes).map_err(|e| corrupt_row(table, &key, e)))
            .collect()
    }

    /// At most `limit` rows of a table whose key starts with `prefix` and
    /// comes after `after` (a key within the table), in key order.
    pub fn scan_after(
        &self,
        table: &str,
        prefix: &[u8],
        after: &[u8],
        limit: usize,
    ) -> Result<Vec<Row>, StoreError> {
        let table_len = table.len() + 1;
        let start = row_key(table, after);
        let within = row_key(table, prefix);
        self.rows()
            .range((std::ops::Bound::Excluded(start), std::ops::Bound::Unbounded))
            .take_while(|row| {
                row.as_ref()
                    .map_or(true, |(key, _)| key.starts_with(&within))
            })
            .take(limit)
            .map(|row| {
                let (key, value) = row?;
                Ok((key[table_len..].to_vec(), value.to_vec()))
            })
            .collect()
    }

    /// Every row of a table whose key starts with `prefix`, in key order.
    pub fn scan(&self, table: &str, prefix: &[u8]) -> Result<Vec<Row>, StoreError> {
        let table_len = table.len() + 1;
        self.rows()
            .scan_prefix(row_key(table, prefix))
            .map(|row| {
                let (key, value) = row?;
                Ok((key[table_len..].to_vec(), value.to_vec()))
            })
            .collect()
    }

    /// SHA-256 of every row, in key order: equal content, equal digest.
    pub fn content_digest(&self) -> Result<String, StoreError> {
        let mut hasher = Sha256::new();
        for row in self.rows().iter() {
            let (key, value) = row?;
            hasher.update((key.len() as u64).to_be_bytes());
            hasher.update(&key);
            hasher.update((value.len() as u64).to_be_bytes());
            hasher.update(&value);
        }
        Ok(hex::encode(hasher.finalize()))
    }

    /// Writes everything to disk (at shutdown; batches are atomic without it).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }
}

/// A secondary-index entry: its key within the index table, and its value.
pub type IndexEntry = (Vec<u8>, Vec<u8>);

/// Secondary indexes: a projection keeps them as tables of its own, written
/// in the transaction that changes the rows they point to (so an index never
/// disagrees with its rows, and a rebuild writes the same entries).
impl Rows<'_> {
    /// Moves one row's entries in the index `table` from `old` (what the row
    /// gave before this change) to `new`: an old key that is not a new one is
    /// removed, a new entry not already stored with that value is written.
    pub fn reindex(
        &self,
        table: &str,
        old: &[IndexEntry],
        new: &[IndexEntry],
    ) -> Result<(), RowsError> {
        for (key, _) in old {
            if !new.iter().any(|(k, _)| k == key) {
                self.delete(table, key)?;
            }
        }
        for (key, value) in new {
            if !old.iter().any(|(k, v)| k == key && v == value) {
                self.put(table, key, value)?;
            }
        }
        Ok(())
    }
}

impl ProjectionStore {
    /// The entries of `table` whose keys start with `within` and come after
    /// `after` (keys within the table; an `after` before `within` starts at
    /// its first key), lazily, in key order: several can be read side by
    /// side and merged.
    pub fn range_after(
        &self,
        table: &str,
        within: &[u8],
        after: &[u8],
    ) -> Box<dyn Iterator<Item = Result<Row, StoreError>> + Send> {
        use std::ops::Bound;
        let table_len = table.len() + 1;
        let within = row_key(table, within);
        let after = row_key(table, after);
        let start = if after < within {
            Bound::Included(within.clone())
        } else {
            Bound::Excluded(after)
        };
        Box::new(
            self.rows()
                .range((start, Bound::Unbounded))
                .take_while(move |row| {
                    row.as_ref()
                        .map_or(true, |(key, _)| key.starts_with(&within))
                })
                .map(move |row| {
                    let (key, value) = row?;
                    Ok((key[table_len..].to_vec(), value.to_vec()))
                }),
        )
    }

    /// Several ranges of one table read side by side and merged in the
    /// order of their keys' suffixes (what follows each range's `prefix`):
    /// one index read across the values of a part of its key (a list of any
    /// status merges each status's range). Each range is `(prefix, within,
    /// after)`, as for [`Self::range_after`]; a suffix is in one range only.
    pub fn merge_after(&self, table: &str, ranges: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>) -> Merged {
        Merged {
            ranges: ranges
                .into_iter()
                .map(|(prefix, within, after)| MergedRange {
                    prefix: prefix.len(),
                    rows: self.range_after(table, &within, &after),
                    head: None,
                    done: false,
                })
                .collect(),
            read: 0,
        }
    }

    /// Walks [`Self::range_after`]'s entries: `visit` sees each (key, value)
    /// and answers whether to go on. Answers how many entries it read, so
    /// that a page's cost is counted, not timed.
    pub fn walk_after(
        &self,
        table: &str,
        within: &[u8],
        after: &[u8],
        mut visit: impl FnMut(&[u8], &[u8]) -> Result<bool, StoreError>,
    ) -> Result<u64, StoreError> {
        let mut read = 0;
        for row in self.range_after(table, within, after) {
            let (key, value) = row?;
            read += 1;
            if !visit(&key, &value)? {
                break;
            }
        }
        Ok(read)
    }
}

/// Ranges of a table merged ([`ProjectionStore::merge_after`]): yields
/// (suffix, value) in suffix order, reading each range's next entry only
/// when its last was taken.
pub struct Merged {
    ranges: Vec<MergedRange>,
    /// Entries read so far.
    pub read: u64,
}

struct MergedRange {
    prefix: usize,
    rows: Box<dyn Iterator<Item = Result<Row, StoreError>> + Send>,
    head: Option<Row>,
    done: bool,
}

impl Iterator for Merged {
    type Item = Result<Row, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        for range in self
            .ranges
            .iter_mut()
            .filter(|r| r.head.is_none() && !r.done)
        {
            match range.rows.next() {
                Some(Ok((key, value))) => {
                    self.read += 1;
                    range.head = Some((key[range.prefix..].to_vec(), value));
                }
                Some(Err(error)) => return Some(Err(error)),
                None => range.done = true,
            }
        }
        self.ranges
            .iter_mut()
            .filter(|range| range.head.is_some())
            .min_by(|a, b| a.head.cmp(&b.head))
            .and_then(|range| range.head.take())
            .map(Ok)
    }
}

fn rows_tree(generation: u64) -> String {
    format!("rows-{generation}")
}

fn read_u64(tree: &sled::Tree, key: &[u8]) -> Result<u64, sled::Error> {
    Ok(tree.get(key)?.map_or(0, |bytes| decode_u64(&bytes)))
}

fn decode_u64(bytes: &[u8]) -> u64 {
    let mut buf = [0_u8; 8];
    let n = bytes.len().min(8);
    buf[8 - n..].copy_from_slice(&bytes[bytes.len() - n..]);
    u64::from_be_bytes(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes one row whose value is the commit's request id, as bytes.
    struct RawRow;

    impl Projection for RawRow {
        fn name(&self) -> &'static str {
            "raw"
        }

        fn producer(&self) -> Option<case_log_jetstream::Producer> {
            None
        }

        fn consumes(&self) -> crate::Consumes {
            crate::Consumes::All
        }

        fn apply(&self, rows: &mut Rows<'_>, commit: &RecordedCommit) -> Result<(), ApplyError> {
            let key = commit.sequence.to_string();
            rows.put("t", key.as_bytes(), commit.commit.request_id.as_bytes())?;
            Ok(())
        }
    }

    fn commit(sequence: u64, value: &str) -> (RecordedCommit, telemetry::TraceContext) {
        commit_on(sequence, "approdo.case.c.screening", value)
    }

    fn commit_on(
        sequence: u64,
        subject: &str,
        value: &str,
    ) -> (RecordedCommit, telemetry::TraceContext) {
        let recorded = RecordedCommit {
            sequence,
            subject: subject.to_owned(),
            recorded_at: time::OffsetDateTime::UNIX_EPOCH,
            commit: contracts::log::v1::Commit {
                request_id: value.to_owned(),
                ..Default::default()
            },
        };
        (recorded, telemetry::TraceContext::default())
    }

    fn number(bytes: &[u8]) -> Result<u32, String> {
        std::str::from_utf8(bytes)
            .map_err(|e| e.to_string())?
            .parse()
            .map_err(|e: std::num::ParseIntError| e.to_string())
    }

    #[test]
    fn a_store_of_another_shape_is_emptied_to_be_rebuilt_and_one_of_the_same_is_kept() {
        let dir = tempfile::tempdir().expect("dir");
        let store = ProjectionStore::open(dir.path()).expect("store");
        // A fresh store takes the shape without a rebuild.
        assert!(!store.ensure_shape(1).expect("shape"));
        let commits: Vec<_> = (1..=3).map(|n| commit(n, "v")).collect();
        store.apply_batch(&RawRow, &commits).expect("apply");
        assert!(!store.ensure_shape(1).expect("same shape"));
        assert_eq!(store.position().expect("position"), 3);
        assert_eq!(store.scan("t", b"").expect("rows").len(), 3);
        // A new shape empties it: the runner applies the log again from 0.
        assert!(store.ensure_shape(2).expect("new shape"));
        assert_eq!(store.position().expect("position"), 0);
        assert!(store.scan("t", b"").expect("rows").is_empty());
        store.apply_batch(&RawRow, &commits).expect("apply again");
        // Reopened, it keeps its shape and its rows.
        drop(store);
        let store = ProjectionStore::open(dir.path()).expect("reopen");
        assert!(!store.ensure_shape(2).expect("shape kept"));
        assert_eq!(store.position().expect("position"), 3);
    }

    #[test]
    fn a_store_written_before_shapes_were_recorded_is_shape_one() {
        let dir = tempfile::tempdir().expect("dir");
        let store = ProjectionStore::open(dir.path()).expect("store");
        store
            .apply_batch(&RawRow, &[commit(1, "v")])
            .expect("apply");
        // No shape recorded, rows present: shape 1, kept for shape 1...
        assert!(!store.ensure_shape(1).expect("shape 1"));
        assert_eq!(store.position().expect("position"), 1);
        // ...and rebuilt for shape 2.
        assert!(store.ensure_shape(2).expect("shape 2"));
        assert_eq!(store.position().expect("position"), 0);
    }

    #[test]
    fn a_bounded_scan_reads_a_page_after_a_key_within_its_prefix() {
        let dir = tempfile::tempdir().expect("dir");
        let store = ProjectionStore::open(dir.path()).expect("store");
        let commits: Vec<_> = (1..=9).map(|n| commit(n, "v")).collect();
        store.apply_batch(&RawRow, &commits).expect("apply");
        let keys = |rows: Vec<Row>| -> Vec<String> {
            rows.into_iter()
                .map(|(k, _)| String::from_utf8(k).expect("utf8"))
                .collect()
        };
        assert_eq!(
            keys(store.scan_after("t", b"", b"3", 4).expect("page")),
            ["4", "5", "6", "7"]
        );
        assert_eq!(
            keys(store.scan_after("t", b"", b"7", 4).expect("last")),
            ["8", "9"]
        );
        assert!(
            store
                .scan_after("u", b"", b"", 4)
                .expect("other table")
                .is_empty()
        );
    }

    /// Index entries written with `reindex` in the batch's transaction.
    struct Indexed;

    impl Projection for Indexed {
        fn name(&self) -> &'static str {
            "indexed"
        }

        fn producer(&self) -> Option<case_log_jetstream::Producer> {
            None
        }

        fn consumes(&self) -> crate::Consumes {
            crate::Consumes::All
        }

        /// The request id is `row:old:new`: the row's index key moves from old to new.
        fn apply(&self, rows: &mut Rows<'_>, commit: &RecordedCommit) -> Result<(), ApplyError> {
            let mut parts = commit.request_id().split(':');
            let (row, old, new) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            );
            let entry = |key: &str| -> Vec<IndexEntry> {
                if key.is_empty() {
                    Vec::new()
                } else {
                    vec![(format!("{key}/{row}").into_bytes(), row.as_bytes().to_vec())]
                }
            };
            rows.reindex("i", &entry(old), &entry(new))?;
            Ok(())
        }
    }

    #[test]
    fn index_entries_move_with_their_rows_and_a_walk_reads_only_what_it_visits() {
        let dir = tempfile::tempdir().expect("dir");
        let store = ProjectionStore::open(dir.path()).expect("store");
        let commits = [
            commit(1, "r1::a"),
            commit(2, "r2::a"),
            commit(3, "r3::b"),
            commit(4, "r1:a:b"),
            commit(5, "r2:a:"),
        ];
        store.apply_batch(&Indexed, &commits).expect("apply");
        let keys = |within: &[u8], after: &[u8], stop: usize| {
            let mut seen = Vec::new();
            let read = store
                .walk_after("i", within, after, |key, _| {
                    seen.push(String::from_utf8_lossy(key).into_owned());
                    Ok(seen.len() < stop)
                })
                .expect("walk");
            (seen, read)
        };
        assert_eq!(keys(b"a/", b"", 10), (vec![], 0), "r1 moved, r2 removed");
        assert_eq!(
            keys(b"b/", b"", 10),
            (vec!["b/r1".to_owned(), "b/r3".to_owned()], 2)
        );
        assert_eq!(keys(b"b/", b"b/r1", 10), (vec!["b/r3".to_owned()], 1));
        assert_eq!(keys(b"b/", b"", 1), (vec!["b/r1".to_owned()], 1));
        assert_eq!(keys(b"b/", b"z", 10), (vec![], 0), "after the prefix");
    }

    #[test]
    fn merged_ranges_come_in_the_order_of_their_suffixes_reading_one_entry_ahead_each() {
        let dir = tempfile::tempdir().expect("dir");
        let store = ProjectionStore::open(dir.path()).expect("store");
        let commits = [
            commit(1, "r1::x/3"),
            commit(2, "r2::y/1"),
            commit(3, "r3::x/2"),
            commit(4, "r4::y/4"),
        ];
        store.apply_batch(&Indexed, &commits).expect("apply");
        let range = |prefix: &str, after: &str| {
            (
                prefix.as_bytes().to_vec(),
                prefix.as_bytes().to_vec(),
                format!("{prefix}{after}").into_bytes(),
            )
        };
        let suffixes = |merged: &mut Merged, n: usize| -> Vec<String> {
            merged
                .by_ref()
                .take(n)
                .map(|row| String::from_utf8(row.expect("row").0).expect("utf8"))
                .collect()
        };
        let mut merged = store.merge_after("i", vec![range("x/", ""), range("y/", "")]);
        assert_eq!(suffixes(&mut merged, 10), ["1/r2", "2/r3", "3/r1", "4/r4"]);
        assert_eq!(merged.read, 4);
        let mut merged = store.merge_after("i", vec![range("x/", "2"), range("y/", "2")]);
        assert_eq!(suffixes(&mut merged, 1), ["2/r3"]);
        assert_eq!(merged.read, 2, "one entry ahead in each range");
    }

    #[test]
    fn a_row_that_does_not_decode_is_an_error_never_missing() {
        let dir = tempfile::tempdir().expect("dir");
        let store = ProjectionStore::open(dir.path()).expect("store");
        store
            .apply_batch(&RawRow, &[commit(1, "7"), commit(2, "not a number")])
            .expect("apply");
        assert_eq!(
            store.get_decoded("t", b"1", number).expect("row 1"),
            Some(7)
        );
        assert_eq!(
            store.get_decoded("t", b"9", number).expect("no row 9"),
            None
        );
        let corrupt = store.get_decoded("t", b"2", number).expect_err("row 2");
        assert!(
            matches!(&corrupt, StoreError::CorruptRow { table, key, .. } if table == "t" && key == "2"),
            "{corrupt}"
        );
        assert!(
            store.scan_decoded("t", b"", number).is_err(),
            "a list with a corrupt row is an error, not a shorter list"
        );
    }

    /// The screening service's view, in a test: writes a row per commit, then
    /// refuses a request id `undecodable` (as an event it cannot decode) and
    /// `corrupt` (as a stored row it cannot read).
    struct Screening;

    impl Projection for Screening {
        fn name(&self) -> &'static str {
            "screening-test"
        }

        fn producer(&self) -> Option<case_log_jetstream::Producer> {
            Some(case_log_jetstream::Producer::Screening)
        }

        fn consumes(&self) -> crate::Consumes {
            crate::Consumes::All
        }

        fn apply(&self, rows: &mut Rows<'_>, commit: &RecordedCommit) -> Result<(), ApplyError> {
            rows.put("t", &commit.sequence.to_be_bytes(), b"seen")?;
            match commit.request_id() {
                "undecodable" => Err(ApplyError::Decode {
                    event_type: "test.v1.Happened".to_owned(),
                    reason: "invalid wire type".to_owned(),
                }),
                "corrupt" => Err(ApplyError::Inconsistent("stored row is corrupt".to_owned())),
                _ => Ok(()),
            }
        }
    }

    fn incoming(entries: &[(RecordedCommit, telemetry::TraceContext)]) -> Vec<Incoming> {
        entries
            .iter()
            .map(|(c, t)| Incoming::Commit(c.clone(), t.clone()))
            .collect()
    }

    fn seen(store: &ProjectionStore, sequence: u64) -> bool {
        store
            .get("t", &sequence.to_be_bytes())
            .expect("get")
            .is_some()
    }

    #[test]
    fn another_producers_commit_it_cannot_apply_is_parked_without_its_effects() {
        let dir = tempfile::tempdir().expect("dir");
        let store = ProjectionStore::open(dir.path()).expect("store");
        let batch = incoming(&[
            commit(1, "fine"),
            commit_on(2, "approdo.case.c.monitoring", "undecodable"),
            commit(3, "fine"),
        ]);
        let applied = store.apply(&Screening, &batch).expect("applied");
        assert_eq!(applied.position, 3, "the projection moved past it");
        assert_eq!(applied.parked_total, 1);
        assert_eq!(
            applied.parked,
            vec![ParkedCommit {
                sequence: 2,
                subject: "approdo.case.c.monitoring".to_owned(),
                reason: "not_applicable".to_owned(),
                detail: "event test.v1.Happened cannot be decoded: invalid wire type".to_owned(),
            }]
        );
        assert!(seen(&store, 1) && seen(&store, 3));
        assert!(
            !seen(&store, 2),
            "what the projection wrote before refusing is not stored"
        );
        assert_eq!(store.parked_count().expect("count"), 1);
        assert_eq!(store.parked(0, 10).expect("list"), applied.parked);
    }

    #[test]
    fn its_own_producers_commit_it_cannot_apply_stops_it_and_nothing_is_stored() {
        let dir = tempfile::tempdir().expect("dir");
        let store = ProjectionStore::open(dir.path()).expect("store");
        let batch = incoming(&[
            commit(1, "fine"),
            commit(2, "undecodable"),
            commit(3, "fine"),
        ]);
        let failed = store.apply(&Screening, &batch).expect_err("own commit");
        assert!(
            matches!(failed, StoreError::Apply { sequence: 2, .. }),
            "{failed}"
        );
        assert_eq!(store.position().expect("position"), 0);
        assert_eq!(store.parked_count().expect("count"), 0);
        assert!(!seen(&store, 1));
    }

    #[test]
    fn a_corrupt_store_is_never_blamed_on_another_producers_commit() {
        let dir = tempfile::tempdir().expect("dir");
        let store = ProjectionStore::open(dir.path()).expect("store");
        let batch = incoming(&[commit_on(1, "approdo.case.c.referral", "corrupt")]);
        let failed = store.apply(&Screening, &batch).expect_err("corrupt store");
        assert!(
            matches!(failed, StoreError::Apply { sequence: 1, .. }),
            "{failed}"
        );
        assert_eq!(store.parked_count().expect("count"), 0);
    }

    #[test]
    fn untrusted_messages_are_parked_in_order_paged_and_emptied_by_a_rebuild() {
        let dir = tempfile::tempdir().expect("dir");
        let store = ProjectionStore::open(dir.path()).expect("store");
        let distrust = case_log_jetstream::Distrust::UndecodableEnvelope("bad".to_owned());
        let mut batch = Vec::new();
        for sequence in 1..=5 {
            batch.push(Incoming::Untrusted(ParkedCommit::untrusted(
                sequence,
                "approdo.case.c.monitoring",
                &distrust,
            )));
        }
        batch.extend(incoming(&[commit(6, "fine")]));
        let applied = store.apply(&Screening, &batch).expect("applied");
        assert_eq!((applied.position, applied.parked_total), (6, 5));
        assert!(seen(&store, 6));
        let first = store.parked(0, 2).expect("page 1");
        assert_eq!(first.iter().map(|p| p.sequence).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(first[0].reason, "undecodable_envelope");
        let rest = store.parked(2, 10).expect("page 2");
        assert_eq!(
            rest.iter().map(|p| p.sequence).collect::<Vec<_>>(),
            [3, 4, 5]
        );
        let digest = store.content_digest().expect("digest");
        // Applying the same batch again changes nothing: parking is exactly once too.
        store.apply(&Screening, &batch).expect("again");
        assert_eq!(store.parked_count().expect("count"), 5);
        assert_eq!(store.content_digest().expect("digest"), digest);

        store.reset().expect("reset");
        assert_eq!(store.parked_count().expect("count"), 0);
        assert!(store.parked(0, 10).expect("list").is_empty());
        store.apply(&Screening, &batch).expect("rebuilt");
        assert_eq!(
            store.content_digest().expect("digest"),
            digest,
            "a rebuild parks the same commits"
        );
    }
}
