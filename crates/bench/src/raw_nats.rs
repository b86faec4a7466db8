//! A minimal NATS protocol client over a plain TCP stream: the raw baseline for
//! "publish to JetStream and await its acknowledgement", without async-nats
//! (only `case-log-jetstream` may depend on it) and without our envelope.
//!
//! It speaks just what the baseline needs: `CONNECT`, `PING`/`PONG`, one `SUB` on
//! a private inbox, `PUB <subject> <reply> <len>`, `HPUB` with the
//! `Nats-Expected-Last-Subject-Sequence` header (one at a time, or many in flight
//! on distinct subjects: [`RawClient::publish_in_flight`]), and reading `MSG`/`HMSG` frames.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::stats::Sampler;

/// How long to wait for the server's answer to one request.
const PATIENCE: Duration = Duration::from_secs(5);
/// Longest control line or payload accepted from the server (a guard, not a limit of NATS).
const MAX_FRAME: usize = 8 * 1024 * 1024;

const CONNECT: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\
\"lang\":\"rust\",\"version\":\"0.1.0\",\"protocol\":1,\"name\":\"approdo-bench-raw\"}\r\nPING\r\n";

/// One frame read from the server.
enum Frame {
    Info,
    Ok,
    Ping,
    Pong,
    /// `MSG` or `HMSG`; `status` is the status code of an `HMSG` header block, if any.
    Msg {
        subject: String,
        status: Option<u16>,
        payload: Vec<u8>,
    },
}

/// A connection to one NATS server on 127.0.0.1, subscribed to its own reply inbox.
pub struct RawClient {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    inbox: String,
    requests: u64,
    line: String,
    frame: Vec<u8>,
}

impl RawClient {
    /// Connects to `127.0.0.1:<port>`, completes the handshake and subscribes to an inbox.
    pub async fn connect(port: u16) -> Result<RawClient> {
        let stream = tokio::time::timeout(PATIENCE, TcpStream::connect(("127.0.0.1", port)))
            .await
            .context("connecting to nats-server timed out")?
            .context("connecting to nats-server")?;
        stream.set_nodelay(true)?;
        let (reader, writer) = stream.into_split();
        let mut client = RawClient {
            reader: BufReader::new(reader),
            writer,
            inbox: format!("_INBOX.{}", uuid::Uuid::new_v4().simple()),
            requests: 0,
            line: String::new(),
            frame: Vec::new(),
        };
        match client.next_frame().await? {
            Frame::Info => {}
            _ => bail!("nats-server did not start with INFO"),
        }
        client.writer.write_all(CONNECT).await?;
        loop {
            match client.next_frame().await? {
                Frame::Pong => break,
                Frame::Ping => client.writer.write_all(b"PONG\r\n").await?,
                Frame::Info | Frame::Ok => {}
                Frame::Msg { .. } => bail!("message before the handshake completed"),
            }
        }
        let subscribe = format!("SUB {}.* 1\r\n", client.inbox);
        client.writer.write_all(subscribe.as_bytes()).await?;
        Ok(client)
    }

    /// Publishes `payload` on `subject` with a reply inbox and waits for JetStream's
    /// acknowledgement; returns the stream sequence it stored the message at.
    pub async fn publish_and_ack(&mut self, subject: &str, payload: &[u8]) -> Result<u64> {
        self.requests += 1;
        let reply = format!("{}.{}", self.inbox, self.requests);
        let mut message = Vec::with_capacity(subject.len() + reply.len() + payload.len() + 32);
        message
            .extend_from_slice(format!("PUB {subject} {reply} {}\r\n", payload.len()).as_bytes());
        message.extend_from_slice(payload);
        message.extend_from_slice(b"\r\n");
        self.writer.write_all(&message).await?;
        let answer = tokio::time::timeout(PATIENCE, self.answer_to(&reply))
            .await
            .context("no acknowledgement from JetStream in time")??;
        parse_pub_ack(&answer)
    }

