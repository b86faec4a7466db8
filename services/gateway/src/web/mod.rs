//! The web inbox of receiving services (anti-violence centres and the like),
//! served under `/web/` by the gateway: static pages embedded in the binary
//! (`services/gateway/web/`), a session from the configured identity
//! provider, and a small JSON API that calls the referral and safe-space
//! services over gRPC as the session's organisation, with the inbox's
//! `WatchInbox` relayed as server-sent events.
//!
//! Trust comes from the session, which comes from the identity provider's
//! token: the organisation acting is always the session's, never a request
//! field's. State-changing requests carry the session's CSRF token; every
//! response carries a strict Content-Security-Policy, `no-referrer`,
//! `nosniff`, and the API's `no-store`. The access log holds ids and codes.

mod api;
pub mod session;
mod views;

use std::sync::Arc;
use std::time::{Duration, Instant};

use access_token::{AuthConfig, TokenIssuer, TokenVerifier};
use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderValue, StatusCode, header};
use serde::Deserialize;
use tonic::transport::Channel;

use crate::{GatewayConfig, GatewayError};
use session::Sessions;

/// The `[web]` section of the gateway's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// Whose tokens sign a user in: the identity provider's issuer(s), keys
    /// and the audience its tokens name for the web inbox. Its tokens carry
    /// the user (`sub`) and the receiving organisation (`org`, `org_type`
    /// `receiving_service`).
    pub identity: AuthConfig,
    /// How long a session lasts without a request, in seconds.
    #[serde(default = "default_idle")]
    pub session_idle_secs: u64,
    /// How long a session lasts at most after sign-in, in seconds.
    #[serde(default = "default_lifetime")]
    pub session_lifetime_secs: u64,
    /// Development only: users the sign-in page offers. Their identity token
    /// is signed with the gateway's own issuer key for `identity.audience`
    /// (so `identity.issuers` must list the gateway's issuer), then checked
    /// like any identity provider's.
    #[serde(default)]
    pub development_accounts: Vec<DevelopmentAccount>,
}

fn default_idle() -> u64 {
    30 * 60
}

fn default_lifetime() -> u64 {
    10 * 3_600
}

/// A user of a receiving organisation the development sign-in offers.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DevelopmentAccount {
    pub organisation: String,
    pub user: String,
}

/// The cookie holding the session id.
pub const SESSION_COOKIE: &str = "approdo_session";
/// The header carrying the session's CSRF token on state-changing requests.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Everything a web request needs.
pub(crate) struct Web {
    sessions: Sessions,
    session_lifetime: Duration,
    identity: TokenVerifier,
    /// Signs the development accounts' identity tokens (development only).
    development: Option<TokenIssuer>,
    development_accounts: Vec<DevelopmentAccount>,
    /// Signs the short-lived tokens of the upstream calls.
    issuer: TokenIssuer,
    token_lifetime_secs: i64,
    referral: Channel,
    safe_space: Channel,
    timeout: Duration,
    /// Whether cookies are `Secure` (the public URL is HTTPS).
    secure: bool,
}

/// The web inbox's routes, under `/web`; an empty router when `[web]` is
/// not configured.
pub fn router<S: Clone + Send + Sync + 'static>(
    config: &GatewayConfig,
    issuer: &TokenIssuer,
) -> Result<Router<S>, GatewayError> {
    let Some(web) = &config.web else {
        return Ok(Router::new());
    };
    let channel = |name: &str| -> Result<Channel, GatewayError> {
        let url = config
            .upstreams
            .get(name)
            .ok_or_else(|| GatewayError::Upstream {
                name: name.to_owned(),
                reason: "the web inbox needs it in [upstreams]".to_owned(),
            })?;
        Ok(Channel::from_shared(url.clone())
            .map_err(|e| GatewayError::Upstream {
                name: name.to_owned(),
                reason: e.to_string(),
            })?
            .connect_timeout(Duration::from_secs(5))
            .connect_lazy())
    };
    let development = (!web.development_accounts.is_empty())
        .then(|| issuer.clone().with_audience(&web.identity.audience));
    let state = Arc::new(Web {
        sessions: Sessions::new(
            Duration::from_secs(web.session_idle_secs),
            Duration::from_secs(web.session_lifetime_secs),
            10_000,
        ),
        session_lifetime: Duration::from_secs(web.session_lifetime_secs),
        identity: TokenVerifier::from_config(&web.identity)?,
        development,
        development_accounts: web.development_accounts.clone(),
        issuer: issuer.clone(),
        token_lifetime_secs: config.issuer.token_lifetime_secs,
        referral: channel("referral")?,
        safe_space: channel("safe_space")?,
        timeout: Duration::from_millis(config.upstream_timeout_ms),
        secure: config.public_url.starts_with("https://"),
    });
    tracing::info!(
        development_accounts = web.development_accounts.len(),
        "web inbox served under /web/"
    );
    if !web.development_accounts.is_empty() && config.public_url.starts_with("https://") {
        tracing::warn!(
            development_accounts = web.development_accounts.len(),
            "the web inbox offers development sign-in on a public HTTPS address: remove [web] development_accounts outside development"
        );
    }
    let router = Router::new()
        .route("/web", get(|| async { redirect_to_app() }))
        .route("/web/", get(asset_index))
        .route("/web/app.js", get(asset_app))
        .route("/web/i18n.js", get(asset_i18n))
        .route("/web/style.css", get(asset_style))
        .route(
            "/web/api/session",
            get(api::session_get)
                .post(api::session_sign_in)
                .delete(api::session_sign_out),
        )
        .route("/web/api/session/options", get(api::session_options))
        .route(
            "/web/api/session/development",
            post(api::session_development),
        )
        .route("/web/api/inbox", get(api::inbox))
        .route("/web/api/inbox/events", get(api::inbox_events))
        .route(
            "/web/api/cases/{case_id}/referrals/{referral_id}",
            get(api::referral_detail),
        )
        .route(
            "/web/api/cases/{case_id}/referrals/{referral_id}/actions",
            post(api::referral_action),
        )
        .route(
            "/web/api/cases/{case_id}/places/actions",
            post(api::place_action),
        )
        .with_state(state)
        .layer(middleware::from_fn(security_headers));
    Ok(router)
}

fn redirect_to_app() -> Response {
    (
        StatusCode::PERMANENT_REDIRECT,
        [(header::LOCATION, HeaderValue::from_static("/web/"))],
    )
        .into_response()
}

/// The paths of the embedded files.
const ASSETS: [&str; 5] = [
    "/web",
    "/web/",
    "/web/app.js",
    "/web/i18n.js",
    "/web/style.css",
];

/// The Content-Security-Policy of every page: scripts, styles and
/// connections from the gateway only, no inline script or style, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The headers of every web response, and its access log line.
async fn security_headers(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let api = request.uri().path().starts_with("/web/api/");
    // The embedded files' paths (never data) name their own route.
    let asset = ASSETS.iter().find(|a| **a == request.uri().path()).copied();
    let mut response = next.run(request).await;
    api::log_access(
        &method,
        response.status(),
        response.extensions().get::<api::AccessNote>(),
        asset,
        started.elapsed(),
    );
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    // Data is never kept by the browser or a proxy; the embedded assets are
    // revalidated (they change with the binary).
    let cache = if api { "no-store" } else { "no-cache" };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

async fn asset_index() -> Response {
    asset(
        "text/html; charset=utf-8",
        include_str!("../../web/index.html"),
    )
}

async fn asset_app() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../web/app.js"),
    )
}

async fn asset_i18n() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../web/i18n.js"),
    )
}

async fn asset_style() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../web/style.css"),
    )
}
