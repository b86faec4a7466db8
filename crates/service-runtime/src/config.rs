//! Service configuration: defaults, then a TOML file, then environment variables.
//!
//! An environment variable `APPRODO_<SERVICE>__<SECTION>__<KEY>` overrides
//! `[section] key` (for example `APPRODO_SCREENING__CASE_LOG__URL`). Tests build
//! the struct directly and never use the environment.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use case_log_jetstream::CaseLogConfig;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use telemetry::TelemetryConfig;

/// What every service is configured with.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceConfig {
    /// gRPC listen address; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Where the service keeps its projection.
    pub data_dir: PathBuf,
    pub case_log: CaseLogConfig,
    pub telemetry: TelemetryConfig,
    /// RPCs served at once; more are refused with RESOURCE_EXHAUSTED, not queued.
    pub concurrency_limit: usize,
    /// How long a query waits for its minimum log sequence, in milliseconds.
    pub read_patience_ms: u64,
    /// How long in-flight RPCs may take to finish at shutdown, in milliseconds.
    pub grace_period_ms: u64,
    /// Commits applied per projection transaction.
    pub projection_batch: usize,
    /// The projection store's page cache (sled's `cache_capacity`), in bytes:
    /// what bounds a service's memory as its projection grows.
    pub projection_cache_bytes: u64,
    /// How often deadlines are checked against the clock, in milliseconds.
    pub deadline_check_interval_ms: u64,
    /// Refused calls of one organisation to one RPC within this window, in
    /// milliseconds, are recorded as one access-log record.
    pub refusal_window_ms: u64,
    /// The service's own options (`[options]`), read and checked by the service
    /// itself at start ([`ServiceConfig::options`]): each service owns its options.
    pub options: toml::Table,
    /// Whose tokens are accepted, for which audience, how long.
    pub auth: AuthConfig,
    /// Per-person encryption of personal data (the services that hold it).
    pub encryption: EncryptionConfig,
    /// TLS for the gRPC server; with a client CA, mutual TLS.
    pub tls: Option<TlsConfig>,
    /// The Prometheus scrape endpoint and the OTLP metrics push interval.
    pub metrics: crate::metrics::MetricsConfig,
}

/// The gRPC server's certificate, and optionally the CA whose client certificates
/// it requires (mutual TLS for service-to-service and integrator connections).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain of the server.
    pub cert_file: PathBuf,
    /// PEM private key of the server.
    pub key_file: PathBuf,
    /// PEM CA certificate(s); when set, clients must present a certificate it signed.
    pub client_ca_file: Option<PathBuf>,
}

/// The key-encryption key that wraps every person's data key, and where the
/// wrapped keys are kept.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct EncryptionConfig {
    /// 32 bytes of hex; or use `key_encryption_key_file`.
    pub key_encryption_key: Option<String>,
    pub key_encryption_key_file: Option<PathBuf>,
    /// The JetStream stream of wrapped person keys.
    pub key_store_stream: String,
}

/// The key is never shown: a configuration can be logged whole. Every field is
/// named, so a new one must be decided here.
impl std::fmt::Debug for EncryptionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let EncryptionConfig {
            key_encryption_key,
            key_encryption_key_file,
            key_store_stream,
        } = self;
        f.debug_struct("EncryptionConfig")
            .field(
                "key_encryption_key",
                &key_encryption_key.as_ref().map(|_| "<redacted>"),
            )
            .field("key_encryption_key_file", key_encryption_key_file)
            .field("key_store_stream", key_store_stream)
            .finish()
    }
}

impl Default for EncryptionConfig {
    fn default() -> Self {
        EncryptionConfig {
            key_encryption_key: None,
            key_encryption_key_file: None,
            key_store_stream: "APPRODO_PERSON_KEYS".to_owned(),
        }
    }
}

impl EncryptionConfig {
    /// The key-encryption key as hex, from the value or the file.
    pub fn key_encryption_key_hex(&self) -> Result<String, ConfigError> {
        match (&self.key_encryption_key, &self.key_encryption_key_file) {
            (Some(key), _) => Ok(key.clone()),
            (None, Some(file)) => {
                std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
                    path: file.clone(),
                    source,
                })
            }
            (None, None) => Err(ConfigError::Invalid(
                "encryption.key_encryption_key or encryption.key_encryption_key_file is required"
                    .to_owned(),
            )),
        }
    }
}

/// Whose signed tokens the service accepts (`[auth]`): its audience, the time
/// rules and the issuers with their keys. Defined with the verifier.
pub use access_token::AuthConfig;

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: PathBuf::from(".local/data"),
            case_log: CaseLogConfig::default(),
            telemetry: TelemetryConfig::default(),
            concurrency_limit: 256,
            read_patience_ms: 5_000,
            grace_period_ms: 10_000,
            projection_batch: 512,
            projection_cache_bytes: projection_sled::store::DEFAULT_CACHE_BYTES,
            deadline_check_interval_ms: 30_000,
            refusal_window_ms: 10_000,
            options: toml::Table::new(),
            auth: AuthConfig::default(),
            encryption: EncryptionConfig::default(),
            tls: None,
            metrics: crate::metrics::MetricsConfig::default(),
        }
    }
}