    /// Publishes `payload` on `subject` expecting the subject's last message to be
    /// at `expected` (0: none yet), as the case log appends; waits for the
    /// acknowledgement and returns the new message's sequence.
    pub async fn publish_expecting(
        &mut self,
        subject: &str,
        expected: u64,
        payload: &[u8],
    ) -> Result<u64> {
        self.requests += 1;
        let reply = format!("{}.{}", self.inbox, self.requests);
        let message = expected_sequence_hpub(subject, &reply, expected, payload);
        self.writer.write_all(&message).await?;
        let answer = tokio::time::timeout(PATIENCE, self.answer_to(&reply))
            .await
            .context("no acknowledgement from JetStream in time")??;
        parse_pub_ack(&answer)
    }

    /// Keeps one publish in flight on each of `subjects` (so `subjects.len()` in
    /// flight), each with `Nats-Expected-Last-Subject-Sequence` set to the
    /// subject's previous message, until `sampler` says stop; records each
    /// publish's latency (from writing it to reading its acknowledgement).
    /// A refused publish (a wrong expected sequence) is an error.
    pub async fn publish_in_flight(
        &mut self,
        subjects: &mut [InFlightSubject],
        payload: &[u8],
        sampler: &mut Sampler,
    ) -> Result<()> {
        // Request number -> (subject index, when sent).
        let mut pending: HashMap<u64, (usize, Instant)> = HashMap::with_capacity(subjects.len());
        let prefix = format!("{}.", self.inbox);
        for index in 0..subjects.len() {
            if !sampler.more_beside(pending.len()) {
                break;
            }
            self.send_next(subjects, index, payload, &mut pending)
                .await?;
        }
        while !pending.is_empty() {
            let frame = tokio::time::timeout(PATIENCE, self.next_frame())
                .await
                .context("no acknowledgement from JetStream in time")??;
            match frame {
                Frame::Msg {
                    subject,
                    status,
                    payload: answer,
                } => {
                    let Some(number) = subject
                        .strip_prefix(&prefix)
                        .and_then(|n| n.parse::<u64>().ok())
                    else {
                        continue;
                    };
                    let Some((index, sent)) = pending.remove(&number) else {
                        continue;
                    };
                    if let Some(code) = status.filter(|code| *code >= 300) {
                        bail!("publish answered with status {code}");
                    }
                    let sequence = parse_pub_ack(&answer)?;
                    sampler.record(sent.elapsed(), 1);
                    let target = &mut subjects[index];
                    target.last = sequence;
                    target.acknowledged.push(sequence);
                    if sampler.more_beside(pending.len()) {
                        self.send_next(subjects, index, payload, &mut pending)
                            .await?;
                    }
                }
                Frame::Ping => self.writer.write_all(b"PONG\r\n").await?,
                Frame::Info | Frame::Ok | Frame::Pong => {}
            }
        }
        Ok(())
    }

    async fn send_next(
        &mut self,
        subjects: &[InFlightSubject],
        index: usize,
        payload: &[u8],
        pending: &mut HashMap<u64, (usize, Instant)>,
    ) -> Result<()> {
        self.requests += 1;
        let reply = format!("{}.{}", self.inbox, self.requests);
        let target = &subjects[index];
        let message = expected_sequence_hpub(&target.subject, &reply, target.last, payload);
        pending.insert(self.requests, (index, Instant::now()));
        self.writer.write_all(&message).await?;
        Ok(())
    }

    /// Reads frames until the message sent to `reply`, answering pings on the way.
    async fn answer_to(&mut self, reply: &str) -> Result<Vec<u8>> {
        loop {
            match self.next_frame().await? {
                Frame::Msg {
                    subject,
                    status,
                    payload,
                } if subject == reply => {
                    if let Some(code) = status.filter(|code| *code >= 300) {
                        bail!("request answered with status {code} (no stream on the subject?)");
                    }
                    return Ok(payload);
                }
                // A late answer to an earlier request: not ours.
                Frame::Msg { .. } | Frame::Info | Frame::Ok | Frame::Pong => {}
                Frame::Ping => self.writer.write_all(b"PONG\r\n").await?,
            }
        }
    }

