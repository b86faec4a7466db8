//! The small fixed set of errors every service answers with, and the one place
//! they become gRPC statuses. Messages hold codes and field names, never case data.

use case_log_jetstream::LogError;
use person_keys_jetstream::KeyStoreError;
use projection_sled::WaitError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// A field of a request that is not valid, and why (in terms of the field only).
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Collects every field violation of a request before answering, so that the
/// client learns all of them at once.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// Keeps the value, or records why the field is invalid.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        parsed: Result<T, E>,
    ) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(error) => {
                self.0.push(FieldViolation::new(field, error.to_string()));
                None
            }
        }
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    /// A client request id: 1 to 64 characters of `[A-Za-z0-9-]` (a UUID
    /// fits). Nothing else: no names, dates or free text can hide in it.
    pub fn request_id(&mut self, raw: &str) -> String {
        let valid = !raw.is_empty()
            && raw.len() <= 64
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !valid {
            self.add("request_id", "must be 1 to 64 characters of [A-Za-z0-9-]");
        }
        raw.to_owned()
    }

    /// Every item of a repeated field, each parsed on its own: an invalid one
    /// is recorded as `field[i]` and left out.
    pub fn each<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        raw: &[String],
        parse: impl Fn(&str) -> Result<T, E>,
    ) -> Vec<T> {
        raw.iter()
            .enumerate()
            .filter_map(|(i, item)| self.check(&format!("{field}[{i}]"), parse(item)))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Err(InvalidArgument)` with every violation, or `Ok` when there are none.
    pub fn finish(self) -> Result<(), ServiceError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::InvalidArgument(self.0))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// The request is malformed: nothing was appended.
    #[error("invalid request: {}", fields(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// A business rule refuses the command in the current state.
    #[error("{0}")]
    FailedPrecondition(String),
    /// Lost a race with another command on the same aggregate; retry.
    #[error("{0}")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    DeadlineExceeded(String),
    /// A limit is reached (open streams of an organisation, a full case log):
    /// nothing was done; the message says which limit.
    #[error("{0}")]
    ResourceExhausted(String),
    /// A wait that cannot succeed (a log sequence beyond the log's last).
    #[error("{0}")]
    OutOfRange(String),
    /// Our fault: the cause (ids and codes only) is logged once, when the
    /// error becomes a status; the client learns only that it happened.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    /// An internal error with its cause: ids and codes only, never case data.
    pub fn internal(cause: impl std::fmt::Display) -> ServiceError {
        ServiceError::Internal(cause.to_string())
    }

    /// A request passed validation, yet a field it needs is missing: our bug.
    pub fn validated_without_fields() -> ServiceError {
        ServiceError::internal("a validated request lacks a field")
    }

    /// A domain refusal as the error set says it.
    pub fn refused(refusal: Refusal) -> ServiceError {
        match refusal {
            Refusal::Invalid { field, reason } => {
                ServiceError::InvalidArgument(vec![FieldViolation::new(field, reason)])
            }
            Refusal::NotFound(what) => ServiceError::NotFound(what),
            Refusal::NotAllowed(why) => ServiceError::PermissionDenied(why),
            Refusal::Rule(why) => ServiceError::FailedPrecondition(why),
        }
    }
}

impl Refusal {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Refusal {
        Refusal::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// How a domain refuses a command, in the error set's terms. Each aggregate
/// says which of these each of its domain errors is (`Aggregate::refusal`);
/// the kernel maps it to a status in one place ([`ServiceError::refused`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The command's content is not acceptable: INVALID_ARGUMENT.
    Invalid { field: String, reason: String },
    /// What the command addresses does not exist: NOT_FOUND.
    NotFound(&'static str),
    /// The actor may not do this: PERMISSION_DENIED.
    NotAllowed(String),
    /// A business rule refuses it in the current state: FAILED_PRECONDITION.
    Rule(String),
}

fn fields(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| v.field.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl From<ServiceError> for Status {
    fn from(error: ServiceError) -> Status {
        let message = error.to_string();
        match error {
            ServiceError::InvalidArgument(violations) => {
                let mut details = ErrorDetails::new();
                for violation in &violations {
                    details.add_bad_request_violation(&violation.field, &violation.description);
                }
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            ServiceError::FailedPrecondition(_) => Status::failed_precondition(message),
            ServiceError::Conflict(_) => Status::aborted(message),
            ServiceError::NotFound(_) => Status::not_found(message),
            ServiceError::PermissionDenied(_) => Status::permission_denied(message),
            ServiceError::Unauthenticated(_) => Status::unauthenticated(message),
            ServiceError::Unavailable(_) => Status::unavailable(message),
            ServiceError::DeadlineExceeded(_) => Status::deadline_exceeded(message),
            ServiceError::ResourceExhausted(_) => Status::resource_exhausted(message),
            ServiceError::OutOfRange(_) => Status::out_of_range(message),
            ServiceError::Internal(cause) => {
                // The one place an internal error is logged: the cause stays here.
                tracing::error!(%cause, "internal error");
                Status::internal("internal error")
            }
        }
    }
}

impl From<LogError> for ServiceError {
    fn from(error: LogError) -> Self {
        match error {
            LogError::Conflict { .. } => {
                ServiceError::Conflict("the case changed concurrently; retry".to_owned())
            }
            LogError::Unavailable { .. } => {
                ServiceError::Unavailable("case log unavailable".to_owned())
            }
            full @ LogError::Full { .. } => {
                // Operators see the figures; the caller learns which limit refused it.
                tracing::error!(error = %full, "an append was refused: the case log is full");
                ServiceError::ResourceExhausted(
                    "the case log is full: appends are refused until an operator raises its max_bytes"
                        .to_owned(),
                )
            }
            other => ServiceError::internal(format_args!("case log: {other}")),
        }
    }
}

impl From<projection_sled::StoreError> for ServiceError {
    fn from(error: projection_sled::StoreError) -> Self {
        ServiceError::internal(error)
    }
}

impl From<KeyStoreError> for ServiceError {
    fn from(error: KeyStoreError) -> Self {
        match error {
            KeyStoreError::Unavailable { .. } => {
                ServiceError::Unavailable("person key store unavailable".to_owned())
            }
            KeyStoreError::Log(error) => error.into(),
            KeyStoreError::Erased => {
                ServiceError::FailedPrecondition("the person's personal data is erased".to_owned())
            }
            refused @ KeyStoreError::Refused { .. } => {
                ServiceError::internal(format_args!("person key store: {refused}"))
            }
        }
    }
}

impl From<WaitError> for ServiceError {
    fn from(error: WaitError) -> Self {
        match error {
            WaitError::Timeout { .. } => ServiceError::DeadlineExceeded(
                "projection has not yet applied the requested sequence".to_owned(),
            ),
            WaitError::Failed | WaitError::Stopped => {
                ServiceError::Unavailable("projection is not serving".to_owned())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_names_every_offending_field() {
        let status: Status = ServiceError::InvalidArgument(vec![
            FieldViolation::new("arrival.place", "required"),
            FieldViolation::new("urgency", "unknown code"),
        ])
        .into();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let bad = details.bad_request().expect("bad request details");
        let names: Vec<&str> = bad
            .field_violations
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(names, ["arrival.place", "urgency"]);
    }

    #[test]
    fn request_ids_are_short_tokens_a_uuid_fits() {
        let valid = |raw: &str| {
            let mut v = Violations::default();
            v.request_id(raw);
            v.is_empty()
        };
        assert!(valid("0193a7c2-5b1e-7d4a-9f3e-2c1b0a998877"));
        assert!(valid("demo-register-1"));
        for refused in [
            "",
            "maria.rossi",
            "born:1987-04-13",
            "has space",
            "under_score",
            &"x".repeat(65),
        ] {
            assert!(!valid(refused), "{refused:?}");
        }
    }

    #[test]
    fn a_full_case_log_is_resource_exhausted_with_a_clear_message_never_internal() {
        let full = LogError::Full {
            stream: "APPRODO_CASE_LOG".to_owned(),
            bytes: 2_000,
            max_bytes: 2_048,
        };
        let status = Status::from(ServiceError::from(full));
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(
            status.message(),
            "the case log is full: appends are refused until an operator raises its max_bytes"
        );
    }

    #[test]
    fn an_internal_cause_stays_out_of_the_status() {
        let status = Status::from(ServiceError::internal("projection row case/123 is corrupt"));
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(status.message(), "internal error");
    }

    #[test]
    fn each_kind_maps_to_its_code() {
        let cases = [
            (
                ServiceError::FailedPrecondition("x".into()),
                Code::FailedPrecondition,
            ),
            (ServiceError::Conflict("x".into()), Code::Aborted),
            (ServiceError::NotFound("case"), Code::NotFound),
            (
                ServiceError::PermissionDenied("x".into()),
                Code::PermissionDenied,
            ),
            (ServiceError::Unauthenticated("x"), Code::Unauthenticated),
            (ServiceError::Unavailable("x".into()), Code::Unavailable),
            (ServiceError::internal("x"), Code::Internal),
        ];
        for (error, code) in cases {
            assert_eq!(Status::from(error).code(), code);
        }
    }
}
