//! The web inbox's JSON API: sign-in and sign-out, the inbox and its live
//! events, a referral's detail, the receiver's actions on a referral and the
//! managing organisation's on a place. Each call goes to the services over
//! gRPC with a short-lived token of the session's organisation; each action
//! carries the request id the page drew for the user's action (a repeated
//! click is the same command). Errors are problem details with the
//! service's field violations.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use access_token::{OrganisationType, Validity};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use contracts::referral::v1 as referral;
use contracts::referral::v1::referral_service_client::ReferralServiceClient;
use contracts::referral::v1::update_referral_request as update;
use contracts::safe_space::v1 as safe_space;
use contracts::safe_space::v1::safe_space_service_client::SafeSpaceServiceClient;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_stream::wrappers::ReceiverStream;

use super::session::{Principal, Session, same};
use super::{CSRF_HEADER, SESSION_COOKIE, Web, views};
use crate::problem::{FieldViolation, Problem};

type WebState = State<Arc<Web>>;

/// What the access log records of a web request (ids and codes only); the
/// handler leaves it in the response's extensions.
#[derive(Debug, Clone, Default)]
pub(crate) struct AccessNote {
    pub route: &'static str,
    pub organisation: String,
    pub grpc_code: Option<tonic::Code>,
    pub problem: &'static str,
}

pub(crate) enum ApiError {
    Unauthenticated,
    Forbidden(&'static str),
    NotFound,
    Invalid(String, Vec<FieldViolation>),
    Upstream(tonic::Status),
}

impl ApiError {
    fn problem(&self) -> Problem {
        match self {
            ApiError::Unauthenticated => Problem::unauthorized(
                "unauthenticated",
                "sign in first (the session is missing or has expired)",
            ),
            ApiError::Forbidden(detail) => Problem::forbidden("forbidden", *detail),
            ApiError::NotFound => {
                Problem::not_found("no such referral in this organisation's inbox")
            }
            ApiError::Invalid(detail, errors) => Problem::invalid(detail.clone(), errors.clone()),
            ApiError::Upstream(status) => Problem::from_status(status),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut problem = self.problem();
        // The web inbox has no bearer challenge: its credential is the session cookie.
        problem.www_authenticate = None;
        problem.into_response()
    }
}

fn noted(mut response: Response, note: AccessNote) -> Response {
    response.extensions_mut().insert(note);
    response
}

/// The answer of a handler, its access note attached.
fn answer(route: &'static str, organisation: &str, result: Result<Response, ApiError>) -> Response {
    let mut note = AccessNote {
        route,
        organisation: organisation.to_owned(),
        ..AccessNote::default()
    };
    match result {
        Ok(response) => {
            note.grpc_code = None;
            noted(response, note)
        }
        Err(error) => {
            if let ApiError::Upstream(status) = &error {
                note.grpc_code = Some(status.code());
            }
            let response = error.into_response();
            note.problem = match response.status() {
                StatusCode::UNAUTHORIZED => "unauthenticated",
                StatusCode::FORBIDDEN => "forbidden",
                StatusCode::NOT_FOUND => "not-found",
                StatusCode::BAD_REQUEST => "invalid",
                StatusCode::CONFLICT => "conflict",
                _ => "error",
            };
            noted(response, note)
        }
    }
}

fn json_response(value: &Value) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        serde_json::to_vec(value).unwrap_or_default(),
    )
        .into_response()
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The request's live session, or 401.
fn session(web: &Web, headers: &HeaderMap) -> Result<(String, Session), ApiError> {
    let id = cookie(headers, SESSION_COOKIE).ok_or(ApiError::Unauthenticated)?;
    let session = web
        .sessions
        .touch(&id, Instant::now())
        .ok_or(ApiError::Unauthenticated)?;
    Ok((id, session))
}

/// A state-changing request must come from the inbox's own pages: the
/// browser says so (`Sec-Fetch-Site`, `Origin`), and it carries a header a
/// cross-site form cannot send.
fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let refused = ApiError::Forbidden("the request does not come from the inbox's own pages");
    if headers
        .get("sec-fetch-site")
        .is_some_and(|site| site.as_bytes() != b"same-origin")
    {
        return Err(refused);
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let origin = origin.to_str().unwrap_or_default();
        let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or_default();
        if host.is_empty() || origin_host != host {
            return Err(refused);
        }
    }
    if !headers.contains_key(CSRF_HEADER) {
        return Err(refused);
    }
    Ok(())
}

