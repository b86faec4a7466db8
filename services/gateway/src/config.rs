//! The gateway's configuration: where it listens, the services it calls, its
//! own token issuer, and what it trusts of PDND (the platform's keys, the
//! e-service's audience, each consumer's keys and the Approdo organisation it
//! acts for). Loaded like every service's: a TOML file, overridden by
//! `APPRODO_GATEWAY__<SECTION>__<KEY>` variables.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use access_token::OrganisationType;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// The HTTP address (TLS is terminated in front of it, see deploy/).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The base URL consumers call (the OpenAPI document's `servers`), e.g.
    /// `https://api.approdo.example.it/approdo`.
    #[serde(default = "default_public_url")]
    pub public_url: String,
    /// gRPC endpoint of each service, by the second part of its proto package
    /// (`approdo.<name>.v1`): `screening`, `referral`, `safe_space`, `monitoring`.
    #[serde(default)]
    pub upstreams: BTreeMap<String, String>,
    /// TLS to the services (their URLs then `https://`), with a client
    /// certificate when they require one (their `[tls] client_ca_file`).
    #[serde(default)]
    pub upstream_tls: Option<UpstreamTls>,
    /// How long the gateway waits for a service's answer, in milliseconds.
    #[serde(default = "default_upstream_timeout_ms")]
    pub upstream_timeout_ms: u64,
    /// The largest request body accepted, in bytes.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// The gateway's own Approdo token issuer (one more issuer in the services' `[auth]`).
    pub issuer: IssuerSection,
    pub pdnd: PdndConfig,
    /// The web inbox of receiving services (`/web/`); absent: not served.
    #[serde(default)]
    pub web: Option<crate::web::WebConfig>,
    #[serde(default)]
    pub telemetry: telemetry::TelemetryConfig,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_public_url() -> String {
    "http://127.0.0.1:8080".to_owned()
}

fn default_upstream_timeout_ms() -> u64 {
    10_000
}

fn default_max_body_bytes() -> usize {
    256 * 1024
}

/// The key the gateway signs its short-lived Approdo tokens with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerSection {
    /// The `iss` of its tokens (the services list it under `[auth] issuers`).
    pub issuer: String,
    /// The 32-byte Ed25519 seed, hex, in a file only the gateway reads.
    pub seed_file: PathBuf,
    /// Where `gateway keys` writes the issuer's public JWK set for the services.
    pub jwks_file: Option<PathBuf>,
    /// The audience the services answer to.
    #[serde(default = "default_audience")]
    pub audience: String,
    /// How long a token minted for one request lasts, in seconds.
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime_secs: i64,
}

fn default_audience() -> String {
    access_token::DEFAULT_AUDIENCE.to_owned()
}

fn default_token_lifetime() -> i64 {
    60
}

/// What the gateway trusts of PDND Interoperabilità.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PdndConfig {
    /// The voucher's `iss`: the platform's authorization server
    /// (`interop.pagopa.it`, `uat.interop.pagopa.it` for the test environment).
    pub issuer: String,
    /// The e-service's audience as registered in its descriptor: the voucher's
    /// `aud`, and the `aud` of the consumer's signed headers.
    pub audience: String,
    /// The platform's signing keys, a JWK set (RSA for RS256, EC P-256 for ES256).
    pub jwks_file: PathBuf,
    /// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
    #[serde(default = "default_leeway")]
    pub leeway_secs: u64,
    /// The longest a voucher may be valid (`exp - iat`), in seconds.
    #[serde(default = "default_voucher_lifetime")]
    pub max_voucher_lifetime_secs: i64,
    /// The longest `Agid-JWT-Signature` and `Agid-JWT-TrackingEvidence` may be
    /// valid (`exp - iat`), in seconds.
    #[serde(default = "default_signature_lifetime")]
    pub max_signature_lifetime_secs: i64,
    /// AUDIT_REST_02: the voucher must carry the digest of the tracking
    /// evidence (`digest: {alg: "SHA256", value}`), binding the two.
    #[serde(default = "default_true")]
    pub tracking_digest_required: bool,
    /// The consumers (PDND clients) allowed, each mapped to an organisation.
    #[serde(default)]
    pub consumers: Vec<ConsumerConfig>,
}

fn default_leeway() -> u64 {
    30
}

fn default_voucher_lifetime() -> i64 {
    // The e-service's descriptor sets the voucher's lifespan; set this to it.
    3_600
}

fn default_signature_lifetime() -> i64 {
    300
}

fn default_true() -> bool {
    true
}

/// A PDND client (its `client_id`, the voucher's `client_id` and `sub`) and
/// the Approdo organisation it acts for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerConfig {
    pub client_id: String,
    /// The client's public keys registered on PDND, a JWK set: they verify its
    /// `Agid-JWT-Signature` and `Agid-JWT-TrackingEvidence`.
    pub jwks_file: PathBuf,
    /// The organisation id its requests act as.
    pub organisation: String,
    /// Its type; prefectures are who this e-service is for.
    #[serde(default = "default_organisation_type")]
    pub organisation_type: OrganisationType,
    /// Its province (a prefecture's), which limits what it sees.
    pub province: Option<String>,
    /// The roles of its requests.
    #[serde(default = "default_roles")]
    pub roles: Vec<String>,
}

fn default_organisation_type() -> OrganisationType {
    OrganisationType::Prefecture
}

fn default_roles() -> Vec<String> {
    vec!["operator".to_owned()]
}

/// How the gateway reaches services that serve TLS.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamTls {
    /// PEM CA certificate(s) the services' certificates are checked against.
    pub ca_file: PathBuf,
    /// The gateway's PEM client certificate chain and key, for mutual TLS.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// The name the services' certificates must carry, when not the URLs' host.
    pub domain: Option<String>,
}
