//! The case log on JetStream: provisioning, appends with optimistic concurrency
//! and de-duplication, histories, and the idempotent command pipeline.

use async_nats::HeaderMap;
use async_nats::jetstream::{self, context::PublishErrorKind, stream};
use futures::StreamExt;
use prost::Message;
use time::OffsetDateTime;

use std::sync::Arc;

use crate::config::CaseLogConfig;
use crate::envelope::{NewCommit, PendingCommit, RecordedCommit};
use crate::error::LogError;
use crate::history_cache::{CachedHistory, HistoryCache, HistoryCacheStats};
use crate::subject::{AggregateAddress, HistoryScope, SUBJECT_PREFIX};

/// How many times a command is decided again after losing a race.
const MAX_COMMAND_ATTEMPTS: usize = 8;

/// How many messages one batched read asks for.
const READ_BATCH: usize = 256;

/// Where a history stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryBound {
    /// Everything appended so far.
    All,
    /// Commits with a stream sequence up to and including this one.
    UpToSequence(u64),
    /// Commits recorded by the server at or before this instant.
    AsOf(OffsetDateTime),
}

impl HistoryBound {
    fn admits(&self, sequence: u64, recorded_at: OffsetDateTime) -> bool {
        match self {
            HistoryBound::All => true,
            HistoryBound::UpToSequence(last) => sequence <= *last,
            HistoryBound::AsOf(at) => recorded_at <= *at,
        }
    }
}

/// What a history read saw: the trusted commits, and the sequence of the
/// last message within the bound, trusted or not (for the expected sequence).
#[derive(Default)]
struct Read {
    commits: Vec<RecordedCommit>,
    last_sequence: u64,
    /// A message beyond the bound was seen: nothing later can be within it.
    ended: bool,
    /// Messages read within the bound, trusted or not.
    messages: u64,
}

impl Read {
    /// Takes one stored message into the read, trusting it only if its
    /// payload's aggregate is its subject's (architecture invariant 13).
    fn take(
        &mut self,
        bound: HistoryBound,
        sequence: u64,
        subject: &str,
        time: OffsetDateTime,
        payload: &[u8],
    ) {
        if !bound.admits(sequence, time) {
            self.ended = true;
            return;
        }
        self.last_sequence = sequence;
        self.messages += 1;
        match RecordedCommit::from_log(sequence, subject, time, payload) {
            Ok(commit) => self.commits.push(commit),
            Err(distrust) => tracing::warn!(
                sequence,
                subject = %subject,
                reason = distrust.code(),
                detail = %distrust.detail(),
                "untrusted commit left out of a history"
            ),
        }
    }

    /// The next sequence to read from.
    fn next(&self, from: u64) -> u64 {
        if self.last_sequence == 0 {
            from
        } else {
            self.last_sequence + 1
        }
    }
}

/// The answer to an append.
#[derive(Debug, Clone, PartialEq)]
pub struct AppendReceipt {
    pub sequence: u64,
    /// JetStream recognised the `Nats-Msg-Id` and stored nothing new.
    pub duplicate: bool,
    /// The commit as sent (with its ids); when `duplicate`, the stored one differs.
    pub commit: contracts::log::v1::Commit,
}

/// How full the case log's stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogUsage {
    pub bytes: u64,
    pub messages: u64,
    /// The stream's byte limit; `None` when unlimited.
    pub max_bytes: Option<u64>,
}

impl LogUsage {
    /// Whether the stream holds at least `percent` of its limit (never, unlimited).
    pub fn above(&self, percent: u8) -> bool {
        self.max_bytes.is_some_and(|max| {
            u128::from(self.bytes) * 100 >= u128::from(max) * u128::from(percent)
        })
    }
}

/// The server refused an append because the stream holds its `max_bytes`
/// (discard policy New; JetStream error 10077, "maximum bytes exceeded").
fn refused_for_size(error: &jetstream::context::PublishError) -> bool {
    use std::error::Error as _;
    error
        .source()
        .and_then(|source| source.downcast_ref::<jetstream::Error>())
        .is_some_and(|refusal| {
            refusal.error_code() == jetstream::ErrorCode::STREAM_STORE_FAILED
                && refusal.to_string().contains("maximum bytes")
        })
}

