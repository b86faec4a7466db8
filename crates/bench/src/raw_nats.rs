//! A minimal NATS protocol client over a plain TCP stream: the raw baseline for
//! "publish to JetStream and await its acknowledgement", without async-nats
//! (only `case-log-jetstream` may depend on it) and without our envelope.
//!
//! It speaks just what the baseline needs: `CONNECT`, `PING`/`PONG`, one `SUB` on
//! a private inbox, `PUB <subject> <reply> <len>`, and reading `MSG`/`HMSG` frames.

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

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
    fn reads_the_status_of_a_header_block() {
        assert_eq!(header_status(b"NATS/1.0 503\r\n\r\n"), Some(503));
        assert_eq!(header_status(b"NATS/1.0\r\nA: b\r\n\r\n"), None);
    }
}