/// The session of a state-changing request, its CSRF token checked.
fn session_for_change(web: &Web, headers: &HeaderMap) -> Result<(String, Session), ApiError> {
    same_origin(headers)?;
    let (id, session) = session(web, headers)?;
    let token = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !same(token, &session.csrf) {
        return Err(ApiError::Forbidden(
            "the CSRF token does not match the session",
        ));
    }
    Ok((id, session))
}

fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|_| ApiError::Invalid("the body is not the JSON expected".to_owned(), Vec::new()))
}

/// A page's request id: what it drew for one user action (a UUID).
fn request_id(value: &str) -> Result<String, ApiError> {
    let ok = (8..=64).contains(&value.len())
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(format!("web-{value}"))
    } else {
        Err(ApiError::Invalid(
            "each action needs its request id".to_owned(),
            vec![FieldViolation::new(
                "request_id",
                "8 to 64 letters, digits or dashes",
            )],
        ))
    }
}

impl Web {
    /// `message` as a request of `principal`'s organisation.
    fn request<T>(&self, principal: &Principal, message: T) -> Result<tonic::Request<T>, ApiError> {
        let mut request = self.untimed(principal, message)?;
        request.set_timeout(self.timeout);
        Ok(request)
    }

    /// As [`Web::request`], without a deadline (a watch).
    fn untimed<T>(&self, principal: &Principal, message: T) -> Result<tonic::Request<T>, ApiError> {
        let token = self
            .issuer
            .token(
                &format!("web-{}", principal.user),
                &principal.organisation,
                OrganisationType::ReceivingService,
                &["operator"],
                None,
                Validity::from_now(self.token_lifetime_secs),
            )
            .map_err(|_| {
                ApiError::Upstream(tonic::Status::internal("the gateway cannot sign its token"))
            })?;
        let mut request = tonic::Request::new(message);
        let bearer = tonic::metadata::MetadataValue::try_from(format!("Bearer {token}"))
            .map_err(|_| ApiError::Upstream(tonic::Status::internal("bad token")))?;
        request.metadata_mut().insert("authorization", bearer);
        Ok(request)
    }

    fn referrals(&self) -> ReferralServiceClient<tonic::transport::Channel> {
        ReferralServiceClient::new(self.referral.clone())
    }

    fn places(&self) -> SafeSpaceServiceClient<tonic::transport::Channel> {
        SafeSpaceServiceClient::new(self.safe_space.clone())
    }

    /// A service refusing the gateway's own token is the gateway's configuration, not the user's.
    fn upstream(status: tonic::Status) -> ApiError {
        if status.code() == tonic::Code::Unauthenticated {
            tracing::error!(
                "a service refused the gateway's token: is the gateway's issuer in its [auth] issuers?"
            );
            return ApiError::Upstream(tonic::Status::unavailable(
                "the service did not accept the gateway",
            ));
        }
        ApiError::Upstream(status)
    }
}

// ---- Session ----

fn session_body(session: &Session) -> Value {
    json!({
        "organisation": session.principal.organisation,
        "user": session.principal.user,
        "csrf": session.csrf,
    })
}

pub(crate) async fn session_get(State(web): WebState, headers: HeaderMap) -> Response {
    let result = session(&web, &headers);
    let organisation = result
        .as_ref()
        .map(|(_, s)| s.principal.organisation.clone())
        .unwrap_or_default();
    answer(
        "GET /web/api/session",
        &organisation,
        result.map(|(_, s)| json_response(&session_body(&s))),
    )
}

pub(crate) async fn session_options(State(web): WebState) -> Response {
    let accounts: Vec<Value> = web
        .development_accounts
        .iter()
        .enumerate()
        .map(|(index, a)| json!({"index": index, "organisation": a.organisation, "user": a.user}))
        .collect();
    answer(
        "GET /web/api/session/options",
        "",
        Ok(json_response(&json!({ "development_accounts": accounts }))),
    )
}

/// The answer of a sign-in, logged with the organisation signed in.
fn signed_in_answer(route: &'static str, result: Result<(Response, String), ApiError>) -> Response {
    match result {
        Ok((response, organisation)) => answer(route, &organisation, Ok(response)),
        Err(error) => answer(route, "", Err(error)),
    }
}