/// The outcome of an idempotent command.
#[derive(Debug, Clone, PartialEq)]
pub struct Executed {
    /// The stream sequence of the commit that answers the request.
    pub sequence: u64,
    pub commit: contracts::log::v1::Commit,
    /// True when the request id had already been executed: nothing was appended.
    pub replayed: bool,
}

/// Why an idempotent command did not execute.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError<E> {
    /// The domain refused the command.
    #[error(transparent)]
    Rejected(E),
    #[error(transparent)]
    Log(#[from] LogError),
}

/// A handle on the case log. Cheap to clone.
#[derive(Clone)]
pub struct CaseLog {
    context: jetstream::Context,
    stream: stream::Stream,
    config: CaseLogConfig,
    /// Who this connection is: the configured NATS user, which names its
    /// inbox prefix and its consumers (see [`principal`]).
    principal: String,
    /// Recently used aggregates' histories (see `history_cache.rs`).
    cache: Arc<HistoryCache>,
}

/// The name a connection goes by, from its configured NATS user: its reply
/// inboxes are `_INBOX_<PRINCIPAL>.*` and its consumers `<principal>-*`, so
/// the permissions file can let each user read only its own replies.
/// Without a user (a development server without authorisation), `approdo`.
pub fn principal(config: &CaseLogConfig) -> String {
    config
        .user
        .clone()
        .filter(|user| !user.is_empty())
        .unwrap_or_else(|| "approdo".to_owned())
}

/// The inbox prefix of a connection as `principal`: `_INBOX_SCREENING`,
/// `_INBOX_SAFE_SPACE`. Each user may subscribe to its own prefix only
/// (`deploy/local/nats-permissions.conf`).
pub fn inbox_prefix(principal: &str) -> String {
    format!(
        "_INBOX_{}",
        principal.to_ascii_uppercase().replace(['-', '.'], "_")
    )
}

impl CaseLog {
    /// Connects to NATS and provisions the stream (idempotent: every service may call it).
    pub async fn connect(config: &CaseLogConfig) -> Result<CaseLog, LogError> {
        let principal = principal(config);
        let mut options = async_nats::ConnectOptions::new()
            .custom_inbox_prefix(inbox_prefix(&principal))
            .connection_timeout(config.request_timeout())
            .request_timeout(Some(config.request_timeout()));
        if let (Some(user), Some(password)) = (&config.user, &config.password) {
            options = options.user_and_password(user.clone(), password.clone());
        }
        // `url` may list several servers, comma separated.
        let servers = config
            .url
            .split(',')
            .map(|url| url.trim().parse::<async_nats::ServerAddr>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| LogError::unavailable("connect", e))?;
        let client = options
            .connect(servers)
            .await
            .map_err(|e| LogError::unavailable("connect", e))?;
        let context = jetstream::ContextBuilder::new()
            .timeout(config.request_timeout())
            .build(client);
        let stream = provision(&context, config).await?;
        Ok(CaseLog {
            context,
            stream,
            config: config.clone(),
            principal,
            cache: Arc::new(HistoryCache::new(config.history_cache_budget())),
        })
    }

    /// How the history cache has served so far (for metrics).
    pub fn history_cache_stats(&self) -> HistoryCacheStats {
        self.cache.stats()
    }

    pub fn config(&self) -> &CaseLogConfig {
        &self.config
    }

    /// Who this connection is (its NATS user): the prefix of its consumers' names.
    pub fn principal(&self) -> &str {
        &self.principal
    }

