//! Following the log from a position, on the subjects a projection consumes.

use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer, stream};
use futures::StreamExt;

use crate::envelope::{Distrust, RecordedCommit};
use crate::error::LogError;

/// A consumer of the log (all of it, or the subjects a projection names),
/// from a position, for one projection instance.
pub struct Following {
    messages: consumer::pull::Stream,
    pending_at_start: u64,
    name: String,
}

/// One commit delivered to a projection. Acknowledge it after its effect is stored.
pub struct Delivery {
    message: jetstream::Message,
    /// The commit, or why it is not trusted (undecodable, or claiming another
    /// aggregate than its subject's): the projection parks it.
    pub commit: Result<RecordedCommit, Distrust>,
    pub sequence: u64,
    /// The subject it was stored on.
    pub subject: String,
    /// Commits after this one not yet delivered, as the server counted them.
    pub pending: u64,
}

impl Delivery {
    /// Acknowledges this delivery and every one before it.
    pub async fn ack(&self) -> Result<(), LogError> {
        self.message
            .ack_with(AckKind::Ack)
            .await
            .map_err(|e| LogError::unavailable("ack", e))
    }

    /// The trace context as carried in the message headers.
    pub fn trace_context(&self) -> telemetry::TraceContext {
        let header = |name: &str| {
            self.message
                .headers
                .as_ref()
                .and_then(|headers| headers.get(name))
                .map(|value| value.as_str().to_owned())
                .unwrap_or_default()
        };
        telemetry::TraceContext {
            traceparent: header("traceparent"),
            tracestate: header("tracestate"),
        }
    }
}

impl Following {
    /// `projection` is already prefixed with the connection's principal
    /// (`screening-cases`): the consumer is `<principal>-<projection>-<uuid>`.
    /// Services may create consumers but delete none (no `CONSUMER.DELETE` in
    /// the permissions): a consumer ends by its inactive threshold, and its
    /// unguessable name is known only to the connection that created it
    /// (nobody may list consumers; NATS permissions match whole tokens only,
    /// so a name prefix cannot be a permission).
    pub(crate) async fn start(
        stream: &stream::Stream,
        projection: &str,
        filter_subjects: Vec<String>,
        position: u64,
        batch: usize,
    ) -> Result<Following, LogError> {
        let deliver_policy = if position == 0 {
            consumer::DeliverPolicy::All
        } else {
            consumer::DeliverPolicy::ByStartSequence {
                start_sequence: position + 1,
            }
        };
        let name = format!("{projection}-{}", uuid::Uuid::new_v4().simple());
        let consumer = stream
            .create_consumer(consumer::pull::Config {
                name: Some(name.clone()),
                description: Some(format!("projection {projection}")),
                // Empty: the whole log. JetStream refuses overlapping filters.
                filter_subjects,
                deliver_policy,
                ack_policy: consumer::AckPolicy::All,
                ack_wait: Duration::from_secs(60),
                max_ack_pending: 10_000,
                inactive_threshold: Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .map_err(|e| LogError::unavailable("follow", e))?;
        let pending_at_start = consumer.cached_info().num_pending;
        let messages = consumer
            .stream()
            .max_messages_per_batch(batch.max(1))
            .heartbeat(Duration::from_secs(5))
            .expires(Duration::from_secs(30))
            .messages()
            .await
            .map_err(|e| LogError::unavailable("follow", e))?;
        Ok(Following {
            messages,
            pending_at_start,
            name,
        })
    }

    /// The consumer's name on the server: `<principal>-<projection>-<uuid>`.
    pub fn consumer_name(&self) -> &str {
        &self.name
    }

    /// Commits on the followed subjects after the start position, as the
    /// server counted them when the consumer was created: 0 means caught up.
    pub fn pending_at_start(&self) -> u64 {
        self.pending_at_start
    }

    /// The next delivery, waiting for one. `None` when the consumer ended.
    pub async fn next(&mut self) -> Option<Result<Delivery, LogError>> {
        let message = match self.messages.next().await? {
            Ok(message) => message,
            Err(e) => return Some(Err(LogError::unavailable("follow", e))),
        };
        Some(delivery(message))
    }

    /// A delivery that is already buffered, without waiting.
    pub fn next_ready(&mut self) -> Option<Result<Delivery, LogError>> {
        use futures::FutureExt;
        match self.messages.next().now_or_never()? {
            Some(Ok(message)) => Some(delivery(message)),
            Some(Err(e)) => Some(Err(LogError::unavailable("follow", e))),
            None => None,
        }
    }
}

fn delivery(message: jetstream::Message) -> Result<Delivery, LogError> {
    let info = message
        .info()
        .map_err(|e| LogError::unavailable("follow", e))?;
    let (sequence, pending, published) = (info.stream_sequence, info.pending, info.published);
    let commit = RecordedCommit::from_log(sequence, &message.subject, published, &message.payload);
    Ok(Delivery {
        subject: message.subject.to_string(),
        message,
        commit,
        sequence,
        pending,
    })
}
