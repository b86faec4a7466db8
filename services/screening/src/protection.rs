//! The RPCs of minors and follow-up (`RecordAgeAssessment`, `AppointGuardian`,
//! `ScheduleFollowUp`, `RecordFollowUp`), as handlers the service trait
//! delegates to, and the request ids of their deadlines for the watcher.
//!
//! An age assessment or a guardian's appointment is recorded only by an
//! organisation the configuration names (`[options]`), read from the caller's
//! verified token; the case's jurisdiction applies as to any command.
//! Follow-ups are scheduled and recorded by the case's facility (reception
//! operators) or by a receiving service with a referral of the case in care.

use case_log_jetstream::{Producer, RootKind};
use case_screening::{CaseId, Command, Context, FollowUpId, State};
use contracts::screening::v1 as api;
use service_runtime::{Authority, Caller, Jurisdiction, ServiceError, Target};
use tonic::{Request, Response, Status};

use crate::aggregate::{CaseContext, CaseScreening};
use crate::api::ScreeningApi;
use crate::codec::PersonalParts;
use crate::protection_requests as requests;
use crate::referred_to::in_care;

/// `PERMISSION_DENIED` unless the caller's organisation is one `named` lists.
fn named_authority(named: &[String], caller: &Caller, what: &str) -> Result<(), ServiceError> {
    if named.contains(&caller.organisation_id) {
        return Ok(());
    }
    Err(ServiceError::PermissionDenied(format!(
        "the caller's organisation is not an authority the configuration names for {what}"
    )))
}

/// A follow-up's id: derived from the case and the scheduling request, so
/// that a retried request names the same follow-up.
pub fn new_follow_up_id(case_id: &CaseId, request_id: &str) -> FollowUpId {
    const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6a1f_57c4_8e0d_4d4b_9a57_0f3e_2c1b_a002);
    let id = uuid::Uuid::new_v5(&NAMESPACE, format!("{case_id}/{request_id}").as_bytes());
    FollowUpId::parse(&id.to_string())
        .unwrap_or_else(|_| panic!("a hyphenated lowercase UUID is a valid follow-up id"))
}

/// The request id of a deadline command of minors or follow-up, naming the
/// stay, follow-up or transfer it marks (each appended once); `None` for the others.
pub fn deadline_request_id(state: &State, case_id: &CaseId, command: &Command) -> Option<String> {
    Some(match command {
        Command::MarkFirstReceptionLimitExceeded => format!(
            "deadline.first-reception.{case_id}.{}",
            state.minor.first_reception.stays
        ),
        Command::MarkFollowUpMissed { follow_up_id } => {
            format!("deadline.follow-up.{follow_up_id}")
        }
        Command::MarkLostToFollowUp => format!(
            "deadline.lost-to-follow-up.{case_id}.{}",
            state.follow_ups.placements
        ),
        _ => return None,
    })
}

impl ScreeningApi {
    /// Runs a follow-up command: a receiving service acts on it only with a
    /// referral of the case in care (not merely sent).
    async fn execute_follow_up(
        &self,
        caller: &Caller,
        parsed: Result<(crate::requests::Target, Command), ServiceError>,
    ) -> Result<(String, u64), ServiceError> {
        let (target, command) = parsed?;
        let authority = Authority::of(caller);
        let referred_to = match &authority.jurisdiction {
            Jurisdiction::Receiver(_) => in_care(
                &self
                    .kernel
                    .history_of(RootKind::Case, target.case_id.as_str(), Producer::Referral)
                    .await?,
            ),
            _ => Vec::new(),
        };
        let context = CaseContext {
            domain: Context {
                now: self.kernel.now(),
            },
            referred_to,
            arrival: None,
        };
        let executed = self
            .kernel
            .execute(
                Target::<CaseScreening> {
                    id: target.case_id.as_str(),
                    codec: &PersonalParts::default(),
                    context: &context,
                },
                &authority,
                &target.request_id,
                command,
            )
            .await?;
        Ok((target.case_id.to_string(), executed.sequence))
    }

    /// Runs a command of a named authority on the case (an age assessment, a
    /// guardian's appointment, a formal identification): the one check that
    /// the caller's verified organisation is one the configuration names.
    pub(crate) async fn execute_as_authority(
        &self,
        caller: &Caller,
        named: &[String],
        what: &str,
        parsed: Result<(crate::requests::Target, Command), ServiceError>,
    ) -> Result<(String, u64), ServiceError> {
        // Validation first: whoever may call the RPC learns what is malformed.
        let (target, command) = parsed?;
        named_authority(named, caller, what)?;
        let sequence = self
            .execute(
                &Authority::of(caller),
                &target.request_id,
                &target.case_id,
                command,
                &PersonalParts::default(),
            )
            .await?;
        Ok((target.case_id.to_string(), sequence))
    }

    pub(crate) async fn age_assessed(
        &self,
        request: Request<api::RecordAgeAssessmentRequest>,
    ) -> Result<Response<api::RecordAgeAssessmentResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let parsed = requests::age_assessment(request.get_ref(), &caller.organisation_id);
        let (case_id, log_sequence) = self
            .execute_as_authority(
                &caller,
                &self.options.age_assessment_authorities,
                "age assessments",
                parsed,
            )
            .await?;
        Ok(Response::new(api::RecordAgeAssessmentResponse {
            case_id,
            log_sequence,
        }))
    }

    pub(crate) async fn guardian_appointed(
        &self,
        request: Request<api::AppointGuardianRequest>,
    ) -> Result<Response<api::AppointGuardianResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let parsed = requests::guardian(request.get_ref(), &caller.organisation_id);
        let (case_id, log_sequence) = self
            .execute_as_authority(
                &caller,
                &self.options.guardianship_authorities,
                "guardianship",
                parsed,
            )
            .await?;
        Ok(Response::new(api::AppointGuardianResponse {
            case_id,
            log_sequence,
        }))
    }

    pub(crate) async fn follow_up_scheduled(
        &self,
        request: Request<api::ScheduleFollowUpRequest>,
    ) -> Result<Response<api::ScheduleFollowUpResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let mut follow_up_id = String::new();
        let parsed = requests::schedule_follow_up(
            request.get_ref(),
            &caller.organisation_id,
            |case_id, request_id| {
                let id = new_follow_up_id(case_id, request_id);
                follow_up_id = id.to_string();
                id
            },
        );
        let (case_id, log_sequence) = self.execute_follow_up(&caller, parsed).await?;
        Ok(Response::new(api::ScheduleFollowUpResponse {
            case_id,
            follow_up_id,
            log_sequence,
        }))
    }

    pub(crate) async fn follow_up_recorded(
        &self,
        request: Request<api::RecordFollowUpRequest>,
    ) -> Result<Response<api::RecordFollowUpResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let parsed = requests::record_follow_up(request.get_ref(), &caller.organisation_id);
        let (case_id, log_sequence) = self.execute_follow_up(&caller, parsed).await?;
        Ok(Response::new(api::RecordFollowUpResponse {
            case_id,
            log_sequence,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_follow_up_id_is_the_same_for_a_retried_request_and_differs_by_case() {
        let case = CaseId::parse("case-1").expect("id");
        let other = CaseId::parse("case-2").expect("id");
        assert_eq!(
            new_follow_up_id(&case, "r-1"),
            new_follow_up_id(&case, "r-1")
        );
        assert_ne!(
            new_follow_up_id(&case, "r-1"),
            new_follow_up_id(&other, "r-1")
        );
    }
}