    /// Appends one command's events as one message, after `previous_sequence` on
    /// the aggregate's subject. A stale expectation is [`LogError::Conflict`].
    pub async fn append(&self, commit: &NewCommit) -> Result<AppendReceipt, LogError> {
        if commit.pending.events.is_empty() {
            return Err(LogError::EmptyCommit);
        }
        let subject = commit.address.subject();
        let trace = telemetry::current_trace_context();
        let wire = commit.to_proto(&trace);
        let payload = wire.encode_to_vec();
        let mut headers = HeaderMap::new();
        if !trace.is_empty() {
            headers.insert("traceparent", trace.traceparent.as_str());
            if !trace.tracestate.is_empty() {
                headers.insert("tracestate", trace.tracestate.as_str());
            }
        }
        let publish = jetstream::message::PublishMessage::build()
            .payload(payload.into())
            .headers(headers)
            .message_id(format!("{subject}/{}", commit.pending.request_id))
            .expected_last_subject_sequence(commit.previous_sequence);
        let ack = self
            .context
            .send_publish(subject, publish)
            .await
            .map_err(|e| LogError::unavailable("append", e))?
            .await;
        match ack {
            Ok(ack) => Ok(AppendReceipt {
                sequence: ack.sequence,
                duplicate: ack.duplicate,
                commit: wire,
            }),
            Err(error) if error.kind() == PublishErrorKind::WrongLastSequence => {
                Err(LogError::Conflict {
                    expected: commit.previous_sequence,
                })
            }
            Err(error) if refused_for_size(&error) => Err(self.full().await),
            Err(error) => Err(LogError::unavailable("append", error)),
        }
    }

    /// Why the stream refused an append for its size, with the figures.
    async fn full(&self) -> LogError {
        let usage = self.usage().await.ok();
        LogError::Full {
            stream: self.config.stream.clone(),
            bytes: usage.map_or(0, |u| u.bytes),
            max_bytes: usage.and_then(|u| u.max_bytes).map_or(-1, |max| max as i64),
        }
    }

    /// How full the stream is, as the server reports it now.
    pub async fn usage(&self) -> Result<LogUsage, LogError> {
        let info = self
            .stream
            .get_info()
            .await
            .map_err(|e| LogError::unavailable("stream info", e))?;
        Ok(LogUsage {
            bytes: info.state.bytes,
            messages: info.state.messages,
            max_bytes: u64::try_from(info.config.max_bytes)
                .ok()
                .filter(|max| *max > 0),
        })
    }

