//! What can go wrong with the log, as kinds a service maps to gRPC codes in one place.
//! Messages hold sequences and codes only, never payloads.

/// An error of the case log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// Another command appended to the aggregate since its state was read.
    #[error("stale expected sequence {expected}: the aggregate changed")]
    Conflict { expected: u64 },
    /// The NATS server cannot be reached or did not answer.
    #[error("case log unavailable: {operation}")]
    Unavailable {
        operation: &'static str,
        #[source]
        source: async_nats::Error,
    },
    /// The server answered, and refused.
    #[error("case log refused {operation}: {description}")]
    Refused {
        operation: &'static str,
        description: String,
    },
    /// The stream holds its `max_bytes` and refuses new commits (discard
    /// policy New: nothing old is ever dropped to make room).
    #[error("stream {stream} is full: {bytes} of {max_bytes} bytes used, appends refused")]
    Full {
        stream: String,
        bytes: u64,
        max_bytes: i64,
    },
    /// A stored message is not a commit this code can read.
    #[error("commit at sequence {sequence} cannot be decoded: {reason}")]
    Codec { sequence: u64, reason: String },
    /// A commit must hold at least one event.
    #[error("a commit must hold at least one event")]
    EmptyCommit,
    /// The stream exists with settings that break an invariant (delete or purge allowed).
    #[error("stream {stream} is not immutable: deny_delete and deny_purge must be set")]
    NotImmutable { stream: String },
}

impl LogError {
    pub(crate) fn unavailable(
        operation: &'static str,
        source: impl Into<async_nats::Error>,
    ) -> Self {
        LogError::Unavailable {
            operation,
            source: source.into(),
        }
    }
}