    async fn next_frame(&mut self) -> Result<Frame> {
        self.line.clear();
        let read = (&mut self.reader)
            .take(MAX_FRAME as u64)
            .read_line(&mut self.line)
            .await?;
        ensure!(read > 0, "nats-server closed the connection");
        ensure!(self.line.ends_with("\r\n"), "control line too long or cut");
        let line = self.line.trim_end_matches(['\r', '\n']);
        let (operation, arguments) = line.split_once(' ').unwrap_or((line, ""));
        let arguments: Vec<&str> = arguments.split_ascii_whitespace().collect();
        match operation.to_ascii_uppercase().as_str() {
            "INFO" => Ok(Frame::Info),
            "+OK" => Ok(Frame::Ok),
            "PING" => Ok(Frame::Ping),
            "PONG" => Ok(Frame::Pong),
            "-ERR" => bail!("nats-server error: {}", arguments.join(" ")),
            // MSG <subject> <sid> [reply-to] <#bytes>
            "MSG" if (3..=4).contains(&arguments.len()) => {
                let subject = arguments[0].to_owned();
                let total = parse_len(arguments[arguments.len() - 1])?;
                let body = self.read_body(total).await?;
                Ok(Frame::Msg {
                    subject,
                    status: None,
                    payload: body.to_vec(),
                })
            }
            // HMSG <subject> <sid> [reply-to] <#header bytes> <#total bytes>
            "HMSG" if (4..=5).contains(&arguments.len()) => {
                let subject = arguments[0].to_owned();
                let headers = parse_len(arguments[arguments.len() - 2])?;
                let total = parse_len(arguments[arguments.len() - 1])?;
                ensure!(headers <= total, "HMSG header length exceeds total length");
                let body = self.read_body(total).await?;
                let status = header_status(&body[..headers]);
                Ok(Frame::Msg {
                    subject,
                    status,
                    payload: body[headers..].to_vec(),
                })
            }
            _ => bail!("unexpected frame from nats-server: {operation}"),
        }
    }

    /// Reads `len` bytes of payload and the CRLF after them.
    async fn read_body(&mut self, len: usize) -> Result<&[u8]> {
        ensure!(len <= MAX_FRAME, "payload of {len} bytes is too large");
        self.frame.resize(len + 2, 0);
        self.reader.read_exact(&mut self.frame).await?;
        ensure!(
            self.frame.ends_with(b"\r\n"),
            "payload not followed by CRLF"
        );
        Ok(&self.frame[..len])
    }
}

/// One subject of [`RawClient::publish_in_flight`]: its name, the sequence of
/// its last message (0: none), and every sequence acknowledged on it.
#[derive(Debug, Clone)]
pub struct InFlightSubject {
    pub subject: String,
    pub last: u64,
    pub acknowledged: Vec<u64>,
}

impl InFlightSubject {
    /// `count` fresh subjects `<prefix>.<i>.screening`... named inside the case
    /// log's subjects (`approdo.case.<id>.screening`), with no message yet.
    pub fn fresh(prefix: &str, count: usize) -> Vec<InFlightSubject> {
        (0..count)
            .map(|i| InFlightSubject {
                subject: format!("approdo.case.{prefix}-{i}.screening"),
                last: 0,
                acknowledged: Vec::new(),
            })
            .collect()
    }
}

/// `HPUB <subject> <reply> <header bytes> <total bytes>` with the expected last
/// subject sequence header, then the payload.
fn expected_sequence_hpub(subject: &str, reply: &str, expected: u64, payload: &[u8]) -> Vec<u8> {
    let headers = format!("NATS/1.0\r\nNats-Expected-Last-Subject-Sequence: {expected}\r\n\r\n");
    let mut message =
        Vec::with_capacity(subject.len() + reply.len() + headers.len() + payload.len() + 48);
    message.extend_from_slice(
        format!(
            "HPUB {subject} {reply} {} {}\r\n",
            headers.len(),
            headers.len() + payload.len()
        )
        .as_bytes(),
    );
    message.extend_from_slice(headers.as_bytes());
    message.extend_from_slice(payload);
    message.extend_from_slice(b"\r\n");
    message
}

fn parse_len(token: &str) -> Result<usize> {
    token
        .parse()
        .with_context(|| format!("bad length {token:?} in a frame"))
}