    /// Runs a command idempotently against one aggregate:
    /// take its history (held in memory if recently used, else read from the
    /// log); if `request_id` was already executed, answer with that commit and
    /// append nothing (at any time, not only within the duplicate window);
    /// otherwise decide on the history and append after its last sequence; on
    /// a lost race, bring the history up to date and decide again.
    ///
    /// A history held in memory may be behind the log: an append after it is
    /// refused by JetStream (the expected last subject sequence), and a refusal
    /// decided on it is confirmed on the log before it is answered, so the
    /// outcome is the one a fresh read would give. In the history `decide`
    /// sees, the commits this process appended and has not read back carry
    /// their occurred-at as `recorded_at`: decide on the events, never on when
    /// the server stored them.
    pub async fn execute<E, F>(
        &self,
        address: &AggregateAddress,
        request_id: &str,
        mut decide: F,
    ) -> Result<Executed, ExecuteError<E>>
    where
        F: FnMut(&[RecordedCommit]) -> Result<PendingCommit, E>,
    {
        let subject = address.subject();
        let mut last_conflict = None;
        let mut held = self.cache.get(&subject);
        // Whether the history was confirmed against the log during this command.
        let mut confirmed = held.is_none();
        let mut history = match held.take() {
            Some(history) => history,
            None => self.read_aggregate(address).await?,
        };
        for _ in 0..MAX_COMMAND_ATTEMPTS {
            if let Some(done) = history
                .commits
                .iter()
                .find(|c| c.request_id() == request_id)
            {
                return Ok(Executed {
                    sequence: done.sequence,
                    commit: done.commit.clone(),
                    replayed: true,
                });
            }
            // The subject's last message, trusted or not: what JetStream checks.
            let previous_sequence = history.last_sequence;
            let mut pending = match decide(&history.commits) {
                Ok(pending) => pending,
                Err(refused) if !confirmed => {
                    // Refused on a history from memory: answer only if the log
                    // holds nothing newer, else decide again on what it holds.
                    let current = self.refresh(address, history).await?;
                    confirmed = true;
                    if current.last_sequence == previous_sequence {
                        return Err(ExecuteError::Rejected(refused));
                    }
                    history = current;
                    continue;
                }
                Err(refused) => return Err(ExecuteError::Rejected(refused)),
            };
            pending.request_id = request_id.to_owned();
            let occurred_at = pending.occurred_at;
            let commit = NewCommit {
                address: address.clone(),
                previous_sequence,
                pending,
            };
            match self.append(&commit).await {
                Ok(receipt) if receipt.duplicate => {
                    // A concurrent attempt with the same request id won: answer with it.
                    let original = self.commit_at(receipt.sequence).await?;
                    return Ok(Executed {
                        sequence: original.sequence,
                        commit: original.commit,
                        replayed: true,
                    });
                }
                Ok(receipt) => {
                    self.cache.appended(
                        &subject,
                        previous_sequence,
                        RecordedCommit {
                            sequence: receipt.sequence,
                            subject: subject.clone(),
                            recorded_at: occurred_at,
                            commit: receipt.commit.clone(),
                        },
                    );
                    return Ok(Executed {
                        sequence: receipt.sequence,
                        commit: receipt.commit,
                        replayed: false,
                    });
                }
                Err(conflict @ LogError::Conflict { .. }) => {
                    tracing::debug!(previous_sequence, "append lost a race, deciding again");
                    last_conflict = Some(conflict);
                    history = self.refresh(address, history).await?;
                    confirmed = true;
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(last_conflict
            .unwrap_or(LogError::Conflict { expected: 0 })
            .into())
    }

    /// An aggregate's whole history as the log holds it now: from memory
    /// brought up to date, or read; kept for the next command.
    async fn aggregate_history(
        &self,
        address: &AggregateAddress,
    ) -> Result<CachedHistory, LogError> {
        match self.cache.get(&address.subject()) {
            Some(held) => self.refresh(address, held).await,
            None => self.read_aggregate(address).await,
        }
    }

    /// Reads an aggregate's whole history from the log and keeps it.
    async fn read_aggregate(&self, address: &AggregateAddress) -> Result<CachedHistory, LogError> {
        let read = self
            .read(&HistoryScope::Aggregate(address.clone()), HistoryBound::All)
            .await?;
        let history = CachedHistory::read(read.commits, read.last_sequence);
        self.cache.put(&address.subject(), history.clone());
        Ok(history)
    }

    /// Brings a held history up to date from the stream's leader: what was
    /// appended after it (one request when nothing was), and the commits this
    /// process appended read back with the server's time. Keeps the result.
    async fn refresh(
        &self,
        address: &AggregateAddress,
        held: CachedHistory,
    ) -> Result<CachedHistory, LogError> {
        let from = held
            .provisional_sequence()
            .unwrap_or(held.last_sequence + 1);
        let mut tail = Read::default();
        self.read_from_leader(&address.subject(), from, HistoryBound::All, &mut tail)
            .await?;
        let mut commits: Vec<RecordedCommit> = held
            .commits
            .iter()
            .take_while(|c| c.sequence < from)
            .cloned()
            .collect();
        commits.append(&mut tail.commits);
        let last_sequence = tail.last_sequence.max(held.last_sequence);
        let history = CachedHistory::read(commits, last_sequence);
        self.cache.put(&address.subject(), history.clone());
        Ok(history)
    }

    /// The commit stored at a stream sequence.
    pub async fn commit_at(&self, sequence: u64) -> Result<RecordedCommit, LogError> {
        let message = self
            .stream
            .get_raw_message(sequence)
            .await
            .map_err(|e| LogError::unavailable("get", e))?;
        RecordedCommit::from_log(sequence, &message.subject, message.time, &message.payload)
            .map_err(|distrust| LogError::Codec {
                sequence,
                reason: distrust.to_string(),
            })
    }

    /// A history, in log order: one aggregate, or everything that happened under a root.
    /// Only trusted commits are in it: a message that does not decode, or whose
    /// payload claims another aggregate than its subject's, is left out and
    /// logged (architecture invariant 13). Every acknowledged append is in it
    /// (the stream's leader confirms the end).
    pub async fn history(
        &self,
        scope: &HistoryScope,
        bound: HistoryBound,
    ) -> Result<Vec<RecordedCommit>, LogError> {
        if let (HistoryScope::Aggregate(address), HistoryBound::All) = (scope, bound) {
            let history = self.aggregate_history(address).await?;
            return Ok(Arc::unwrap_or_clone(history.commits));
        }
        Ok(self.read(scope, bound).await?.commits)
    }

    /// Reads a history without a consumer (services need no permission to
    /// create or delete consumers for reading, only for following; see
    /// `follow.rs`): in batches of direct gets (`DIRECT.GET` with `batch` and
    /// `next_by_subj`, which any replica may answer), then from the stream's
    /// leader (`STREAM.MSG.GET` with `next_by_subj`) from where the batches
    /// ended, so a replica behind the leader never hides an acknowledged
    /// append. When a batched read fails (a server without batched direct
    /// gets), the whole history is read from the leader.
    ///
    /// A root's history (several subjects) is read subject by subject: for a
    /// wildcard, nats-server finds the next message by scanning the stream's
    /// blocks from the sequence asked for, which on a log of a million commits
    /// took 100 ms for a case (BENCHMARKS.md, "A million events"); a literal
    /// subject's messages are found through its subject index. The subjects
    /// come from the stream's leader (`STREAM.INFO` with a subjects filter,
    /// answered from the subject tree), so a subject with an acknowledged
    /// append is never missed.
    async fn read(&self, scope: &HistoryScope, bound: HistoryBound) -> Result<Read, LogError> {
        let filter = scope.filter_subject();
        match scope {
            HistoryScope::Aggregate(_) => self.read_subject(&filter, bound, None).await,
            HistoryScope::Root { .. } => {
                let subjects = self.subjects_matching(&filter).await?;
                // The subjects are read at once: the history costs the longest read.
                let reads = futures::future::try_join_all(
                    subjects
                        .iter()
                        .map(|(subject, held)| self.read_subject(subject, bound, Some(*held))),
                )
                .await?;
                let mut merged = Read::default();
                for read in reads {
                    merged.commits.extend(read.commits);
                    merged.last_sequence = merged.last_sequence.max(read.last_sequence);
                }
                merged.commits.sort_by_key(|commit| commit.sequence);
                Ok(merged)
            }
        }
    }

    /// The stream's subjects matching `filter` and how many messages each
    /// holds, as its leader knows them.
    async fn subjects_matching(&self, filter: &str) -> Result<Vec<(String, u64)>, LogError> {
        let failed =
            |e: &dyn std::fmt::Display| LogError::unavailable("read history", e.to_string());
        let mut listed = self
            .stream
            .info_with_subjects(filter)
            .await
            .map_err(|e| failed(&e))?;
        let mut subjects = Vec::new();
        while let Some(subject) = listed.next().await {
            let (subject, held) = subject.map_err(|e| failed(&e))?;
            subjects.push((subject, held as u64));
        }
        Ok(subjects)
    }

    /// Reads one subject's history (see [`Self::read`]). `held`: how many
    /// messages the leader counted on the subject before the read began; a
    /// read that found as many misses no acknowledged append, and needs no
    /// confirmation from the leader.
    async fn read_subject(
        &self,
        filter: &str,
        bound: HistoryBound,
        held: Option<u64>,
    ) -> Result<Read, LogError> {
        let mut read = Read::default();
        if let Err(error) = self.read_batched(filter, bound, &mut read).await {
            tracing::warn!(%error, "batched history read failed, reading from the leader");
            read = Read::default();
        }
        let complete = held.is_some_and(|held| read.messages >= held);
        if !read.ended && !complete {
            let from = read.next(1);
            self.read_from_leader(filter, from, bound, &mut read)
                .await?;
        }
        Ok(read)
    }

    /// Reads `filter`'s messages from sequence 1 in batches of direct gets,
    /// until a batch comes back short, or a message beyond `bound`.
    async fn read_batched(
        &self,
        filter: &str,
        bound: HistoryBound,
        read: &mut Read,
    ) -> Result<(), LogError> {
        let client = self.context.client();
        let api = format!("$JS.API.DIRECT.GET.{}", self.config.stream);
        let timeout = self.config.request_timeout();
        let failed =
            |e: &dyn std::fmt::Display| LogError::unavailable("read history", e.to_string());
        loop {
            let from = read.next(1);
            let inbox = client.new_inbox();
            let mut replies = client
                .subscribe(inbox.clone())
                .await
                .map_err(|e| failed(&e))?;
            let request = serde_json::json!({
                "seq": from,
                "next_by_subj": filter,
                "batch": READ_BATCH,
            });
            client
                .publish_with_reply(api.clone(), inbox, request.to_string().into())
                .await
                .map_err(|e| failed(&e))?;
            let mut received = 0;
            loop {
                let reply = tokio::time::timeout(timeout, replies.next())
                    .await
                    .map_err(|_| failed(&"timed out"))?
                    .ok_or_else(|| failed(&"subscription ended"))?;
                match reply.status {
                    // The end of the batch.
                    Some(status) if status.as_u16() == 204 => break,
                    // Nothing (more) on the subject.
                    Some(status) if status.as_u16() == 404 => return Ok(()),
                    Some(status) if status.as_u16() != 200 => {
                        return Err(failed(&format_args!("direct get answered {status}")));
                    }
                    _ => {}
                }
                let message =
                    jetstream::message::StreamMessage::try_from(reply).map_err(|e| failed(&e))?;
                received += 1;
                read.take(
                    bound,
                    message.sequence,
                    &message.subject,
                    message.time,
                    &message.payload,
                );
                if read.ended {
                    return Ok(());
                }
            }
            if received < READ_BATCH {
                return Ok(());
            }
        }
    }

    /// Reads `filter`'s messages from sequence `from`, one at a time, each the
    /// next on the filter's subjects, answered by the stream's leader (so the
    /// read sees every acknowledged append).
    async fn read_from_leader(
        &self,
        filter: &str,
        from: u64,
        bound: HistoryBound,
        read: &mut Read,
    ) -> Result<(), LogError> {
        let mut next = from;
        while !read.ended {
            let message = match self
                .stream
                .raw_message_builder()
                .sequence(next)
                .next_by_subject(filter.to_owned())
                .send()
                .await
            {
                Ok(message) => message,
                Err(error) if error.kind() == stream::RawMessageErrorKind::NoMessageFound => break,
                Err(error) => return Err(LogError::unavailable("read history", error)),
            };
            next = message.sequence + 1;
            read.take(
                bound,
                message.sequence,
                &message.subject,
                message.time,
                &message.payload,
            );
        }
        Ok(())
    }

    /// The sequence of the last commit in the log, 0 when it is empty.
    pub async fn last_sequence(&self) -> Result<u64, LogError> {
        let info = self
            .stream
            .get_info()
            .await
            .map_err(|e| LogError::unavailable("stream info", e))?;
        Ok(info.state.last_sequence)
    }

    /// Follows the log from just after `position`, for a projection: the
    /// subjects matching `filter_subjects` (which must not overlap), or the
    /// whole log when it is empty. Each instance gets its own consumer, which
    /// takes no acknowledgement: the projection's stored position is where it
    /// follows from again, and a delivery out of order ends the following
    /// (see `follow.rs`).
    pub async fn follow(
        &self,
        projection: &str,
        filter_subjects: Vec<String>,
        position: u64,
        batch: usize,
    ) -> Result<crate::follow::Following, LogError> {
        crate::follow::Following::start(
            &self.stream,
            &format!("{}-{projection}", self.principal),
            filter_subjects,
            position,
            batch,
        )
        .await
    }

    /// The JetStream context of the case log's connection, for the adapters
    /// that keep their own streams on it (the person key store).
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.context
    }

    /// Whether any commit is stored on subjects matching `filter`.
    pub async fn holds(&self, filter: &str) -> Result<bool, LogError> {
        let mut subjects = self
            .stream
            .info_with_subjects(filter)
            .await
            .map_err(|e| LogError::unavailable("stream info", e))?;
        match subjects.next().await {
            Some(Ok(_)) => Ok(true),
            Some(Err(e)) => Err(LogError::unavailable("stream info", e)),
            None => Ok(false),
        }
    }

    /// The limits in which the stream differs from `config` (empty when it is as configured).
    pub async fn stream_differs(
        &self,
        config: &CaseLogConfig,
    ) -> Result<Vec<&'static str>, LogError> {
        let info = self
            .stream
            .get_info()
            .await
            .map_err(|e| LogError::unavailable("stream info", e))?;
        Ok(differing_limits(&info.config, &wanted_stream(config)))
    }

    /// The underlying stream name.
    pub fn stream_name(&self) -> &str {
        &self.config.stream
    }
}

/// The case log stream as `config` wants it.
fn wanted_stream(config: &CaseLogConfig) -> stream::Config {
    stream::Config {
        name: config.stream.clone(),
        description: Some("Approdo case log: immutable, one commit per command".to_owned()),
        subjects: vec![format!("{SUBJECT_PREFIX}.>")],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        discard: stream::DiscardPolicy::New,
        num_replicas: config.replicas,
        duplicate_window: config.duplicate_window(),
        max_bytes: config.stream_max_bytes(),
        deny_delete: true,
        deny_purge: true,
        allow_direct: true,
        ..Default::default()
    }
}

/// The limits in which a stream differs from the configuration wanted. The
/// server reads "unlimited" back as -1 where a client may have asked with 0.
fn differing_limits(stored: &stream::Config, wanted: &stream::Config) -> Vec<&'static str> {
    let unlimited = |n: i64| if n <= 0 { -1 } else { n };
    let mut differs = Vec::new();
    if stored.num_replicas != wanted.num_replicas {
        differs.push("num_replicas");
    }
    if stored.duplicate_window != wanted.duplicate_window {
        differs.push("duplicate_window");
    }
    if stored.max_age != wanted.max_age {
        differs.push("max_age");
    }
    if unlimited(stored.max_messages) != unlimited(wanted.max_messages) {
        differs.push("max_messages");
    }
    if unlimited(stored.max_bytes) != unlimited(wanted.max_bytes) {
        differs.push("max_bytes");
    }
    differs
}

