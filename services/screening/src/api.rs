//! `approdo.screening.v1.ScreeningService`: validate, decide on the case's
//! history, append one commit; queries read the projection after waiting for
//! the requested log sequence.

use case_log_jetstream::envelope::timestamp;
use case_log_jetstream::{HistoryBound, HistoryScope, Producer, RecordedCommit, RootKind, TokenId};
use case_screening::{CaseId, Command, Context};
use contracts::screening::v1 as api;
use projection_sled::ProjectionHandle;
use service_runtime::{
    Authority, Caller, CallerExtractor, FieldViolation, Jurisdiction, Kernel, Preview,
    ServiceError, Target, Whereabouts, kernel::fold, person_keys,
};
use tonic::{Request, Response, Status};

use crate::aggregate::{CaseContext, CaseScreening, whereabouts};
use crate::codec::{self, PersonalParts, WireEvent};
use crate::facilities;
use crate::identity_access;
use crate::projection;
use crate::queries;
use crate::referred_to::referred_to;
use crate::requests;
use pathway::vocabularies::Vocabularies;
use service_runtime::vocabularies::{self, KeepsVocabularies};

pub struct ScreeningApi {
    pub(crate) kernel: Kernel,
    pub(crate) keys: service_runtime::PersonKeyKeeper,
    pub(crate) projection: ProjectionHandle,
    pub(crate) callers: CallerExtractor,
    pub(crate) reads: service_runtime::reads::Reads,
    pub(crate) options: crate::options::ScreeningOptions,
}

impl ScreeningApi {
    /// Runs one command on a case through the kernel. Answers the log sequence.
    pub(crate) async fn execute(
        &self,
        authority: &Authority,
        request_id: &str,
        case_id: &CaseId,
        command: Command,
        personal: &PersonalParts,
    ) -> Result<u64, ServiceError> {
        let context = self.context(authority, case_id).await?;
        let target = Target::<CaseScreening> {
            id: case_id.as_str(),
            codec: personal,
            context: &context,
        };
        let executed = self
            .kernel
            .execute(target, authority, request_id, command)
            .await?;
        Ok(executed.sequence)
    }

    /// What a command on the case is decided with. Only a receiving service's
    /// jurisdiction depends on the case's referrals, read from the log.
    async fn context(
        &self,
        authority: &Authority,
        case_id: &CaseId,
    ) -> Result<CaseContext, ServiceError> {
        let referred_to = match &authority.jurisdiction {
            Jurisdiction::Receiver(_) => referred_to(
                &self
                    .kernel
                    .history_of(RootKind::Case, case_id.as_str(), Producer::Referral)
                    .await?,
            ),
            _ => Vec::new(),
        };
        Ok(CaseContext {
            domain: Context {
                now: self.kernel.now(),
            },
            referred_to,
            arrival: None,
        })
    }

    /// Opens a case. The person's key is created only for a case the domain
    /// accepts to open, never for a retried or refused request, and never again
    /// for a person erased (their tombstone refuses it).
    async fn open(
        &self,
        caller: &Caller,
        request: &api::OpenCaseRequest,
        request_id: &str,
        open: case_screening::OpenCase,
    ) -> Result<u64, ServiceError> {
        let authority = Authority::of(caller);
        let case_id = open.case_id.clone();
        let command = Command::Open(open);
        let context = self.context(&authority, &case_id).await?;
        let target = Target::<CaseScreening> {
            id: case_id.as_str(),
            codec: &PersonalParts::default(),
            context: &context,
        };
        match self
            .kernel
            .preview(target, &authority, request_id, &command)
            .await?
        {
            Preview::Replayed(executed) => return Ok(executed.sequence),
            Preview::Accepted => {}
        }
        // Personal data reaches the log only sealed with the person's own key.
        let log = self.kernel.log();
        let key = match self.keys.create_or_get(log, case_id.as_str()).await {
            Ok(key) => key,
            // Erased between the preview and now: a retry of the opening that
            // erasure followed still answers the original result.
            Err(erased @ ServiceError::FailedPrecondition(_)) => {
                let target = Target::<CaseScreening> {
                    id: case_id.as_str(),
                    codec: &PersonalParts::default(),
                    context: &context,
                };
                return match self
                    .kernel
                    .preview(target, &authority, request_id, &command)
                    .await?
                {
                    Preview::Replayed(executed) => Ok(executed.sequence),
                    Preview::Accepted => Err(erased),
                };
            }
            Err(error) => return Err(error),
        };
        let personal = codec::sealed_parts(
            &key,
            case_id.as_str(),
            request.personal_data.as_ref(),
            request.special_category_details.as_ref(),
        )?;
        self.execute(&authority, request_id, &case_id, command, &personal)
            .await
    }

