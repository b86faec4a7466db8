//! The REST facade for prefecture systems, published on PDND Interoperabilità:
//! an HTTP server whose routes and OpenAPI document are read from the
//! contracts' `google.api.http` rules ([`routes`], [`openapi`]), which checks
//! the ModI voucher, audit and integrity headers ([`modi`]), maps the PDND
//! consumer to its Approdo organisation by configuration, and calls the
//! services over gRPC with a short-lived token of its own issuer, transcoding
//! JSON and protobuf ([`transcode`], [`grpc`]). Errors are problem details
//! ([`problem`]). Trust comes from the voucher, never from a request field.
//!
//! It is a gRPC client of the services, like the CLI: it depends on no service
//! crate and keeps no state but the integrity signatures' ids seen recently.

pub mod config;
pub mod grpc;
pub mod modi;
pub mod openapi;
pub mod problem;
pub mod routes;
pub mod transcode;
pub mod web;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use access_token::{OrganisationType, TokenIssuer, Validity};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, StatusCode, header};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

pub use config::GatewayConfig;
use modi::{Modi, Verified};
use problem::{FieldViolation, Problem};
use routes::{HttpMethod, Route};

pub const NAME: &str = "gateway";
/// The header whose value becomes a command's `request_id`.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Routes(#[from] routes::RouteError),
    #[error(transparent)]
    Keys(#[from] modi::KeysError),
    #[error("upstream {name}: {reason}")]
    Upstream { name: String, reason: String },
    #[error("the gateway's token issuer: {0}")]
    Issuer(#[from] access_token::KeyError),
    #[error("cannot serve HTTP: {0}")]
    Serve(#[from] std::io::Error),
}

/// The gateway's issuer, from the seed file its configuration names.
pub fn issuer(config: &GatewayConfig) -> Result<TokenIssuer, GatewayError> {
    Ok(
        TokenIssuer::from_seed_file(&config.issuer.issuer, &config.issuer.seed_file)?
            .with_audience(&config.issuer.audience),
    )
}

struct Gateway {
    routes: Vec<Route>,
    openapi: Vec<u8>,
    modi: Modi,
    issuer: TokenIssuer,
    token_lifetime_secs: i64,
    channels: HashMap<String, Channel>,
    timeout: Duration,
    max_body_bytes: usize,
}

/// Serves on `listener` until `shutdown`, calling the services with tokens
/// signed by `issuer`.
pub async fn run(
    config: GatewayConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
    issuer: TokenIssuer,
) -> Result<(), GatewayError> {
    let app = router(&config, issuer)?;
    tracing::info!(
        listen = %listener.local_addr()?,
        consumers = config.pdnd.consumers.len(),
        "gateway serving"
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    Ok(())
}

/// The gateway's HTTP application: `/openapi.json`, `/healthz`, and every
/// route of the contracts (the fallback). Another module of this service
/// (the web inbox) merges its own router beside it and reuses
/// [`upstream_channels`] and the issuer.
pub fn router(config: &GatewayConfig, issuer: TokenIssuer) -> Result<Router, GatewayError> {
    let routes = routes::routes(contracts::FILE_DESCRIPTOR_SET)?;
    for route in &routes {
        if !config.upstreams.contains_key(&route.upstream) {
            return Err(routes::RouteError::NoUpstream {
                rpc: route.grpc_path.clone(),
                upstream: route.upstream.clone(),
            }
            .into());
        }
    }
    let channels = upstream_channels(config)?;
    let modi = Modi::new(config.pdnd.clone())?;
    let document = openapi::document(&routes, &config.public_url, modi.audience());
    tracing::info!(routes = routes.len(), "REST routes read from the contracts");
    let gateway = Arc::new(Gateway {
        openapi: serde_json::to_vec_pretty(&document).unwrap_or_default(),
        routes,
        modi,
        issuer,
        token_lifetime_secs: config.issuer.token_lifetime_secs,
        channels,
        timeout: Duration::from_millis(config.upstream_timeout_ms),
        max_body_bytes: config.max_body_bytes,
    });
    Ok(Router::new()
        .route("/openapi.json", get(openapi_document))
        .route("/healthz", get(|| async { "ok" }))
        .merge(web::router(config, &gateway.issuer)?)
        .fallback(handle)
        .with_state(gateway))
}

/// A lazily connecting gRPC channel to each configured service, by name
/// (`screening`, `referral`, `safe_space`, `monitoring`), over TLS when
/// `[upstream_tls]` says so.
pub fn upstream_channels(config: &GatewayConfig) -> Result<HashMap<String, Channel>, GatewayError> {
    let mut channels = HashMap::new();
    for (name, url) in &config.upstreams {
        let upstream_error = |reason: String| GatewayError::Upstream {
            name: name.clone(),
            reason,
        };
        let mut endpoint = Channel::from_shared(url.clone())
            .map_err(|e| upstream_error(e.to_string()))?
            .connect_timeout(Duration::from_secs(5));
        if let Some(tls) = &config.upstream_tls {
            endpoint = endpoint
                .tls_config(client_tls(tls).map_err(upstream_error)?)
                .map_err(|e| upstream_error(e.to_string()))?;
        }
        channels.insert(name.clone(), endpoint.connect_lazy());
    }
    Ok(channels)
}

/// The TLS client configuration of `[upstream_tls]`.
fn client_tls(tls: &config::UpstreamTls) -> Result<tonic::transport::ClientTlsConfig, String> {
    use tonic::transport::{Certificate, ClientTlsConfig, Identity};
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
    };
    let mut config =
        ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(&tls.ca_file)?));
    match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            config = config.identity(Identity::from_pem(read(cert)?, read(key)?));
        }
        (None, None) => {}
        _ => return Err("upstream_tls: cert_file and key_file go together".to_owned()),
    }
    if let Some(domain) = &tls.domain {
        config = config.domain_name(domain.clone());
    }
    Ok(config)
}

