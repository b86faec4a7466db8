//! The histories of recently used aggregates, kept in memory so a command
//! decides without reading the log first (issue 14: commands at the speed of
//! the log).
//!
//! What is kept is the log's own commits (payloads still sealed, as stored),
//! never a folded state: a fold always runs on commits, with the keys the
//! caller holds at that moment, so an erasure or a key destroyed meanwhile is
//! seen exactly as on a read from the log.
//!
//! A cached history may be behind the log (another instance of the service
//! appended since). It is never trusted blindly:
//! - an append after it carries its last sequence as the expected last subject
//!   sequence, so JetStream refuses the append when anything was added since,
//!   and the command is decided again on a refreshed history;
//! - a history asked for as such, or a command refused on a cached history, is
//!   first brought up to date from the stream's leader (one request when
//!   nothing was added).
//!
//! Bounded by weight (the commits' encoded size), least recently used first out.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use prost::Message;

use crate::envelope::RecordedCommit;

/// An aggregate's history as last known.
#[derive(Debug, Clone)]
pub(crate) struct CachedHistory {
    /// The trusted commits, in log order.
    pub commits: Arc<Vec<RecordedCommit>>,
    /// The subject's last sequence, trusted or not (the expected sequence).
    pub last_sequence: u64,
    /// Index of the first commit this process appended and has not read back:
    /// its `recorded_at` is provisional (its occurred-at), since a publish
    /// acknowledgement carries no server time.
    pub provisional_from: Option<usize>,
}

impl CachedHistory {
    pub fn read(commits: Vec<RecordedCommit>, last_sequence: u64) -> CachedHistory {
        CachedHistory {
            commits: Arc::new(commits),
            last_sequence,
            provisional_from: None,
        }
    }

    /// The sequence to read from to replace what is provisional, if anything is.
    pub fn provisional_sequence(&self) -> Option<u64> {
        self.provisional_from.map(|i| self.commits[i].sequence)
    }

    fn weight(&self) -> usize {
        self.commits
            .iter()
            .map(|c| c.commit.encoded_len() + c.subject.len() + COMMIT_OVERHEAD)
            .sum::<usize>()
            + ENTRY_OVERHEAD
    }
}

/// Bytes a commit costs beyond its encoded size (decoded strings, vectors).
const COMMIT_OVERHEAD: usize = 256;
/// Bytes an entry costs beyond its commits (key, maps).
const ENTRY_OVERHEAD: usize = 128;

/// How the cache has served, since the process started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryCacheStats {
    /// Histories found in memory.
    pub hits: u64,
    /// Histories read from the log (absent, evicted, or the cache disabled).
    pub misses: u64,
    /// Histories dropped to stay within the budget.
    pub evictions: u64,
    /// Histories held now, and their weight in bytes.
    pub entries: u64,
    pub bytes: u64,
}

pub(crate) struct HistoryCache {
    budget: usize,
    inner: Mutex<Inner>,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Least recently used first: use tick -> subject.
    order: BTreeMap<u64, String>,
    weight: usize,
    tick: u64,
}

struct Entry {
    history: CachedHistory,
    weight: usize,
    used: u64,
}