    /// Every family link names a case that exists.
    async fn check_family_links(
        &self,
        caller: &Caller,
        open: &case_screening::OpenCase,
    ) -> Result<(), ServiceError> {
        let mut unknown = Vec::new();
        for (i, link) in open.family_links.iter().enumerate() {
            if !self.linkable(caller, &link.case_id).await? {
                unknown.push(FieldViolation::new(
                    format!("family_links[{i}].case_id"),
                    "no such case",
                ));
            }
        }
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::InvalidArgument(unknown))
        }
    }

    /// A case a new case may link to: one the caller may act on, or (for a
    /// reception operator) one in its own province, where families are
    /// placed apart. A case out of reach answers as one that does not exist:
    /// links cannot probe where cases are.
    async fn linkable(&self, caller: &Caller, case_id: &CaseId) -> Result<bool, ServiceError> {
        let history = self
            .kernel
            .history::<CaseScreening>(case_id.as_str())
            .await?;
        if history.is_empty() {
            return Ok(false);
        }
        let at = whereabouts_of(&history)?;
        let jurisdiction = Jurisdiction::of(caller);
        let in_own_province = match &jurisdiction {
            Jurisdiction::Facility {
                province: Some(own),
                ..
            } => *own == at.province,
            _ => false,
        };
        Ok(jurisdiction.covers(&at) || in_own_province)
    }

    fn caller<T>(&self, request: &Request<T>) -> Result<Caller, ServiceError> {
        self.callers.caller(request)
    }

    async fn command(
        &self,
        caller: Caller,
        parsed: Result<(requests::Target, Command), ServiceError>,
    ) -> Result<(String, u64), Status> {
        let (target, command) = parsed?;
        let sequence = self
            .execute(
                &Authority::of(&caller),
                &target.request_id,
                &target.case_id,
                command,
                &PersonalParts::default(),
            )
            .await?;
        Ok((target.case_id.to_string(), sequence))
    }

    /// The closed vocabularies in force.
    fn vocabularies(&self) -> Result<Vocabularies, ServiceError> {
        vocabularies::in_force(self.projection.store())
    }

    async fn wait_for(&self, sequence: u64) -> Result<(), ServiceError> {
        self.reads.wait_for(sequence).await
    }
}

/// Where a case is now, from its screening commits (the history may hold
/// other producers' commits too).
fn whereabouts_of(history: &[RecordedCommit]) -> Result<Whereabouts, ServiceError> {
    let screening: Vec<RecordedCommit> = history
        .iter()
        .filter(|c| {
            c.commit
                .aggregate
                .as_ref()
                .is_some_and(|a| a.producer == Producer::Screening.token())
        })
        .cloned()
        .collect();
    let state = fold::<CaseScreening>(&PersonalParts::default(), &screening).map_err(|error| {
        ServiceError::internal(format_args!(
            "a case's screening history cannot be decoded: {error}"
        ))
    })?;
    whereabouts(&state).ok_or(ServiceError::NotFound("case"))
}

/// Sets a list filter to the caller's own facility or province; asking for
/// another one (or having none) is refused.
fn confine(filter: &mut String, own: String, what: &str) -> Result<(), ServiceError> {
    if own.is_empty() || (!filter.is_empty() && *filter != own) {
        return Err(ServiceError::PermissionDenied(format!(
            "the caller may list the cases of its own {what} only"
        )));
    }
    *filter = own;
    Ok(())
}

/// Case ids are derived from the caller's organisation and request id, so that a
/// retried `OpenCase` addresses the same case and is answered from its history.
pub fn new_case_id(organisation_id: &str, request_id: &str) -> CaseId {
    const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6a1f_57c4_8e0d_4d4b_9a57_0f3e_2c1b_a001);
    let id = uuid::Uuid::new_v5(
        &NAMESPACE,
        format!("{organisation_id}/{request_id}").as_bytes(),
    );
    CaseId::parse(&id.to_string()).unwrap_or_else(|_| unreachable_uuid())
}