/// A session from an identity token: the identity provider's signature,
/// audience and time checked, a receiving service's user only.
fn sign_in(web: &Web, token: &str) -> Result<(Response, String), ApiError> {
    let claims = web
        .identity
        .verify(token, access_token::now_unix())
        .map_err(|error| {
            tracing::info!(reason = error.reason(), "web sign-in refused");
            ApiError::Unauthenticated
        })?;
    if claims.org_type != OrganisationType::ReceivingService {
        return Err(ApiError::Forbidden(
            "the web inbox is for receiving services",
        ));
    }
    let principal = Principal {
        organisation: claims.org,
        user: claims.sub,
    };
    let (id, session) = web.sessions.create(principal, Instant::now());
    let mut response = json_response(&session_body(&session));
    let mut cookie = format!(
        "{SESSION_COOKIE}={id}; Path=/web; HttpOnly; SameSite=Strict; Max-Age={}",
        web.session_lifetime.as_secs()
    );
    if web.secure {
        cookie.push_str("; Secure");
    }
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok((response, session.principal.organisation))
}

#[derive(Deserialize)]
struct SignIn {
    token: String,
}

pub(crate) async fn session_sign_in(
    State(web): WebState,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = same_origin(&headers)
        .and_then(|()| parse::<SignIn>(&body))
        .and_then(|s| sign_in(&web, &s.token));
    signed_in_answer("POST /web/api/session", result)
}

#[derive(Deserialize)]
struct DevelopmentSignIn {
    index: usize,
}

pub(crate) async fn session_development(
    State(web): WebState,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = same_origin(&headers)
        .and_then(|()| parse::<DevelopmentSignIn>(&body))
        .and_then(|choice| {
            let (Some(issuer), Some(account)) = (
                web.development.as_ref(),
                web.development_accounts.get(choice.index),
            ) else {
                return Err(ApiError::NotFound);
            };
            let token = issuer
                .token(
                    &account.user,
                    &account.organisation,
                    OrganisationType::ReceivingService,
                    &["operator"],
                    None,
                    Validity::from_now(60),
                )
                .map_err(|_| ApiError::Upstream(tonic::Status::internal("cannot sign")))?;
            sign_in(&web, &token)
        });
    signed_in_answer("POST /web/api/session/development", result)
}

pub(crate) async fn session_sign_out(State(web): WebState, headers: HeaderMap) -> Response {
    let result = session_for_change(&web, &headers).map(|(id, session)| {
        web.sessions.remove(&id);
        let mut response = StatusCode::NO_CONTENT.into_response();
        let mut cookie =
            format!("{SESSION_COOKIE}=; Path=/web; HttpOnly; SameSite=Strict; Max-Age=0");
        if web.secure {
            cookie.push_str("; Secure");
        }
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
        (session.principal.organisation, response)
    });
    match result {
        Ok((organisation, response)) => {
            answer("DELETE /web/api/session", &organisation, Ok(response))
        }
        Err(error) => answer("DELETE /web/api/session", "", Err(error)),
    }
}

// ---- Inbox ----

pub(crate) async fn inbox(State(web): WebState, headers: HeaderMap) -> Response {
    let (organisation, result) = match session(&web, &headers) {
        Ok((_, s)) => (
            s.principal.organisation.clone(),
            list_inbox(&web, &s.principal).await,
        ),
        Err(e) => (String::new(), Err(e)),
    };
    answer("GET /web/api/inbox", &organisation, result)
}

/// Every referral of the inbox (its pages), the newest first, and the cursor to watch from.
async fn list_inbox(web: &Web, principal: &Principal) -> Result<Response, ApiError> {
    let mut rows = Vec::new();
    let mut cursor = None;
    let mut page_token = String::new();
    for _ in 0..25 {
        let answer = web
            .referrals()
            .list_inbox(web.request(
                principal,
                referral::ListInboxRequest {
                    page_size: 200,
                    page_token: page_token.clone(),
                    ..Default::default()
                },
            )?)
            .await
            .map_err(Web::upstream)?
            .into_inner();
        // The first page's cursor: what changes after it comes through the watch.
        cursor.get_or_insert(answer.cursor);
        rows.extend(
            answer
                .referrals
                .iter()
                .map(|r| (r.last_log_sequence, views::summary(r))),
        );
        if answer.next_page_token.is_empty() {
            break;
        }
        page_token = answer.next_page_token;
    }
    rows.sort_by_key(|row| std::cmp::Reverse(row.0));
    let referrals: Vec<Value> = rows.into_iter().map(|(_, v)| v).collect();
    Ok(json_response(&json!({
        "cursor": cursor.unwrap_or_default(),
        "referrals": referrals,
    })))
}

/// The cursor to resume from: the browser's `Last-Event-ID` on a reconnect,
/// else `?after=` from the inbox's answer.
fn resume_cursor(headers: &HeaderMap, query: Option<&str>) -> u64 {
    let last_event = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let after = query.and_then(|q| {
        q.split('&')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| *k == "after")
            .and_then(|(_, v)| v.parse().ok())
    });
    last_event.or(after).unwrap_or(0)
}