impl ServiceConfig {
    /// The service's own options, from the `[options]` section (defaults for
    /// what is missing; an unknown key is refused if `T` denies unknown fields).
    pub fn options<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        toml::Value::Table(self.options.clone())
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(format!("[options]: {e}")))
    }

    pub fn read_patience(&self) -> Duration {
        Duration::from_millis(self.read_patience_ms)
    }

    pub fn deadline_check_interval(&self) -> Duration {
        Duration::from_millis(self.deadline_check_interval_ms)
    }

    pub fn refusal_window(&self) -> Duration {
        Duration::from_millis(self.refusal_window_ms.max(1))
    }

    pub fn grace_period(&self) -> Duration {
        Duration::from_millis(self.grace_period_ms)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Loads `T` from its defaults, the optional TOML file, and `APPRODO_<SERVICE>__*` variables.
pub fn load<T: DeserializeOwned>(service: &str, file: Option<&Path>) -> Result<T, ConfigError> {
    let mut value = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            text.parse::<toml::Table>()
                .map_err(|e| ConfigError::Invalid(e.to_string()))?
        }
        None => toml::Table::new(),
    };
    let prefix = format!("APPRODO_{}__", service.to_uppercase().replace('-', "_"));
    apply_env(&mut value, &prefix, std::env::vars());
    toml::Value::Table(value)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))
}

fn apply_env(table: &mut toml::Table, prefix: &str, vars: impl Iterator<Item = (String, String)>) {
    for (name, raw) in vars {
        let Some(path) = name.strip_prefix(prefix) else {
            continue;
        };
        let keys: Vec<String> = path.split("__").map(str::to_lowercase).collect();
        let Some((last, parents)) = keys.split_last() else {
            continue;
        };
        let mut node = &mut *table;
        for key in parents {
            let entry = node
                .entry(key.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                *entry = toml::Value::Table(toml::Table::new());
            }
            let toml::Value::Table(next) = entry else {
                unreachable_table()
            };
            node = next;
        }
        node.insert(last.clone(), scalar(&raw));
    }
}

fn unreachable_table() -> ! {
    panic!("entry was just made a table")
}

/// A variable's value as TOML: numbers and booleans as such, anything else a string.
fn scalar(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !v.is_table())
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment_override_defaults() {
        let mut table: toml::Table =
            "listen = \"127.0.0.1:7001\"\n[case_log]\nstream = \"FROM_FILE\"\n"
                .parse()
                .expect("toml");
        let vars = [
            (
                "APPRODO_SCREENING__CASE_LOG__URL".to_owned(),
                "nats://10.0.0.1:4222".to_owned(),
            ),
            (
                "APPRODO_SCREENING__CONCURRENCY_LIMIT".to_owned(),
                "17".to_owned(),
            ),
            (
                "APPRODO_REFERRAL__CONCURRENCY_LIMIT".to_owned(),
                "99".to_owned(),
            ),
        ];
        apply_env(&mut table, "APPRODO_SCREENING__", vars.into_iter());
        let config: ServiceConfig = toml::Value::Table(table).try_into().expect("config");
        assert_eq!(config.listen, SocketAddr::from(([127, 0, 0, 1], 7001)));
        assert_eq!(config.case_log.stream, "FROM_FILE");
        assert_eq!(config.case_log.url, "nats://10.0.0.1:4222");
        assert_eq!(config.concurrency_limit, 17);
        assert_eq!(
            config.read_patience_ms,
            ServiceConfig::default().read_patience_ms
        );
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let issuer = crate::caller::TokenIssuer::generate("idp").expect("issuer");
        let config = ServiceConfig {
            case_log: CaseLogConfig {
                password: Some("nats-password-0123".to_owned()),
                ..CaseLogConfig::default()
            },
            encryption: EncryptionConfig {
                key_encryption_key: Some("ab".repeat(32)),
                ..EncryptionConfig::default()
            },
            auth: issuer.auth_config(),
            ..ServiceConfig::default()
        };
        let shown = format!("{config:?}");
        // The positive control: the configuration is there, its secrets are not.
        assert!(
            shown.contains("APPRODO_PERSON_KEYS") && shown.contains(issuer.kid()),
            "{shown}"
        );
        assert!(!shown.contains("nats-password-0123"), "{shown}");
        assert!(!shown.contains(&"ab".repeat(32)), "{shown}");
        assert!(!shown.contains(&issuer.public_key_hex()), "{shown}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let table: toml::Table = "listen_on = \"x\"".parse().expect("toml");
        let parsed: Result<ServiceConfig, _> = toml::Value::Table(table).try_into();
        assert!(parsed.is_err());
    }
}