impl HistoryCache {
    /// A cache holding at most `budget` bytes of commits; 0 keeps nothing.
    pub fn new(budget: usize) -> HistoryCache {
        HistoryCache {
            budget,
            inner: Mutex::new(Inner::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    /// The history of `subject` if held (counted as a hit or a miss).
    pub fn get(&self, subject: &str) -> Option<CachedHistory> {
        let mut inner = self.lock();
        let found = inner.touch(subject);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Keeps `history` as `subject`'s, unless a longer one is held already
    /// (a concurrent read or append got further).
    pub fn put(&self, subject: &str, history: CachedHistory) {
        if self.budget == 0 {
            return;
        }
        let mut inner = self.lock();
        if let Some(held) = inner.entries.get(subject)
            && held.history.last_sequence > history.last_sequence
        {
            return;
        }
        let evicted = inner.insert(subject, history, self.budget);
        self.evictions.fetch_add(evicted, Ordering::Relaxed);
    }

    /// Adds a commit this process has just appended after `previous_sequence`,
    /// when the held history ends there; otherwise the held one is dropped (it
    /// is behind, and the next use reads the log).
    pub fn appended(&self, subject: &str, previous_sequence: u64, commit: RecordedCommit) {
        let mut inner = self.lock();
        let Some(held) = inner.entries.get(subject) else {
            return;
        };
        if held.history.last_sequence != previous_sequence {
            inner.remove(subject);
            return;
        }
        let mut history = held.history.clone();
        let mut commits = Vec::with_capacity(history.commits.len() + 1);
        commits.extend(history.commits.iter().cloned());
        history.provisional_from = history.provisional_from.or(Some(commits.len()));
        history.last_sequence = commit.sequence;
        commits.push(commit);
        history.commits = Arc::new(commits);
        let evicted = inner.insert(subject, history, self.budget);
        self.evictions.fetch_add(evicted, Ordering::Relaxed);
    }

    pub fn stats(&self) -> HistoryCacheStats {
        let inner = self.lock();
        HistoryCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            entries: inner.entries.len() as u64,
            bytes: inner.weight as u64,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves a consistent map (each method
        // completes its change before returning): go on with it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn touch(&mut self, subject: &str) -> Option<CachedHistory> {
        self.tick += 1;
        let tick = self.tick;
        let entry = self.entries.get_mut(subject)?;
        self.order.remove(&entry.used);
        entry.used = tick;
        self.order.insert(tick, subject.to_owned());
        Some(entry.history.clone())
    }

    /// Inserts or replaces, then evicts least recently used entries until
    /// within `budget`; returns how many were evicted. A history heavier than
    /// the whole budget is not kept.
    fn insert(&mut self, subject: &str, history: CachedHistory, budget: usize) -> u64 {
        self.remove(subject);
        let weight = history.weight();
        if weight > budget {
            return 0;
        }
        self.tick += 1;
        self.order.insert(self.tick, subject.to_owned());
        self.entries.insert(
            subject.to_owned(),
            Entry {
                history,
                weight,
                used: self.tick,
            },
        );
        self.weight += weight;
        let mut evicted = 0;
        while self.weight > budget {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some(entry) = self.entries.remove(&oldest) {
                self.weight -= entry.weight;
                evicted += 1;
            }
        }
        evicted
    }

    fn remove(&mut self, subject: &str) {
        if let Some(entry) = self.entries.remove(subject) {
            self.order.remove(&entry.used);
            self.weight -= entry.weight;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn commit(sequence: u64, subject: &str, payload: usize) -> RecordedCommit {
        RecordedCommit {
            sequence,
            subject: subject.to_owned(),
            recorded_at: OffsetDateTime::UNIX_EPOCH,
            commit: contracts::log::v1::Commit {
                request_id: "r".repeat(payload),
                ..Default::default()
            },
        }
    }

    fn history(subject: &str, sequences: &[u64]) -> CachedHistory {
        let commits: Vec<_> = sequences.iter().map(|s| commit(*s, subject, 100)).collect();
        CachedHistory::read(commits, sequences.last().copied().unwrap_or(0))
    }

    #[test]
    fn a_history_put_is_found_and_counted() {
        let cache = HistoryCache::new(1 << 20);
        assert!(cache.get("a").is_none());
        cache.put("a", history("a", &[1, 4]));
        let found = cache.get("a").expect("held");
        assert_eq!(found.last_sequence, 4);
        assert_eq!(found.commits.len(), 2);
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.entries), (1, 1, 1));
        assert!(stats.bytes > 200, "{stats:?}");
    }

    #[test]
    fn the_least_recently_used_go_first_within_the_budget() {
        let one = history("a", &[1]).weight();
        let cache = HistoryCache::new(one * 2 + one / 2);
        cache.put("a", history("a", &[1]));
        cache.put("b", history("b", &[2]));
        assert!(cache.get("a").is_some()); // b is now the least recently used
        cache.put("c", history("c", &[3]));
        assert!(cache.get("b").is_none(), "b evicted");
        assert!(cache.get("a").is_some() && cache.get("c").is_some());
        let stats = cache.stats();
        assert_eq!((stats.evictions, stats.entries), (1, 2));
        assert!(stats.bytes as usize <= one * 2 + one / 2);
    }

    #[test]
    fn an_older_read_never_replaces_a_newer_history() {
        let cache = HistoryCache::new(1 << 20);
        cache.put("a", history("a", &[1, 5]));
        cache.put("a", history("a", &[1]));
        assert_eq!(cache.get("a").expect("held").last_sequence, 5);
    }

    #[test]
    fn an_append_extends_the_history_it_followed_and_drops_one_it_did_not() {
        let cache = HistoryCache::new(1 << 20);
        cache.put("a", history("a", &[1, 5]));
        cache.appended("a", 5, commit(9, "a", 10));
        let held = cache.get("a").expect("held");
        assert_eq!(held.last_sequence, 9);
        assert_eq!(held.provisional_sequence(), Some(9));
        cache.appended("a", 7, commit(12, "a", 10));
        assert!(cache.get("a").is_none(), "behind: dropped");
    }

    #[test]
    fn a_zero_budget_keeps_nothing() {
        let cache = HistoryCache::new(0);
        cache.put("a", history("a", &[1]));
        assert!(cache.get("a").is_none());
        assert_eq!(cache.stats().entries, 0);
    }
}
