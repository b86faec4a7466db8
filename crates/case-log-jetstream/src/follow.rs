//! Following the log from a position, on the subjects a projection consumes.
//!
//! Ordered, never acknowledged: the consumer is created at every start from
//! the position the projection stored (the projection's store holds the
//! position, never the consumer), with no acknowledgements (nothing is ever
//! redelivered), one replica in memory (nothing to replicate or write to
//! disk per delivery). Each delivery must be the consumer's next one and
//! later in the log than the one before: a delivery lost in flight (a
//! connection cut, a server killed or frozen) is a gap in the consumer's
//! sequence, and then following answers an error, for good. The caller
//! stores what it received before the error and follows again from its
//! stored position: no commit is skipped, none applied twice.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use futures::StreamExt;
use time::OffsetDateTime;

use crate::envelope::{Distrust, RecordedCommit};
use crate::error::LogError;

/// A consumer of the log (all of it, or the subjects a projection names),
/// from a position, for one projection instance.
pub struct Following {
    messages: consumer::pull::Stream,
    pending_at_start: u64,
    name: String,
    /// The consumer sequence of the last delivery (0 before the first).
    consumer_sequence: u64,
    /// The stream sequence of the last delivery (the start position before the first).
    sequence: u64,
    /// Why following stopped, once it did: every later call answers it again.
    broken: Option<String>,
}

/// One commit delivered to a projection, not decoded yet: decode it with
/// [`Delivery::decode`] where CPU work is welcome (a blocking thread).
pub struct Delivery {
    message: jetstream::Message,
    published: OffsetDateTime,
    /// The stream sequence: the commit's position in the log.
    pub sequence: u64,
    /// Its position among what this consumer delivered (1 for the first).
    pub consumer_sequence: u64,
    /// Commits after this one not yet delivered, as the server counted them.
    pub pending: u64,
}

/// A delivery read as a commit.
pub struct Decoded {
    pub sequence: u64,
    /// The subject it was stored on.
    pub subject: String,
    /// The commit, or why it is not trusted (undecodable, or claiming another
    /// aggregate than its subject's): the projection parks it.
    pub commit: Result<RecordedCommit, Distrust>,
    /// The trace context as carried in the message headers.
    pub trace: telemetry::TraceContext,
}

impl Delivery {
    /// The subject it was stored on.
    pub fn subject(&self) -> &str {
        &self.message.subject
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

    /// Decodes the envelope and checks its claim (invariant 13). Consumes the
    /// delivery: the payload is read in place, never copied.
    pub fn decode(self) -> Decoded {
        let trace = self.trace_context();
        let subject = self.subject().to_owned();
        let commit = RecordedCommit::from_log(
            self.sequence,
            &subject,
            self.published,
            &self.message.payload,
        );
        Decoded {
            sequence: self.sequence,
            subject,
            commit,
            trace,
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
                // Ordered: nothing acknowledged, nothing redelivered, so the
                // consumer sequence has no hole unless a delivery was lost.
                ack_policy: consumer::AckPolicy::None,
                max_deliver: 1,
                num_replicas: 1,
                memory_storage: true,
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
            consumer_sequence: 0,
            sequence: position,
            broken: None,
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
    /// After an error (the server, or a delivery out of order), every call
    /// answers an error: follow again from the stored position.
    pub async fn next(&mut self) -> Option<Result<Delivery, LogError>> {
        if let Some(broken) = &self.broken {
            return Some(Err(LogError::unavailable("follow", broken.clone())));
        }
        let next = self.messages.next().await?;
        Some(self.check(next))
    }

    /// A delivery that is already buffered, without waiting.
    pub fn next_ready(&mut self) -> Option<Result<Delivery, LogError>> {
        use futures::FutureExt;
        if let Some(broken) = &self.broken {
            return Some(Err(LogError::unavailable("follow", broken.clone())));
        }
        let next = self.messages.next().now_or_never()??;
        Some(self.check(next))
    }

    /// Each delivery is this consumer's next one and later in the log than
    /// the one before; anything else breaks following for good.
    fn check(
        &mut self,
        next: Result<jetstream::Message, consumer::pull::MessagesError>,
    ) -> Result<Delivery, LogError> {
        let delivery = next
            .map_err(|e| e.to_string())
            .and_then(|message| delivery(message).map_err(|e| e.to_string()))
            .and_then(|delivery| {
                if delivery.consumer_sequence != self.consumer_sequence + 1 {
                    Err(format!(
                        "delivery {} of the consumer after {}: a delivery was lost",
                        delivery.consumer_sequence, self.consumer_sequence
                    ))
                } else if delivery.sequence <= self.sequence {
                    Err(format!(
                        "log sequence {} delivered after {}",
                        delivery.sequence, self.sequence
                    ))
                } else {
                    Ok(delivery)
                }
            });
        match delivery {
            Ok(delivery) => {
                self.consumer_sequence = delivery.consumer_sequence;
                self.sequence = delivery.sequence;
                Ok(delivery)
            }
            Err(reason) => {
                self.broken = Some(reason.clone());
                Err(LogError::unavailable("follow", reason))
            }
        }
    }
}

fn delivery(message: jetstream::Message) -> Result<Delivery, async_nats::Error> {
    let info = message.info()?;
    let (sequence, consumer_sequence) = (info.stream_sequence, info.consumer_sequence);
    let (pending, published) = (info.pending, info.published);
    Ok(Delivery {
        message,
        published,
        sequence,
        consumer_sequence,
        pending,
    })
}