/// The status code in a header block such as `NATS/1.0 503\r\n\r\n`.
fn header_status(headers: &[u8]) -> Option<u16> {
    let first = headers.split(|b| *b == b'\n').next()?;
    let first = std::str::from_utf8(first).ok()?.trim();
    first
        .strip_prefix("NATS/1.0")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `{"stream":"...","seq":N}` or `{"error":{"code":...,"description":"..."}}`.
fn parse_pub_ack(payload: &[u8]) -> Result<u64> {
    let ack: serde_json::Value =
        serde_json::from_slice(payload).context("JetStream acknowledgement is not JSON")?;
    if let Some(error) = ack.get("error") {
        bail!("JetStream refused the message: {error}");
    }
    ensure!(
        ack.get("stream").is_some(),
        "not a JetStream acknowledgement: {ack}"
    );
    ack.get("seq")
        .and_then(serde_json::Value::as_u64)
        .context("JetStream acknowledgement without a sequence")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_acknowledgements_and_refusals() {
        let ok = br#"{"stream":"APPRODO_CASE_LOG","seq":42}"#;
        assert_eq!(parse_pub_ack(ok).expect("ack"), 42);
        let refused = br#"{"error":{"code":503,"description":"stream offline"}}"#;
        assert!(parse_pub_ack(refused).is_err());
        assert!(parse_pub_ack(b"{}").is_err());
    }

    #[test]
    fn frames_an_expected_sequence_publish() {
        let frame = expected_sequence_hpub("approdo.case.a.screening", "_INBOX.x.1", 7, b"abc");
        let headers = "NATS/1.0\r\nNats-Expected-Last-Subject-Sequence: 7\r\n\r\n";
        let expected = format!(
            "HPUB approdo.case.a.screening _INBOX.x.1 {} {}\r\n{headers}abc\r\n",
            headers.len(),
            headers.len() + 3
        );
        assert_eq!(String::from_utf8(frame).expect("ascii"), expected);
    }

    /// Against a real nats-server: 64 publishes in flight on 64 subjects, each
    /// expecting its subject's previous message, all stored once and in order
    /// per subject; and a publish expecting a stale sequence is refused (so the
    /// header is really checked, as the case log's appends are).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keeps_sixty_four_expected_sequence_publishes_in_flight() {
        use case_log_jetstream::{CaseLog, CaseLogConfig};
        let server = nats_test_server::NatsServer::start();
        let config = CaseLogConfig {
            url: server.url(),
            ..CaseLogConfig::default()
        };
        let _log = CaseLog::connect(&config).await.expect("the stream");
        let mut client = RawClient::connect(server.port()).await.expect("connect");
        let mut subjects = InFlightSubject::fresh("raw-test", 64);
        let total = 64 * 5 + 3;
        let mut sampler = Sampler::new(total, Duration::from_secs(600));
        client
            .publish_in_flight(&mut subjects, &[7; 200], &mut sampler)
            .await
            .expect("every publish acknowledged");
        let run = sampler.finish();
        assert_eq!(run.items, total);
        let mut all: Vec<u64> = subjects
            .iter()
            .flat_map(|s| s.acknowledged.iter().copied())
            .collect();
        all.sort_unstable();
        // A fresh stream: every message stored once, sequences 1..=total.
        assert_eq!(all, (1..=total as u64).collect::<Vec<_>>());
        for subject in &subjects {
            assert!(subject.acknowledged.windows(2).all(|w| w[0] < w[1]));
            assert_eq!(subject.last, *subject.acknowledged.last().expect("some"));
            assert!(!subject.acknowledged.is_empty(), "every subject in flight");
        }
        // Going on from where it stopped works; a stale expectation is refused.
        let first = &subjects[0];
        let next = client
            .publish_expecting(&first.subject, first.last, b"x")
            .await
            .expect("the right expectation");
        assert_eq!(next, total as u64 + 1);
        let refused = client
            .publish_expecting(&first.subject, first.last, b"y")
            .await;
        assert!(
            refused.is_err(),
            "a stale expected sequence must be refused"
        );
    }

    #[test]
    fn reads_the_status_of_a_header_block() {
        assert_eq!(header_status(b"NATS/1.0 503\r\n\r\n"), Some(503));
        assert_eq!(header_status(b"NATS/1.0\r\nA: b\r\n\r\n"), None);
    }
}