/// Creates or updates the stream so it matches the configuration, and checks
/// that the log is immutable (architecture invariant 2).
async fn provision(
    context: &jetstream::Context,
    config: &CaseLogConfig,
) -> Result<stream::Stream, LogError> {
    let wanted = wanted_stream(config);
    let mut stream = create_or_get(context, wanted.clone(), "provision stream").await?;
    let info = stream
        .info()
        .await
        .map_err(|e| LogError::unavailable("provision stream", e))?;
    if !(info.config.deny_delete && info.config.deny_purge) {
        return Err(LogError::NotImmutable {
            stream: config.stream.clone(),
        });
    }
    let differs = differing_limits(&info.config, &wanted);
    if !differs.is_empty() {
        // Services may create the stream but never change it (no STREAM.UPDATE
        // permission): a different configuration is an operator's change to review.
        tracing::warn!(stream = %config.stream, differs = %differs.join(","), "the case log stream's configuration differs from this service's");
    }
    Ok(stream)
}

/// Creates a stream, or opens it when it exists: never updates it, so a
/// service's credentials need no permission to change a stream's limits.
/// Shared with the person key store's adapter.
pub async fn create_or_get(
    context: &jetstream::Context,
    wanted: stream::Config,
    operation: &'static str,
) -> Result<stream::Stream, LogError> {
    if let Ok(stream) = context.get_stream(&wanted.name).await {
        return Ok(stream);
    }
    let name = wanted.name.clone();
    match context.create_stream(wanted).await {
        Ok(stream) => Ok(stream),
        // Created meanwhile by another service: open it.
        Err(_) => context
            .get_stream(&name)
            .await
            .map_err(|e| LogError::unavailable(operation, e)),
    }
}
