//! The sled store of one projection: its rows and the log position they reflect,
//! always written together in one transaction (architecture invariant 7).
//!
//! Layout: a `meta` tree holds the position and the current generation; rows live
//! in the tree `rows-<generation>`. A rebuild switches to a new generation and a
//! position of 0 in one atomic write, then drops the old rows: a crash at any
//! point leaves either the old rows with their position or empty rows at 0.

use std::path::Path;

use case_log_jetstream::RecordedCommit;
use sha2::{Digest, Sha256};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use crate::{ApplyError, Projection};

const POSITION: &[u8] = b"position";
const GENERATION: &[u8] = b"generation";

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

/// One projection's database.
pub struct ProjectionStore {
    db: sled::Db,
    meta: sled::Tree,
    rows: std::sync::RwLock<sled::Tree>,
}

impl ProjectionStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<ProjectionStore, StoreError> {
        let db = sled::Config::new().path(dir).open()?;
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
        let rows = self.rows();
        let result = (&rows, &self.meta).transaction(|(rows_tx, meta_tx)| {
            let mut position = match meta_tx.get(POSITION)? {
                Some(bytes) => decode_u64(&bytes),
                None => 0,
            };
            for (commit, trace) in commits {
                if commit.sequence <= position {
                    continue;
                }
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
                    Err(refused) => {
                        return Err(ConflictableTransactionError::Abort(StoreError::Apply {
                            sequence: commit.sequence,
                            event_types: commit.event_types(),
                            reason: refused.to_string(),
                        }));
                    }
                }
            }
            meta_tx.insert(POSITION, &position.to_be_bytes())?;
            Ok(position)
        });
        match result {
            Ok(position) => Ok(position),
            Err(TransactionError::Abort(error)) => Err(error),
            Err(TransactionError::Storage(error)) => Err(error.into()),
        }
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

        fn apply(&self, rows: &mut Rows<'_>, commit: &RecordedCommit) -> Result<(), ApplyError> {
            let key = commit.sequence.to_string();
            rows.put("t", key.as_bytes(), commit.commit.request_id.as_bytes())?;
            Ok(())
        }
    }

    fn commit(sequence: u64, value: &str) -> (RecordedCommit, telemetry::TraceContext) {
        let recorded = RecordedCommit {
            sequence,
            subject: "approdo.case.c.screening".to_owned(),
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
}