fn unreachable_uuid() -> CaseId {
    panic!("a hyphenated lowercase UUID is a valid case id")
}

/// The lists the screening service keeps: what front-line actors type.
pub struct ScreeningVocabularies;

impl KeepsVocabularies for ScreeningVocabularies {
    const PRODUCER: Producer = Producer::Screening;
    const KEPT: &'static [pathway::vocabularies::VocabularyKind] = &[
        pathway::vocabularies::VocabularyKind::Indicator,
        pathway::vocabularies::VocabularyKind::HealthFlag,
        pathway::vocabularies::VocabularyKind::Role,
        pathway::vocabularies::VocabularyKind::OtherNeed,
    ];
}

#[tonic::async_trait]
impl api::screening_service_server::ScreeningService for ScreeningApi {
    async fn register_facility(
        &self,
        request: Request<api::RegisterFacilityRequest>,
    ) -> Result<Response<api::RegisterFacilityResponse>, Status> {
        let caller = self.caller(&request)?;
        let request = request.into_inner();
        let log_sequence = facilities::register(&self.kernel, &caller, &request).await?;
        Ok(Response::new(api::RegisterFacilityResponse {
            facility_id: request.facility_id,
            log_sequence,
        }))
    }

    async fn publish_vocabularies(
        &self,
        request: Request<api::PublishVocabulariesRequest>,
    ) -> Result<Response<api::PublishVocabulariesResponse>, Status> {
        let caller = self.caller(&request)?;
        let r = request.into_inner();
        let (version, log_sequence) = vocabularies::publish_request::<ScreeningVocabularies>(
            &self.kernel,
            &caller,
            &r.request_id,
            &r.vocabularies,
        )
        .await?;
        Ok(Response::new(api::PublishVocabulariesResponse {
            version,
            log_sequence,
        }))
    }

    async fn get_vocabularies(
        &self,
        request: Request<api::GetVocabulariesRequest>,
    ) -> Result<Response<api::GetVocabulariesResponse>, Status> {
        self.caller(&request)?;
        self.wait_for(request.get_ref().min_log_sequence).await?;
        let in_force = self.vocabularies()?;
        Ok(Response::new(api::GetVocabulariesResponse {
            version: in_force.version,
            vocabularies: vocabularies::kept_to_wire(&in_force, ScreeningVocabularies::KEPT),
        }))
    }

    async fn open_case(
        &self,
        request: Request<api::OpenCaseRequest>,
    ) -> Result<Response<api::OpenCaseResponse>, Status> {
        let caller = self.caller(&request)?;
        let mut request = request.into_inner();
        // The case's province is its facility's registered province.
        let located =
            facilities::locate(&self.kernel, &request.facility_id, &request.province, "").await?;
        request.province = located.province.clone();
        let (request_id, mut open) = located
            .refuse_claims(requests::open_case(&request, |rid| {
                new_case_id(&caller.organisation_id, rid)
            }))?;
        // Where screening's deadline runs from: the registered kind, never the request's.
        open.facility_kind = case_screening::FacilityKind::from_code(&located.kind).ok();
        self.check_family_links(&caller, &open).await?;
        let case_id = open.case_id.to_string();
        let log_sequence = self.open(&caller, &request, &request_id, open).await?;
        Ok(Response::new(api::OpenCaseResponse {
            case_id,
            log_sequence,
        }))
    }

    async fn record_preliminary_check(
        &self,
        request: Request<api::RecordPreliminaryCheckRequest>,
    ) -> Result<Response<api::RecordPreliminaryCheckResponse>, Status> {
        let caller = self.caller(&request)?;
        let (case_id, log_sequence) = self
            .command(
                caller,
                requests::preliminary_check(request.get_ref(), &self.vocabularies()?),
            )
            .await?;
        Ok(Response::new(api::RecordPreliminaryCheckResponse {
            case_id,
            log_sequence,
        }))
    }

    async fn raise_vulnerability_signal(
        &self,
        request: Request<api::RaiseVulnerabilitySignalRequest>,
    ) -> Result<Response<api::RaiseVulnerabilitySignalResponse>, Status> {
        let caller = self.caller(&request)?;
        let in_force = self.vocabularies()?;
        let parsed = requests::signal(request.get_ref(), &caller.organisation_id, &in_force);
        let (case_id, log_sequence) = self.command(caller, parsed).await?;
        Ok(Response::new(api::RaiseVulnerabilitySignalResponse {
            case_id,
            log_sequence,
        }))
    }