pub(crate) async fn inbox_events(
    State(web): WebState,
    headers: HeaderMap,
    uri: http::Uri,
) -> Response {
    let (id, session) = match session(&web, &headers) {
        Ok(found) => found,
        Err(e) => return answer("GET /web/api/inbox/events", "", Err(e)),
    };
    let organisation = session.principal.organisation.clone();
    let after = resume_cursor(&headers, uri.query());
    // A watch is long: no deadline on it (the token is checked when it opens).
    let request = match web.untimed(
        &session.principal,
        referral::WatchInboxRequest {
            after_cursor: after,
        },
    ) {
        Ok(request) => request,
        Err(e) => return answer("GET /web/api/inbox/events", &organisation, Err(e)),
    };
    let mut stream = match web.referrals().watch_inbox(request).await {
        Ok(stream) => stream.into_inner(),
        Err(status) => {
            return answer(
                "GET /web/api/inbox/events",
                &organisation,
                Err(Web::upstream(status)),
            );
        }
    };
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Event, Infallible>>(64);
    let relay_web = web.clone();
    tokio::spawn(async move {
        let mut check = tokio::time::interval(Duration::from_secs(15));
        loop {
            tokio::select! {
                message = stream.message() => match message {
                    Ok(Some(change)) => {
                        let Some(view) = change.referral.as_ref() else { continue };
                        let data = views::summary(view).to_string();
                        let event = Event::default()
                            .id(change.cursor.to_string())
                            .event("referral")
                            .data(data);
                        if sender.send(Ok(event)).await.is_err() {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(status) => {
                        tracing::info!(target: "access", route = "GET /web/api/inbox/events", grpc_code = status.code() as i32, "inbox watch ended");
                        let event = Event::default()
                            .event("watch-error")
                            .data(json!({ "code": status.code() as i32 }).to_string());
                        let _ = sender.send(Ok(event)).await;
                        break;
                    }
                },
                _ = check.tick() => {
                    // The stream ends with the session (sign-out or expiry).
                    if !relay_web.sessions.is_alive(&id, Instant::now()) || sender.is_closed() {
                        break;
                    }
                }
            }
        }
    });
    let sse = Sse::new(ReceiverStream::new(receiver)).keep_alive(KeepAlive::default());
    answer(
        "GET /web/api/inbox/events",
        &organisation,
        Ok(sse.into_response()),
    )
}

// ---- A referral ----

/// The referral `referral_id` of `case_id` as its receiver sees it (the
/// service records the dataset's read), if it is addressed to `principal`.
async fn receiver_view(
    web: &Web,
    principal: &Principal,
    case_id: &str,
    referral_id: &str,
) -> Result<referral::ReferralView, ApiError> {
    let case = web
        .referrals()
        .get_case_referrals(web.request(
            principal,
            referral::GetCaseReferralsRequest {
                case_id: case_id.to_owned(),
                min_log_sequence: 0,
            },
        )?)
        .await
        .map_err(|status| match status.code() {
            // Another organisation's case: as if it did not exist.
            tonic::Code::PermissionDenied | tonic::Code::NotFound => ApiError::NotFound,
            _ => Web::upstream(status),
        })?
        .into_inner();
    case.referrals
        .into_iter()
        .find(|r| {
            r.referral_id == referral_id && r.receiver_organisation_id == principal.organisation
        })
        .ok_or(ApiError::NotFound)
}

pub(crate) async fn referral_detail(
    State(web): WebState,
    headers: HeaderMap,
    Path((case_id, referral_id)): Path<(String, String)>,
) -> Response {
    let route = "GET /web/api/cases/{case_id}/referrals/{referral_id}";
    let (_, session) = match session(&web, &headers) {
        Ok(found) => found,
        Err(e) => return answer(route, "", Err(e)),
    };
    let principal = &session.principal;
    let result = async {
        let view = receiver_view(&web, principal, &case_id, &referral_id).await?;
        // The case's places, where the session's organisation may see them.
        let places = match web
            .places()
            .get_case_places(web.request(
                principal,
                safe_space::GetCasePlacesRequest {
                    case_id: case_id.clone(),
                },
            )?)
            .await
        {
            Ok(answer) => answer.into_inner().places,
            Err(_) => Vec::new(),
        };
        Ok(json_response(&views::detail(&view, &places)))
    }
    .await;
    answer(route, &principal.organisation, result)
}

#[derive(Deserialize)]
struct ReferralAction {
    request_id: String,
    action: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    redirect_to_organisation_id: String,
    #[serde(default)]
    outcome: String,
}

pub(crate) async fn referral_action(
    State(web): WebState,
    headers: HeaderMap,
    Path((case_id, referral_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let route = "POST /web/api/cases/{case_id}/referrals/{referral_id}/actions";
    let (_, session) = match session_for_change(&web, &headers) {
        Ok(found) => found,
        Err(e) => return answer(route, "", Err(e)),
    };
    let principal = &session.principal;
    let result = async {
        let body: ReferralAction = parse(&body)?;
        let request_id = request_id(&body.request_id)?;
        let action = match body.action.as_str() {
            "receive" => update::Action::Receive(update::Receive {}),
            "accept" => update::Action::Accept(update::Accept {}),
            "decline" => update::Action::Decline(update::Decline {
                reason: body.reason,
                redirect_to_organisation_id: body.redirect_to_organisation_id,
            }),
            "take_charge" => update::Action::TakeCharge(update::TakeCharge {}),
            "hold" => update::Action::Hold(update::Hold {}),
            "resume" => update::Action::Resume(update::Resume {}),
            "complete" => update::Action::Complete(update::Complete {
                outcome: body.outcome,
            }),
            _ => {
                return Err(ApiError::Invalid(
                    "no such action".to_owned(),
                    vec![FieldViolation::new("action", "not an action of a receiver")],
                ));
            }
        };
        let answer = web
            .referrals()
            .update_referral(web.request(
                principal,
                referral::UpdateReferralRequest {
                    request_id,
                    case_id,
                    referral_id,
                    action: Some(action),
                },
            )?)
            .await
            .map_err(Web::upstream)?
            .into_inner();
        Ok(json_response(&json!({
            "referral_id": answer.referral_id,
            "state": answer.state,
            "log_sequence": answer.log_sequence,
        })))
    }
    .await;
    answer(route, &principal.organisation, result)
}

#[derive(Deserialize)]
struct PlaceAction {
    request_id: String,
    action: String,
    province: String,
    kind: String,
    #[serde(default)]
    reason: String,
}

pub(crate) async fn place_action(
    State(web): WebState,
    headers: HeaderMap,
    Path(case_id): Path<String>,
    body: Bytes,
) -> Response {
    let route = "POST /web/api/cases/{case_id}/places/actions";
    let (_, session) = match session_for_change(&web, &headers) {
        Ok(found) => found,
        Err(e) => return answer(route, "", Err(e)),
    };
    let principal = &session.principal;
    let result = async {
        let body: PlaceAction = parse(&body)?;
        let request_id = request_id(&body.request_id)?;
        let allocator = Some(safe_space::AllocatorRef {
            province: body.province,
            kind: body.kind,
        });
        let log_sequence = match body.action.as_str() {
            "confirm_arrival" => {
                web.places()
                    .confirm_arrival(web.request(
                        principal,
                        safe_space::ConfirmArrivalRequest {
                            request_id,
                            case_id,
                            allocator,
                        },
                    )?)
                    .await
                    .map_err(Web::upstream)?
                    .into_inner()
                    .log_sequence
            }
            "release" => {
                web.places()
                    .release_place(web.request(
                        principal,
                        safe_space::ReleasePlaceRequest {
                            request_id,
                            case_id,
                            allocator,
                            reason: body.reason,
                        },
                    )?)
                    .await
                    .map_err(Web::upstream)?
                    .into_inner()
                    .log_sequence
            }
            _ => {
                return Err(ApiError::Invalid(
                    "no such action".to_owned(),
                    vec![FieldViolation::new(
                        "action",
                        "not an action of a space's managing organisation",
                    )],
                ));
            }
        };
        Ok(json_response(&json!({ "log_sequence": log_sequence })))
    }
    .await;
    answer(route, &principal.organisation, result)
}

/// The access log line of a web request: method, route template, status,
/// organisation, gRPC code, problem code, time. Never a name, a value, a
/// cookie or a token.
pub(crate) fn log_access(
    method: &Method,
    status: StatusCode,
    note: Option<&AccessNote>,
    asset: Option<&'static str>,
    elapsed: Duration,
) {
    let mut note = note.cloned().unwrap_or_default();
    if note.route.is_empty() {
        note.route = asset.unwrap_or("other");
    }
    tracing::info!(
        target: "access",
        method = %method,
        route = note.route,
        status = status.as_u16(),
        organisation = %note.organisation,
        grpc_code = note.grpc_code.map(|c| c as i32),
        problem = note.problem,
        elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        "web request"
    );
}
