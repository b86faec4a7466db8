//! What can go wrong with the key store, as kinds a service maps to gRPC codes
//! in one place. Messages hold key ids and operations only, never keys.

use case_log_jetstream::LogError;

#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// The NATS server cannot be reached or did not answer.
    #[error("person key store unavailable: {operation}")]
    Unavailable {
        operation: &'static str,
        #[source]
        source: async_nats::Error,
    },
    /// The server answered and refused, or the store is not as it must be
    /// (missing, or missing over sealed data).
    #[error("person key store refused {operation}: {description}")]
    Refused {
        operation: &'static str,
        description: String,
    },
    /// The person was erased: their tombstone forbids a new key.
    #[error("the person's personal data is erased")]
    Erased,
    /// The case log could not say whether it holds sealed data.
    #[error(transparent)]
    Log(#[from] LogError),
}

impl KeyStoreError {
    pub(crate) fn unavailable(
        operation: &'static str,
        source: impl Into<async_nats::Error>,
    ) -> Self {
        KeyStoreError::Unavailable {
            operation,
            source: source.into(),
        }
    }
}
