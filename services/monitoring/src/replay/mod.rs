//! Analyst replay (`approdo.monitoring.v1.CaseReplayService`): a case's
//! history with payloads as of any time or log sequence (`render`: the
//! allowlist of fields per event type), the state as screening and referral
//! saw it there (`state`: the domain crates' own fold), and deadline
//! compliance under an alternative policy (`what_if`). Everything is read
//! from the case log, never written: histories with `CaseLog::history`
//! (`STREAM.MSG.GET`, no consumer), the what-if message by message.
//!
//! Who: analysts and administrators (the authorisation table in `lib.rs`);
//! an analyst whose token names a province (a prefecture's analyst) only
//! the cases in that province (where screening last placed or opened the
//! case), and its what-if only over them.

pub mod render;
pub mod state;
pub mod what_if;

use case_log_jetstream::envelope::{from_timestamp, timestamp};
use case_log_jetstream::{
    CaseLog, HistoryBound, HistoryScope, Producer, RecordedCommit, RootKind, TokenId,
};
use contracts::monitoring::v1 as api;
use contracts::monitoring::v1::case_replay_service_server::{
    CaseReplayService, CaseReplayServiceServer,
};
use service_runtime::{
    Caller, CallerExtractor, Kernel, OrganisationType, ServiceContext, ServiceError, Violations,
};
use time::OffsetDateTime;
use tonic::{Request, Response, Status};

/// The gRPC service's fully qualified name.
pub const SERVICE: &str = "approdo.monitoring.v1.CaseReplayService";

/// The replay service, on the monitoring service's log connection and clock.
pub struct CaseReplayApi {
    kernel: Kernel,
    callers: CallerExtractor,
}

/// The server to add to the monitoring service's routes.
pub fn server(context: &ServiceContext) -> CaseReplayServiceServer<CaseReplayApi> {
    CaseReplayServiceServer::new(CaseReplayApi {
        kernel: context.kernel.clone(),
        callers: context.callers.clone(),
    })
}

/// The province a caller is limited to: a prefecture's analyst's.
fn limited_to(caller: &Caller) -> Option<&str> {
    match caller.organisation_type {
        OrganisationType::Analyst => caller.province.as_deref(),
        _ => None,
    }
}

impl CaseReplayApi {
    fn log(&self) -> &CaseLog {
        self.kernel.log()
    }
}

/// The bound of a replay, validated.
fn bound(request: &api::GetCaseHistoryAsOfRequest, v: &mut Violations) -> Option<HistoryBound> {
    use api::get_case_history_as_of_request::AsOf;
    match &request.as_of {
        Some(AsOf::AsOfTime(at)) => match from_timestamp(at) {
            Some(at) => Some(HistoryBound::AsOf(at)),
            None => {
                v.add("as_of_time", "must be a valid time");
                None
            }
        },
        Some(AsOf::AsOfSequence(0)) => {
            v.add("as_of_sequence", "must be a log sequence, 1 or more");
            None
        }
        Some(AsOf::AsOfSequence(sequence)) => Some(HistoryBound::UpToSequence(*sequence)),
        None => {
            v.add("as_of", "give as_of_time or as_of_sequence");
            None
        }
    }
}

fn admits(bound: HistoryBound, commit: &RecordedCommit) -> bool {
    match bound {
        HistoryBound::All => true,
        HistoryBound::UpToSequence(last) => commit.sequence <= last,
        HistoryBound::AsOf(at) => commit.recorded_at <= at,
    }
}

fn replayed(commit: &RecordedCommit, erased: bool) -> api::ReplayedCommit {
    let actor = commit.commit.actor.clone().unwrap_or_default();
    api::ReplayedCommit {
        sequence: commit.sequence,
        recorded_at: Some(timestamp(commit.recorded_at)),
        occurred_at: commit.occurred_at().map(timestamp),
        producer: commit
            .producer()
            .map(|p| p.token().to_owned())
            .unwrap_or_default(),
        author_organisation_id: actor.organisation_id,
        author_organisation_type: actor.organisation_type,
        events: commit
            .commit
            .events
            .iter()
            .map(|event| {
                let fields = render::render(event, erased);
                api::ReplayedEvent {
                    event_type: event.event_type.clone(),
                    payload_shown: fields.is_some(),
                    fields: fields.unwrap_or_default(),
                }
            })
            .collect(),
    }
}

/// Whether the case's personal data is erased now: screening recorded
/// `PersonalDataErased` (its keys are then destroyed, or being destroyed by
/// screening's reconciler; this service may not read the key store).
fn erased(history: &[RecordedCommit]) -> bool {
    history
        .iter()
        .filter(|c| c.producer() == Some(Producer::Screening))
        .flat_map(|c| c.commit.events.iter())
        .any(|e| {
            matches!(
                event_codecs::screening::WireEvent::decode(e),
                Ok(event_codecs::screening::WireEvent::PersonalDataErased(_))
            )
        })
}