async fn openapi_document(State(gateway): State<Arc<Gateway>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        gateway.openapi.clone(),
    )
        .into_response()
}

/// What the access log records of a request: ids and codes, never values.
#[derive(Default)]
struct Access {
    route: String,
    verified: Option<Verified>,
    grpc_code: Option<tonic::Code>,
    problem: Option<&'static str>,
}

async fn handle(State(gateway): State<Arc<Gateway>>, request: Request) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let mut access = Access::default();
    let response = match serve(&gateway, request, &mut access).await {
        Ok(response) => response,
        Err(problem) => {
            access.problem = Some(problem.code);
            problem.into_response()
        }
    };
    let verified = access.verified.as_ref();
    tracing::info!(
        target: "access",
        method = %method,
        route = %access.route,
        status = response.status().as_u16(),
        problem = access.problem.unwrap_or_default(),
        grpc_code = access.grpc_code.map(|c| c as i32),
        client_id = verified.map(|v| v.consumer.client_id.as_str()).unwrap_or_default(),
        organisation = verified.map(|v| v.consumer.organisation.as_str()).unwrap_or_default(),
        purpose_id = verified.map(|v| v.purpose_id.as_str()).unwrap_or_default(),
        voucher_jti = verified.map(|v| v.voucher_id.as_str()).unwrap_or_default(),
        tracking_jti = verified.map(|v| v.tracking_id.as_str()).unwrap_or_default(),
        signature_jti = verified.and_then(|v| v.signature_id.as_deref()).unwrap_or_default(),
        user_ref = verified.map(|v| v.user_ref.as_str()).unwrap_or_default(),
        user_location = verified.map(|v| v.user_location.as_str()).unwrap_or_default(),
        loa = verified.map(|v| v.loa.as_str()).unwrap_or_default(),
        elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "request"
    );
    response
}