    async fn record_assessment(
        &self,
        request: Request<api::RecordAssessmentRequest>,
    ) -> Result<Response<api::RecordAssessmentResponse>, Status> {
        let caller = self.caller(&request)?;
        let (case_id, log_sequence) = self
            .command(
                caller,
                requests::assessment(request.get_ref(), &self.vocabularies()?),
            )
            .await?;
        Ok(Response::new(api::RecordAssessmentResponse {
            case_id,
            log_sequence,
        }))
    }

    async fn record_application(
        &self,
        request: Request<api::RecordApplicationRequest>,
    ) -> Result<Response<api::RecordApplicationResponse>, Status> {
        let caller = self.caller(&request)?;
        let (case_id, log_sequence) = self
            .command(caller, requests::application(request.get_ref()))
            .await?;
        Ok(Response::new(api::RecordApplicationResponse {
            case_id,
            log_sequence,
        }))
    }

    async fn record_formal_identification(
        &self,
        request: Request<api::RecordFormalIdentificationRequest>,
    ) -> Result<Response<api::RecordFormalIdentificationResponse>, Status> {
        let caller = self.caller(&request)?;
        let parsed = requests::formal_identification(request.get_ref(), &caller.organisation_id);
        // The identifying body is the caller's verified organisation, one
        // the configuration names: never a field of the request.
        let (case_id, log_sequence) = self
            .execute_as_authority(
                &caller,
                &self.options.anti_trafficking_bodies,
                "formal identifications by an anti-trafficking body",
                parsed,
            )
            .await?;
        Ok(Response::new(api::RecordFormalIdentificationResponse {
            case_id,
            log_sequence,
        }))
    }

    async fn place_case(
        &self,
        request: Request<api::PlaceCaseRequest>,
    ) -> Result<Response<api::PlaceCaseResponse>, Status> {
        let caller = self.caller(&request)?;
        let mut request = request.into_inner();
        // The case moves to the province and kind its new facility is registered with.
        let located = facilities::locate(
            &self.kernel,
            &request.facility_id,
            &request.province,
            &request.facility_kind,
        )
        .await?;
        request.province = located.province.clone();
        request.facility_kind = located.kind.clone();
        let parsed = located.refuse_claims(requests::placement(
            &request,
            &caller.organisation_id,
            self.options.lost_to_follow_up_after(),
        ));
        let (case_id, log_sequence) = self.command(caller, parsed).await?;
        Ok(Response::new(api::PlaceCaseResponse {
            case_id,
            log_sequence,
        }))
    }

    async fn close_case(
        &self,
        request: Request<api::CloseCaseRequest>,
    ) -> Result<Response<api::CloseCaseResponse>, Status> {
        let caller = self.caller(&request)?;
        let (case_id, log_sequence) = self
            .command(caller, requests::close(request.get_ref()))
            .await?;
        Ok(Response::new(api::CloseCaseResponse {
            case_id,
            log_sequence,
        }))
    }

    async fn get_case_identity(
        &self,
        request: Request<api::GetCaseIdentityRequest>,
    ) -> Result<Response<api::GetCaseIdentityResponse>, Status> {
        let caller = self.caller(&request)?;
        let request = request.into_inner();
        let mut v = service_runtime::Violations::default();
        let case_id = v.check("case_id", CaseId::parse(&request.case_id));
        let purpose = v.check(
            "purpose",
            case_screening::ReadPurpose::from_code(&request.purpose),
        );
        v.finish()?;
        let (Some(case_id), Some(purpose)) = (case_id, purpose) else {
            return Err(ServiceError::validated_without_fields().into());
        };
        identity_access::check_purpose(&caller, purpose)?;
        let history = self
            .kernel
            .history::<CaseScreening>(case_id.as_str())
            .await?;
        let opened = opened_event(&history).ok_or(ServiceError::NotFound("case"))?;
        Jurisdiction::of(&caller).check(&whereabouts_of(&history)?)?;
        // Every read of identifying data is recorded first: no record, no read.
        let read_id = format!("identity-read.{}", uuid::Uuid::now_v7());
        let log_sequence = self
            .execute(
                &Authority::of(&caller),
                &read_id,
                &case_id,
                Command::RecordIdentityRead { purpose },
                &PersonalParts::default(),
            )
            .await?;
        let key = self
            .keys
            .existing(self.kernel.log(), case_id.as_str())
            .await?
            .ok_or_else(|| {
                ServiceError::FailedPrecondition("the person's personal data is erased".to_owned())
            })?;
        let (personal_data, special_category_details) = open_identity(&key, &case_id, &opened)?;
        let special_category_details =
            special_category_details.filter(|_| identity_access::reads_special_category(&caller));
        tracing::info!(case_id = %case_id, purpose = purpose.code(), sequence = log_sequence, "identity read");
        Ok(Response::new(api::GetCaseIdentityResponse {
            personal_data,
            special_category_details,
            log_sequence,
        }))
    }

