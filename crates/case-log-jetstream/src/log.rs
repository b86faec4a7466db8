//! The case log on JetStream: provisioning, appends with optimistic concurrency
//! and de-duplication, histories, and the idempotent command pipeline.

use async_nats::HeaderMap;
use async_nats::jetstream::{self, context::PublishErrorKind, stream};
use futures::StreamExt;
use prost::Message;
use time::OffsetDateTime;

use crate::config::CaseLogConfig;
use crate::envelope::{NewCommit, PendingCommit, RecordedCommit};
use crate::error::LogError;
use crate::subject::{AggregateAddress, HistoryScope, SUBJECT_PREFIX};

/// How many times a command is decided again after losing a race.
const MAX_COMMAND_ATTEMPTS: usize = 8;

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
struct Read {
    commits: Vec<RecordedCommit>,
    last_sequence: u64,
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
        })
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
    /// read its history; if `request_id` was already executed, answer with that commit
    /// and append nothing (at any time, not only within the duplicate window);
    /// otherwise decide on the history and append; on a lost race, decide again.
    pub async fn execute<E, F>(
        &self,
        address: &AggregateAddress,
        request_id: &str,
        mut decide: F,
    ) -> Result<Executed, ExecuteError<E>>
    where
        F: FnMut(&[RecordedCommit]) -> Result<PendingCommit, E>,
    {
        let mut last_conflict = None;
        for _ in 0..MAX_COMMAND_ATTEMPTS {
            let read = self
                .read(&HistoryScope::Aggregate(address.clone()), HistoryBound::All)
                .await?;
            let history = read.commits;
            if let Some(done) = history.iter().find(|c| c.request_id() == request_id) {
                return Ok(Executed {
                    sequence: done.sequence,
                    commit: done.commit.clone(),
                    replayed: true,
                });
            }
            // The subject's last message, trusted or not: what JetStream checks.
            let previous_sequence = read.last_sequence;
            let mut pending = decide(&history).map_err(ExecuteError::Rejected)?;
            pending.request_id = request_id.to_owned();
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
                    return Ok(Executed {
                        sequence: receipt.sequence,
                        commit: receipt.commit,
                        replayed: false,
                    });
                }
                Err(conflict @ LogError::Conflict { .. }) => {
                    tracing::debug!(previous_sequence, "append lost a race, deciding again");
                    last_conflict = Some(conflict);
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(last_conflict
            .unwrap_or(LogError::Conflict { expected: 0 })
            .into())
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
    /// logged (architecture invariant 13).
    pub async fn history(
        &self,
        scope: &HistoryScope,
        bound: HistoryBound,
    ) -> Result<Vec<RecordedCommit>, LogError> {
        Ok(self.read(scope, bound).await?.commits)
    }

    /// Reads a history one message at a time, each the next on the scope's
    /// subjects (`STREAM.MSG.GET` with `next_by_subj`, answered by the
    /// stream's leader, so a read sees every acknowledged append). No consumer
    /// is created: services need no permission to create or delete consumers
    /// for reading, only for following (see `follow.rs`).
    async fn read(&self, scope: &HistoryScope, bound: HistoryBound) -> Result<Read, LogError> {
        let filter = scope.filter_subject();
        let mut read = Read {
            commits: Vec::new(),
            last_sequence: 0,
        };
        let mut next = 1;
        loop {
            let message = match self
                .stream
                .raw_message_builder()
                .sequence(next)
                .next_by_subject(filter.clone())
                .send()
                .await
            {
                Ok(message) => message,
                Err(error) if error.kind() == stream::RawMessageErrorKind::NoMessageFound => break,
                Err(error) => return Err(LogError::unavailable("read history", error)),
            };
            if !bound.admits(message.sequence, message.time) {
                break;
            }
            read.last_sequence = message.sequence;
            next = message.sequence + 1;
            match RecordedCommit::from_log(
                message.sequence,
                &message.subject,
                message.time,
                &message.payload,
            ) {
                Ok(commit) => read.commits.push(commit),
                Err(distrust) => tracing::warn!(
                    sequence = message.sequence,
                    subject = %message.subject,
                    reason = distrust.code(),
                    detail = %distrust.detail(),
                    "untrusted commit left out of a history"
                ),
            }
        }
        Ok(read)
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
    /// whole log when it is empty. Each instance gets its own consumer;
    /// acknowledging a delivery acknowledges every delivery before it.
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