#[tonic::async_trait]
impl CaseReplayService for CaseReplayApi {
    async fn get_case_history_as_of(
        &self,
        request: Request<api::GetCaseHistoryAsOfRequest>,
    ) -> Result<Response<api::GetCaseHistoryAsOfResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let request = request.into_inner();
        let mut v = Violations::default();
        let case_id = v.check("case_id", TokenId::parse(&request.case_id));
        let bound = bound(&request, &mut v);
        v.finish()?;
        let (Some(case_id), Some(bound)) = (case_id, bound) else {
            return Err(ServiceError::validated_without_fields().into());
        };
        // The whole history, once: the case's province and its erasure are
        // judged as they are now; the replay shows the part up to the bound.
        let history = self
            .log()
            .history(
                &HistoryScope::Root {
                    kind: RootKind::Case,
                    id: case_id.clone(),
                },
                HistoryBound::All,
            )
            .await
            .map_err(ServiceError::from)?;
        if history.is_empty() {
            return Err(ServiceError::NotFound("case").into());
        }
        let now = state::fold(case_id.as_str(), &history)?;
        if let Some(province) = limited_to(&caller)
            && state::province(&now.screening).as_deref() != Some(province)
        {
            return Err(ServiceError::PermissionDenied(
                "the case is not in the caller's province".to_owned(),
            )
            .into());
        }
        let erased = erased(&history);
        let included: Vec<RecordedCommit> =
            history.into_iter().filter(|c| admits(bound, c)).collect();
        let folded = state::fold(case_id.as_str(), &included)?;
        Ok(Response::new(api::GetCaseHistoryAsOfResponse {
            case_id: case_id.as_str().to_owned(),
            last_included_sequence: included.last().map_or(0, |c| c.sequence),
            commits: included.iter().map(|c| replayed(c, erased)).collect(),
            screening: Some(state::screening_view(&folded.screening)),
            referral: Some(state::referral_view(&folded.referral)),
        }))
    }

    async fn replay_deadline_compliance(
        &self,
        request: Request<api::ReplayDeadlineComplianceRequest>,
    ) -> Result<Response<api::ReplayDeadlineComplianceResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let request = request.into_inner();
        let (from, to, province, alternative) = compliance_request(&request, &caller)?;
        // Read up to the last sequence as the call begins: commits appended
        // meanwhile belong to a later replay.
        let last = self
            .log()
            .last_sequence()
            .await
            .map_err(ServiceError::from)?;
        let cases = what_if::read_cases(self.log(), last).await?;
        let (in_force, alternative) = what_if::compliance(
            &cases,
            from,
            to,
            province.as_deref(),
            &alternative,
            self.kernel.now(),
        )?;
        Ok(Response::new(api::ReplayDeadlineComplianceResponse {
            in_force,
            alternative,
            read_up_to_sequence: last,
        }))
    }
}

/// A what-if request, validated: every offending field named at once.
fn compliance_request(
    request: &api::ReplayDeadlineComplianceRequest,
    caller: &Caller,
) -> Result<
    (
        OffsetDateTime,
        OffsetDateTime,
        Option<String>,
        what_if::Alternative,
    ),
    ServiceError,
> {
    let mut v = Violations::default();
    let mut time = |field: &str, raw: &Option<prost_types::Timestamp>| {
        let at = raw.as_ref().and_then(from_timestamp);
        if at.is_none() {
            v.add(field, "is required (a valid time)");
        }
        at
    };
    let from = time("from", &request.from);
    let to = time("to", &request.to);
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        v.add("to", "must be after from");
    }
    let alternative = request.alternative.unwrap_or_default();
    let mut value = |field: &str, raw: u32, in_force: i64, max: u32| -> i64 {
        match raw {
            0 => in_force,
            n if n > max => {
                v.add(
                    format!("alternative.{field}"),
                    format!("must be 0 (in force) or 1 to {max}"),
                );
                in_force
            }
            n => i64::from(n),
        }
    };
    let days = case_screening::DeadlineDays {
        screening: value(
            "screening_days",
            alternative.screening_days,
            case_screening::DeadlineDays::IN_FORCE.screening,
            60,
        ),
        assessment: value(
            "assessment_days",
            alternative.assessment_days,
            case_screening::DeadlineDays::IN_FORCE.assessment,
            180,
        ),
    };
    let standard = case_referral::DeadlinePolicy::default();
    let hours = |d: time::Duration| d.whole_hours();
    let acknowledge = case_referral::DeadlinePolicy {
        acknowledge_immediate: time::Duration::hours(value(
            "acknowledge_immediate_hours",
            alternative.acknowledge_immediate_hours,
            hours(standard.acknowledge_immediate),
            720,
        )),
        acknowledge_high: time::Duration::hours(value(
            "acknowledge_high_hours",
            alternative.acknowledge_high_hours,
            hours(standard.acknowledge_high),
            720,
        )),
        acknowledge_standard: time::Duration::hours(value(
            "acknowledge_standard_hours",
            alternative.acknowledge_standard_hours,
            hours(standard.acknowledge_standard),
            720,
        )),
        ..standard
    };
    let province = match (limited_to(caller), request.province.as_str()) {
        (Some(own), "") => Some(own.to_owned()),
        (Some(own), asked) if asked != own => {
            v.add(
                "province",
                "a prefecture's analyst replays its own province only",
            );
            None
        }
        (_, "") => None,
        (_, asked) => match pathway::Province::parse(asked) {
            Ok(p) => Some(p.to_string()),
            Err(_) => {
                v.add("province", "must be a province code");
                None
            }
        },
    };
    v.finish()?;
    let (Some(from), Some(to)) = (from, to) else {
        return Err(ServiceError::validated_without_fields());
    };
    Ok((
        from,
        to,
        province,
        what_if::Alternative { days, acknowledge },
    ))
}