    async fn erase_case(
        &self,
        request: Request<api::EraseCaseRequest>,
    ) -> Result<Response<api::EraseCaseResponse>, Status> {
        let caller = self.caller(&request)?;
        let request = request.into_inner();
        let mut v = service_runtime::Violations::default();
        let request_id = requests::request_id(&mut v, &request.request_id);
        let case_id = v.check("case_id", CaseId::parse(&request.case_id));
        let reason = v.check(
            "reason",
            case_screening::ErasureReason::from_code(&request.reason),
        );
        v.finish()?;
        let (Some(case_id), Some(reason)) = (case_id, reason) else {
            return Err(ServiceError::validated_without_fields().into());
        };
        // Record the erasure, then destroy the key: both idempotent, so a retry
        // after a failure between them completes it.
        let log_sequence = self
            .execute(
                &Authority::of(&caller),
                &request_id,
                &case_id,
                Command::ErasePersonalData { reason },
                &PersonalParts::default(),
            )
            .await?;
        self.keys
            .destroy(self.kernel.log(), case_id.as_str())
            .await?;
        tracing::info!(case_id = %case_id, sequence = log_sequence, "personal data erased");
        Ok(Response::new(api::EraseCaseResponse {
            case_id: case_id.to_string(),
            log_sequence,
        }))
    }

    async fn get_case(
        &self,
        request: Request<api::GetCaseRequest>,
    ) -> Result<Response<api::GetCaseResponse>, Status> {
        let caller = self.caller(&request)?;
        let request = request.into_inner();
        let case_id = CaseId::parse(&request.case_id).map_err(|e| {
            ServiceError::InvalidArgument(vec![FieldViolation::new("case_id", e.to_string())])
        })?;
        self.wait_for(request.min_log_sequence).await?;
        let view = projection::case(self.projection.store(), case_id.as_str())
            .map_err(ServiceError::from)?
            .ok_or(ServiceError::NotFound("case"))?;
        Jurisdiction::of(&caller).check(&Whereabouts::at(&view.province, &view.facility_id))?;
        Ok(Response::new(api::GetCaseResponse { case: Some(view) }))
    }

    async fn list_cases(
        &self,
        request: Request<api::ListCasesRequest>,
    ) -> Result<Response<api::ListCasesResponse>, Status> {
        let caller = self.caller(&request)?;
        let mut request = request.into_inner();
        // Each caller lists the cases of its own facility or province.
        match Jurisdiction::of(&caller) {
            Jurisdiction::Facility { facility, .. } => {
                confine(&mut request.facility_id, facility, "facility")?
            }
            Jurisdiction::Province(own) => confine(&mut request.province, own, "province")?,
            Jurisdiction::Unplaced => {}
            // Receiving services see the referrals addressed to them, never case lists.
            Jurisdiction::Receiver(_) => {
                return Err(ServiceError::PermissionDenied(
                    "a receiving service lists no cases".to_owned(),
                )
                .into());
            }
        }
        let query = queries::ListQuery::parse(&request)?;
        self.wait_for(request.min_log_sequence).await?;
        let (page, _cost) = query
            .page(self.projection.store())
            .map_err(ServiceError::from)?;
        Ok(Response::new(page))
    }