async fn serve(
    gateway: &Gateway,
    request: Request,
    access: &mut Access,
) -> Result<Response, Problem> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let candidates: Vec<(&Route, Vec<_>)> = gateway
        .routes
        .iter()
        .filter_map(|r| r.matches(path).map(|bound| (r, bound)))
        .collect();
    if candidates.is_empty() {
        return Err(Problem::not_found("no such resource"));
    }
    let wanted = HttpMethod::from_http(&parts.method);
    let Some((route, bound)) = candidates
        .iter()
        .find(|(r, _)| Some(r.http_method) == wanted)
        .cloned()
    else {
        let mut problem = Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            "this resource does not answer this method",
        );
        problem.errors = Vec::new();
        let allow: Vec<String> = candidates
            .iter()
            .map(|(r, _)| r.http_method.as_str().to_uppercase())
            .collect();
        let mut response = problem.into_response();
        if let Ok(value) = HeaderValue::from_str(&allow.join(", ")) {
            response.headers_mut().insert(header::ALLOW, value);
        }
        return Ok(response);
    };
    access.route = format!(
        "{} {}",
        route.http_method.as_str().to_uppercase(),
        route.template
    );
    let body = axum::body::to_bytes(body, gateway.max_body_bytes)
        .await
        .map_err(|_| {
            Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                "Body too large",
                format!("the body exceeds {} bytes", gateway.max_body_bytes),
            )
        })?;
    let verified = gateway.modi.verify(
        &parts.headers,
        route.body.then_some(&body[..]),
        access_token::now_unix(),
    )?;
    access.verified = Some(verified.clone());
    if route.body {
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        if !essence.eq_ignore_ascii_case("application/json") {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "the body must be application/json",
            ));
        }
    }
    let request_id = match route.request_id_field() {
        Some(_) => Some(
            parts
                .headers
                .get(IDEMPOTENCY_KEY)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    Problem::invalid(
                        "a command needs an Idempotency-Key",
                        vec![FieldViolation::new(IDEMPOTENCY_KEY, "required")],
                    )
                })?,
        ),
        None => None,
    };
    let message = transcode::request_message(route, &bound, parts.uri.query(), &body, request_id)
        .map_err(|errors| Problem::invalid("the request is not valid", errors))?;
    let token = mint(gateway, &verified)?;
    let answer = call(gateway, route, message, &token).await;
    match answer {
        Ok(output) => {
            access.grpc_code = Some(tonic::Code::Ok);
            Ok((
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                Body::from(transcode::response_json(&output)),
            )
                .into_response())
        }
        Err(status) => {
            access.grpc_code = Some(status.code());
            if status.code() == tonic::Code::Unauthenticated {
                tracing::error!(
                    route = %access.route,
                    "a service refused the gateway's token: is the gateway's issuer in its [auth] issuers?"
                );
                return Err(Problem::new(
                    StatusCode::BAD_GATEWAY,
                    "upstream-error",
                    "The service failed",
                    "the service did not accept the gateway",
                ));
            }
            Err(Problem::from_status(&status))
        }
    }
}

/// The Approdo token of the consumer's organisation, for this request only.
fn mint(gateway: &Gateway, verified: &Verified) -> Result<String, Problem> {
    let consumer = &verified.consumer;
    let roles: Vec<&str> = consumer.roles.iter().map(String::as_str).collect();
    gateway
        .issuer
        .token(
            &format!("pdnd-{}", verified.user_ref),
            &consumer.organisation,
            consumer.organisation_type,
            &roles,
            consumer.province.as_deref(),
            Validity::from_now(gateway.token_lifetime_secs),
        )
        .map_err(|_| {
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "the gateway cannot sign its token",
            )
        })
}

async fn call(
    gateway: &Gateway,
    route: &Route,
    message: prost_reflect::DynamicMessage,
    token: &str,
) -> Result<prost_reflect::DynamicMessage, tonic::Status> {
    let channel = gateway
        .channels
        .get(&route.upstream)
        .cloned()
        .ok_or_else(|| tonic::Status::unavailable("no upstream"))?;
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|_| tonic::Status::unavailable("the service is unavailable"))?;
    let path: http::uri::PathAndQuery = route
        .grpc_path
        .parse()
        .map_err(|_| tonic::Status::internal("bad gRPC path"))?;
    let mut request = tonic::Request::new(message);
    request.set_timeout(gateway.timeout);
    let bearer = tonic::metadata::MetadataValue::try_from(format!("Bearer {token}"))
        .map_err(|_| tonic::Status::internal("bad token"))?;
    request.metadata_mut().insert("authorization", bearer);
    let response = tokio::time::timeout(
        gateway.timeout,
        grpc.unary(request, path, grpc::DynamicCodec::new(route.output())),
    )
    .await
    .map_err(|_| tonic::Status::deadline_exceeded("the service did not answer in time"))??;
    Ok(response.into_inner())
}

/// Who a consumer's requests act as (used by `gateway keys` to print the mapping).
pub fn describe_consumer(consumer: &config::ConsumerConfig) -> String {
    format!(
        "{} -> {} ({}{})",
        consumer.client_id,
        consumer.organisation,
        OrganisationType::code(consumer.organisation_type),
        consumer
            .province
            .as_deref()
            .map(|p| format!(", {p}"))
            .unwrap_or_default()
    )
}
