//! Errors as RFC 9457 problem details (`application/problem+json`): a type
//! URI naming the problem, the HTTP status, a fixed title, a detail without
//! personal data, and, for invalid input, the fields at fault with what is
//! wrong with each (gRPC's `BadRequest` field violations, by their JSON names).

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use tonic_types::StatusExt;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// One field at fault: its JSON path (`arrival.arrivedAt`, `familyLinks[0].caseId`)
/// or the header's name, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        FieldViolation {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// A problem detail.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// `urn:approdo:problem:<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// The problem's code (`invalid-voucher`, `invalid-argument`, …), also in `type`.
    pub code: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldViolation>,
    #[serde(skip)]
    pub status_code: StatusCode,
    /// Sent as `WWW-Authenticate` (RFC 6750) on a 401.
    #[serde(skip)]
    pub www_authenticate: Option<&'static str>,
}

impl Problem {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Problem {
            problem_type: format!("urn:approdo:problem:{code}"),
            title,
            status: status.as_u16(),
            detail: detail.into(),
            code,
            errors: Vec::new(),
            status_code: status,
            www_authenticate: None,
        }
    }

    /// A 401: the voucher or a signed header is missing or not valid.
    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        let mut problem = Problem::new(StatusCode::UNAUTHORIZED, code, "Not authenticated", detail);
        problem.www_authenticate = Some(if code == "invalid-voucher" {
            "Bearer error=\"invalid_token\""
        } else {
            "Bearer"
        });
        problem
    }

    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::FORBIDDEN, code, "Not allowed", detail)
    }

    /// A 400 naming the fields at fault.
    pub fn invalid(detail: impl Into<String>, errors: Vec<FieldViolation>) -> Self {
        let mut problem = Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-argument",
            "Invalid request",
            detail,
        );
        problem.errors = errors;
        problem
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    /// A service's gRPC status as a problem: the HTTP status by the code, the
    /// status message as the detail (the services keep personal data out of
    /// it), the `BadRequest` field violations as `errors`.
    pub fn from_status(status: &tonic::Status) -> Self {
        use tonic::Code;
        let (http, code, title) = match status.code() {
            Code::InvalidArgument | Code::OutOfRange => (
                StatusCode::BAD_REQUEST,
                "invalid-argument",
                "Invalid request",
            ),
            Code::FailedPrecondition => (
                StatusCode::CONFLICT,
                "failed-precondition",
                "Not possible in the current state",
            ),
            Code::Aborted => (StatusCode::CONFLICT, "aborted", "Conflict, retry"),
            Code::AlreadyExists => (StatusCode::CONFLICT, "already-exists", "Already exists"),
            Code::NotFound => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Code::PermissionDenied => (StatusCode::FORBIDDEN, "permission-denied", "Not allowed"),
            Code::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Not authenticated",
            ),
            Code::ResourceExhausted => (
                StatusCode::TOO_MANY_REQUESTS,
                "resource-exhausted",
                "Too many requests",
            ),
            Code::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            Code::DeadlineExceeded | Code::Cancelled => (
                StatusCode::GATEWAY_TIMEOUT,
                "deadline-exceeded",
                "The service did not answer in time",
            ),
            Code::Unimplemented => (
                StatusCode::NOT_IMPLEMENTED,
                "unimplemented",
                "Not implemented",
            ),
            Code::Ok | Code::Unknown | Code::Internal | Code::DataLoss => (
                StatusCode::BAD_GATEWAY,
                "upstream-error",
                "The service failed",
            ),
        };
        let mut problem = Problem::new(http, code, title, status.message());
        if let Some(bad_request) = status.get_details_bad_request() {
            problem.errors = bad_request
                .field_violations
                .iter()
                .map(|v| FieldViolation::new(json_field_path(&v.field), v.description.clone()))
                .collect();
        }
        problem
    }
}

/// A proto field path (`family_links[0].case_id`) by its JSON names
/// (`familyLinks[0].caseId`); the request id is the `Idempotency-Key` header.
pub fn json_field_path(proto_path: &str) -> String {
    if proto_path == crate::routes::REQUEST_ID_FIELD {
        return crate::IDEMPOTENCY_KEY.to_owned();
    }
    proto_path
        .split('.')
        .map(|part| {
            let mut out = String::with_capacity(part.len());
            let mut upper = false;
            for c in part.chars() {
                if c == '_' {
                    upper = true;
                } else if upper {
                    out.extend(c.to_uppercase());
                    upper = false;
                } else {
                    out.push(c);
                }
            }
            out
        })
        .collect::<Vec<_>>()
        .join(".")
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (self.status_code, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(challenge) = self.www_authenticate {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_take_their_json_names() {
        assert_eq!(
            json_field_path("family_links[0].case_id"),
            "familyLinks[0].caseId"
        );
        assert_eq!(json_field_path("facility_id"), "facilityId");
        assert_eq!(json_field_path("request_id"), "Idempotency-Key");
    }

    #[test]
    fn a_bad_request_keeps_its_field_violations() {
        let mut details = tonic_types::ErrorDetails::new();
        details.add_bad_request_violation("arrival.arrived_at", "required");
        let status = tonic::Status::with_error_details(
            tonic::Code::InvalidArgument,
            "invalid request",
            details,
        );
        let problem = Problem::from_status(&status);
        assert_eq!(problem.status, 400);
        assert_eq!(
            problem.errors,
            vec![FieldViolation::new("arrival.arrivedAt", "required")]
        );
        let json: serde_json::Value = serde_json::to_value(&problem).expect("json");
        assert_eq!(json["type"], "urn:approdo:problem:invalid-argument");
        assert_eq!(json["errors"][0]["field"], "arrival.arrivedAt");
    }
}