    async fn get_case_history(
        &self,
        request: Request<api::GetCaseHistoryRequest>,
    ) -> Result<Response<api::GetCaseHistoryResponse>, Status> {
        let caller = self.caller(&request)?;
        let request = request.into_inner();
        let case_id = CaseId::parse(&request.case_id).map_err(|e| {
            ServiceError::InvalidArgument(vec![FieldViolation::new("case_id", e.to_string())])
        })?;
        let id = TokenId::parse(case_id.as_str())
            .map_err(|_| ServiceError::internal("a case id is not a subject token"))?;
        // Read from the log itself, which holds every acknowledged commit: any
        // min_log_sequence the client got from a reply is already satisfied.
        let history = self
            .kernel
            .log()
            .history(
                &HistoryScope::Root {
                    kind: RootKind::Case,
                    id,
                },
                HistoryBound::All,
            )
            .await
            .map_err(ServiceError::from)?;
        if history.is_empty() {
            return Err(ServiceError::NotFound("case").into());
        }
        Jurisdiction::of(&caller).check(&whereabouts_of(&history)?)?;
        let entries = history.iter().map(history_entry).collect();
        Ok(Response::new(api::GetCaseHistoryResponse { entries }))
    }

    // Minors and follow-up: `protection.rs`.
    async fn record_age_assessment(
        &self,
        request: Request<api::RecordAgeAssessmentRequest>,
    ) -> Result<Response<api::RecordAgeAssessmentResponse>, Status> {
        self.age_assessed(request).await
    }

    async fn appoint_guardian(
        &self,
        request: Request<api::AppointGuardianRequest>,
    ) -> Result<Response<api::AppointGuardianResponse>, Status> {
        self.guardian_appointed(request).await
    }

    async fn schedule_follow_up(
        &self,
        request: Request<api::ScheduleFollowUpRequest>,
    ) -> Result<Response<api::ScheduleFollowUpResponse>, Status> {
        self.follow_up_scheduled(request).await
    }

    async fn record_follow_up(
        &self,
        request: Request<api::RecordFollowUpRequest>,
    ) -> Result<Response<api::RecordFollowUpResponse>, Status> {
        self.follow_up_recorded(request).await
    }
}

/// The case's `CaseOpened`, as recorded.
fn opened_event(history: &[RecordedCommit]) -> Option<api::CaseOpened> {
    history
        .iter()
        .flat_map(|c| c.commit.events.iter())
        .find_map(|e| match WireEvent::decode(e) {
            Ok(WireEvent::CaseOpened(opened)) => Some(opened),
            _ => None,
        })
}

/// Opens the identity and special-category details sealed in `CaseOpened`.
fn open_identity(
    key: &person_crypto::DataKey,
    case_id: &CaseId,
    opened: &api::CaseOpened,
) -> Result<
    (
        Option<contracts::person::v1::PersonalData>,
        Option<contracts::person::v1::SpecialCategoryDetails>,
    ),
    ServiceError,
> {
    use api::case_opened::{Identity, SpecialCategory};
    let personal_data = match &opened.identity {
        Some(Identity::EncryptedPersonalData(sealed)) => Some(person_keys::open(
            key,
            case_id.as_str(),
            codec::IDENTITY,
            sealed,
        )?),
        Some(Identity::PersonalData(clear)) => Some(clear.clone()),
        None => None,
    };
    let special_category_details =
        match &opened.special_category {
            Some(SpecialCategory::EncryptedSpecialCategoryDetails(sealed)) => Some(
                person_keys::open(key, case_id.as_str(), codec::SPECIAL_CATEGORY, sealed)?,
            ),
            Some(SpecialCategory::SpecialCategoryDetails(clear)) => Some(clear.clone()),
            None => None,
        };
    Ok((personal_data, special_category_details))
}

/// One commit of a case's history as analysts see it: types, times, organisations.
fn history_entry(commit: &RecordedCommit) -> api::HistoryEntry {
    api::HistoryEntry {
        log_sequence: commit.sequence,
        producer: commit
            .commit
            .aggregate
            .as_ref()
            .map(|a| a.producer.clone())
            .unwrap_or_default(),
        event_types: commit
            .commit
            .events
            .iter()
            .map(|e| e.event_type.clone())
            .collect(),
        occurred_at: commit.commit.occurred_at,
        recorded_at: Some(timestamp(commit.recorded_at)),
        organisation_id: commit
            .commit
            .actor
            .as_ref()
            .map(|a| a.organisation_id.clone())
            .unwrap_or_default(),
    }
}
