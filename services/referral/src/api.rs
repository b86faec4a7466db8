//! `approdo.referral.v1.ReferralService`: the directory (administrators), the
//! consent ledger and the referral lifecycle (decided on the case's referral
//! history, one commit per command), and the queries and inbox.

use std::pin::Pin;
use std::sync::Arc;

use case_log_jetstream::{
    AggregateAddress, CaseLog, ExecuteError, Executed, HistoryBound, HistoryScope, NewEvent,
    PendingCommit, Producer, RecordedCommit, RootKind, TokenId,
};
use case_referral::pathway_rules::PathwayRules;
use case_referral::{
    Actor, Command, ConsentId, Context, DeadlinePolicy, ReferralError, ReferralId, State, decide,
};
use contracts::referral::v1 as api;
use projection_sled::ProjectionHandle;
use prost::Message;
use service_runtime::{
    Caller, CallerExtractor, Clock, FieldViolation, Jurisdiction, OrganisationType,
    PersonKeyReader, ServiceError, Violations,
};
use tokio_stream::Stream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::case_facts::CaseFacts;
use crate::codec::{self, CaseKey, DecodeError, WireEvent};
use crate::{projection, requests};

#[derive(Clone)]
pub struct ReferralApi {
    pub(crate) log: CaseLog,
    /// Person keys, read only: the screening service keeps them.
    pub(crate) keys: Arc<PersonKeyReader>,
    pub(crate) projection: ProjectionHandle,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) callers: CallerExtractor,
    pub(crate) read_patience: std::time::Duration,
    pub(crate) deadlines: DeadlinePolicy,
    /// The built-in rules (version 1), in force until rules are published.
    pub(crate) default_rules: PathwayRules,
    pub(crate) shutdown: CancellationToken,
}

enum CommandError {
    Domain(ReferralError),
    Corrupt(DecodeError),
    Erased,
}

fn token(raw: &str) -> Result<TokenId, ServiceError> {
    TokenId::parse(raw).map_err(|_| ServiceError::Internal)
}

pub fn case_address(case_id: &str) -> Result<AggregateAddress, ServiceError> {
    Ok(AggregateAddress::new(
        RootKind::Case,
        token(case_id)?,
        Producer::Referral,
    ))
}

fn fold(history: &[RecordedCommit], key: CaseKey<'_>) -> Result<State, DecodeError> {
    let mut state = State::default();
    for commit in history {
        for event in &commit.commit.events {
            if let Some(event) = codec::decode(event, key)? {
                state = state.evolve(&event);
            }
        }
    }
    Ok(state)
}

fn domain_error(error: ReferralError) -> ServiceError {
    match error {
        ReferralError::Invalid { field, reason } => {
            ServiceError::InvalidArgument(vec![FieldViolation::new(field, reason)])
        }
        ReferralError::ReferralNotFound => ServiceError::NotFound("referral"),
        ReferralError::ConsentNotFound => ServiceError::NotFound("consent"),
        ReferralError::NotTheReceiver | ReferralError::NotTheReferrer => {
            ServiceError::PermissionDenied(error.to_string())
        }
        other => ServiceError::FailedPrecondition(other.to_string()),
    }
}

/// Ids of things a request creates are derived from the caller's organisation
/// and request id, so that a retry addresses the same thing.
pub fn derived_id(kind: &str, organisation_id: &str, request_id: &str) -> String {
    const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6a1f_57c4_8e0d_4d4b_9a57_0f3e_2c1b_a002);
    uuid::Uuid::new_v5(
        &NAMESPACE,
        format!("{kind}/{organisation_id}/{request_id}").as_bytes(),
    )
    .to_string()
}

fn parse_or_internal<T, E>(parsed: Result<T, E>) -> Result<T, ServiceError> {
    parsed.map_err(|_| ServiceError::Internal)
}

impl ReferralApi {
    /// The case as the screening service recorded it, read from the log itself.
    async fn case_facts(&self, case_id: &str) -> Result<CaseFacts, ServiceError> {
        let address = AggregateAddress::new(RootKind::Case, token(case_id)?, Producer::Screening);
        let history = self
            .log
            .history(&HistoryScope::Aggregate(address), HistoryBound::All)
            .await?;
        CaseFacts::from_history(&history).ok_or(ServiceError::NotFound("case"))
    }

    /// Runs one command on a case's referral record (also used by the deadline
    /// watcher). The case must be within `jurisdiction`.
    pub(crate) async fn execute(
        &self,
        actor: Actor,
        recorded_actor: case_log_jetstream::Actor,
        jurisdiction: &Jurisdiction,
        request_id: &str,
        case_id: &str,
        command: Command,
    ) -> Result<Executed, ServiceError> {
        let facts = self.case_facts(case_id).await?;
        jurisdiction.check(&facts.whereabouts())?;
        // Only drafting (to seal) and sending (to check the consent covers the
        // dataset) need the datasets: other commands spare the key store a read.
        let data_key = match command {
            Command::CreateReferral { .. } | Command::Send { .. } => {
                self.keys.existing(&self.log, case_id).await?
            }
            _ => None,
        };
        let key = CaseKey {
            case_id,
            key: data_key.as_ref(),
        };
        let context = Context {
            now: self.clock.now(),
            actor,
            case_concerns_a_minor: facts.concerns_a_minor(),
            deadlines: self.deadlines.clone(),
        };
        let executed = self
            .log
            .execute(&case_address(case_id)?, request_id, |history| {
                let state = fold(history, key).map_err(CommandError::Corrupt)?;
                let events =
                    decide(&state, command.clone(), &context).map_err(CommandError::Domain)?;
                Ok(PendingCommit {
                    request_id: request_id.to_owned(),
                    actor: recorded_actor.clone(),
                    occurred_at: context.now,
                    correlation_id: request_id.to_owned(),
                    causation_id: String::new(),
                    events: events
                        .iter()
                        .map(|e| codec::encode(e, &facts.province, key))
                        .collect::<Result<_, _>>()
                        .map_err(|_| CommandError::Erased)?,
                    reply: Vec::new(),
                })
            })
            .await;
        match executed {
            Ok(executed) => Ok(executed),
            Err(ExecuteError::Rejected(CommandError::Domain(error))) => Err(domain_error(error)),
            Err(ExecuteError::Rejected(CommandError::Erased)) => {
                Err(domain_error(ReferralError::PersonalDataErased))
            }
            Err(ExecuteError::Rejected(CommandError::Corrupt(error))) => {
                tracing::error!(event_type = %error.event_type, reason = %error.reason, "referral history cannot be decoded");
                Err(ServiceError::Internal)
            }
            Err(ExecuteError::Log(error)) => Err(error.into()),
        }
    }

    async fn caller_command(
        &self,
        caller: &Caller,
        request_id: &str,
        case_id: &str,
        command: Command,
    ) -> Result<Executed, ServiceError> {
        let org = parse_or_internal(case_referral::OrganisationId::parse(
            &caller.organisation_id,
        ))
        .map_err(|_| {
            ServiceError::PermissionDenied(
                "the caller's organisation id is not a valid organisation id".to_owned(),
            )
        })?;
        self.execute(
            Actor::Organisation(org),
            caller.actor(),
            &Jurisdiction::of(caller),
            request_id,
            case_id,
            command,
        )
        .await
    }

    async fn wait_for(&self, sequence: u64) -> Result<(), ServiceError> {
        if sequence > 0 {
            self.projection
                .wait_for(sequence, self.read_patience)
                .await?;
        }
        Ok(())
    }

    /// Validates a profile and records it (registration or update). Only
    /// administrators reach this: the authorisation table says so.
    async fn profile_command(
        &self,
        caller: &Caller,
        raw_request_id: &str,
        raw_profile: Option<&api::OrganisationProfile>,
        register: bool,
    ) -> Result<(String, u64), ServiceError> {
        let mut v = Violations::default();
        let request_id = requests::request_id(&mut v, raw_request_id);
        let profile = requests::profile(&mut v, raw_profile);
        v.finish()?;
        let profile = profile.ok_or(ServiceError::Internal)?;
        let organisation_id = profile.organisation_id.clone();
        let log_sequence = self
            .record_profile(caller, &request_id, profile, register)
            .await?;
        Ok((organisation_id, log_sequence))
    }

    async fn record_profile(
        &self,
        caller: &Caller,
        request_id: &str,
        profile: api::OrganisationProfile,
        register: bool,
    ) -> Result<u64, ServiceError> {
        let address = AggregateAddress::new(
            RootKind::Organisation,
            token(&profile.organisation_id)?,
            Producer::Referral,
        );
        let now = self.clock.now();
        let executed = self
            .log
            .execute(&address, request_id, |history| {
                match (register, history.is_empty()) {
                    (true, false) => {
                        return Err(ServiceError::FailedPrecondition(
                            "organisation already registered".to_owned(),
                        ));
                    }
                    (false, true) => return Err(ServiceError::NotFound("organisation")),
                    _ => {}
                }
                let event = if register {
                    NewEvent::encode(
                        "approdo.referral.v1.OrganisationRegistered",
                        1,
                        &api::OrganisationRegistered {
                            profile: Some(profile.clone()),
                        },
                    )
                } else {
                    NewEvent::encode(
                        "approdo.referral.v1.OrganisationUpdated",
                        1,
                        &api::OrganisationUpdated {
                            profile: Some(profile.clone()),
                        },
                    )
                };
                Ok(PendingCommit {
                    request_id: request_id.to_owned(),
                    actor: caller.actor(),
                    occurred_at: now,
                    correlation_id: request_id.to_owned(),
                    causation_id: String::new(),
                    events: vec![event],
                    reply: Vec::new(),
                })
            })
            .await;
        match executed {
            Ok(executed) => Ok(executed.sequence),
            Err(ExecuteError::Rejected(error)) => Err(error),
            Err(ExecuteError::Log(error)) => Err(error.into()),
        }
    }

    /// The rules in force: the last published, or the built-in ones.
    fn rules(&self) -> Result<PathwayRules, ServiceError> {
        match projection::published_rules(self.projection.store())
            .map_err(|_| ServiceError::Internal)?
        {
            Some(published) => {
                codec::rules_from_wire(&published).map_err(|_| ServiceError::Internal)
            }
            None => Ok(self.default_rules.clone()),
        }
    }

    /// Opens the minimum datasets of `views` for `caller`. The read is
    /// recorded first, one event per case, whoever reads (no record, no
    /// read). A dataset whose consent was withdrawn stays empty; one whose
    /// person was erased stays empty and says so.
    async fn reveal_datasets(
        &self,
        caller: &Caller,
        views: &mut [api::ReferralView],
    ) -> Result<(), ServiceError> {
        let store = self.projection.store();
        let mut keys: std::collections::BTreeMap<String, Option<person_crypto::DataKey>> =
            std::collections::BTreeMap::new();
        let mut sealed = Vec::new();
        for (index, view) in views.iter().enumerate() {
            let Some(dataset) = projection::sealed_dataset(store, &view.case_id, &view.referral_id)
                .map_err(|_| ServiceError::Internal)?
            else {
                continue;
            };
            if !keys.contains_key(&view.case_id) {
                let key = self.keys.existing(&self.log, &view.case_id).await?;
                keys.insert(view.case_id.clone(), key);
            }
            sealed.push((index, dataset));
        }
        let readable = |index: usize| keys.get(&views[index].case_id).is_some_and(Option::is_some);
        let mut by_case: std::collections::BTreeMap<&str, Vec<ReferralId>> =
            std::collections::BTreeMap::new();
        // Datasets recorded before sealing are in the projection in clear.
        let clear = views
            .iter()
            .enumerate()
            .filter(|(_, v)| v.dataset.is_some());
        let opened = sealed.iter().filter(|(index, _)| readable(*index));
        for index in clear.map(|(i, _)| i).chain(opened.map(|(i, _)| *i)) {
            let view = &views[index];
            by_case
                .entry(view.case_id.as_str())
                .or_default()
                .push(parse_or_internal(ReferralId::parse(&view.referral_id))?);
        }
        for (case_id, referral_ids) in by_case {
            let request_id = format!("dataset-read.{}", uuid::Uuid::now_v7());
            self.caller_command(
                caller,
                &request_id,
                case_id,
                Command::RecordDatasetRead { referral_ids },
            )
            .await?;
        }
        for (index, dataset) in sealed {
            let view = &mut views[index];
            match keys.get(&view.case_id).and_then(Option::as_ref) {
                Some(key) => {
                    view.dataset = Some(service_runtime::person_keys::open(
                        key,
                        &view.case_id,
                        &codec::dataset_kind(&view.referral_id),
                        &dataset,
                    )?);
                }
                None => view.personal_data_erased = true,
            }
        }
        Ok(())
    }

    /// What a caller may see of a case's referrals: a receiving service only
    /// what is addressed to it and no consents; others everything.
    fn visible(
        caller: &Caller,
        mut case: api::GetCaseReferralsResponse,
    ) -> api::GetCaseReferralsResponse {
        if caller.organisation_type == OrganisationType::ReceivingService {
            case.referrals.retain(|r| {
                r.receiver_organisation_id == caller.organisation_id && r.state != "draft"
            });
            case.consents.clear();
        }
        case
    }
}

fn state_of(commit: &contracts::log::v1::Commit, referral_id: &str) -> String {
    let mut state = String::new();
    for event in &commit.events {
        if let Ok(wire) = codec::decode_wire(event) {
            let next = match wire {
                WireEvent::ReferralDrafted(e) if e.referral_id == referral_id => "draft",
                WireEvent::ReferralSent(e) if e.referral_id == referral_id => "sent",
                WireEvent::ReferralReceived(e) if e.referral_id == referral_id => "received",
                WireEvent::ReferralAccepted(e) if e.referral_id == referral_id => "accepted",
                WireEvent::ReferralDeclined(e) if e.referral_id == referral_id => {
                    if e.redirect_to_organisation_id.is_empty() {
                        "declined"
                    } else {
                        "redirected"
                    }
                }
                WireEvent::TakenIntoCare(e) if e.referral_id == referral_id => "in_care",
                WireEvent::PutOnHold(e) if e.referral_id == referral_id => "on_hold",
                WireEvent::Resumed(e) if e.referral_id == referral_id => "in_care",
                WireEvent::ReferralCompleted(e) if e.referral_id == referral_id => "completed",
                WireEvent::ReferralCancelled(e) if e.referral_id == referral_id => "cancelled",
                WireEvent::ReferralRevoked(e) if e.referral_id == referral_id => "revoked",
                WireEvent::ReferralExpired(e) if e.referral_id == referral_id => "expired",
                WireEvent::ReferralFailed(e) if e.referral_id == referral_id => "failed",
                _ => continue,
            };
            state = next.to_owned();
        }
    }
    state
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<api::WatchInboxResponse, Status>> + Send>>;

#[tonic::async_trait]
impl api::referral_service_server::ReferralService for ReferralApi {
    async fn register_organisation(
        &self,
        request: Request<api::RegisterOrganisationRequest>,
    ) -> Result<Response<api::RegisterOrganisationResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let r = request.into_inner();
        let (organisation_id, log_sequence) = self
            .profile_command(&caller, &r.request_id, r.profile.as_ref(), true)
            .await?;
        Ok(Response::new(api::RegisterOrganisationResponse {
            organisation_id,
            log_sequence,
        }))
    }

    async fn update_organisation(
        &self,
        request: Request<api::UpdateOrganisationRequest>,
    ) -> Result<Response<api::UpdateOrganisationResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let r = request.into_inner();
        let (organisation_id, log_sequence) = self
            .profile_command(&caller, &r.request_id, r.profile.as_ref(), false)
            .await?;
        Ok(Response::new(api::UpdateOrganisationResponse {
            organisation_id,
            log_sequence,
        }))
    }

    async fn list_organisations(
        &self,
        request: Request<api::ListOrganisationsRequest>,
    ) -> Result<Response<api::ListOrganisationsResponse>, Status> {
        self.callers.caller(&request)?;
        let r = request.into_inner();
        self.wait_for(r.min_log_sequence).await?;
        let organisations = projection::organisations(self.projection.store())
            .map_err(|_| ServiceError::Internal)?
            .into_iter()
            .filter(|o| r.service_type.is_empty() || o.service_types.contains(&r.service_type))
            .filter(|o| r.province.is_empty() || o.provinces.contains(&r.province))
            .filter(|o| r.language.is_empty() || o.languages.contains(&r.language))
            .filter(|o| !r.active_only || o.active)
            .collect();
        Ok(Response::new(api::ListOrganisationsResponse {
            organisations,
        }))
    }

    async fn publish_pathway_rules(
        &self,
        request: Request<api::PublishPathwayRulesRequest>,
    ) -> Result<Response<api::PublishPathwayRulesResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::default();
        let request_id = requests::request_id(&mut v, &r.request_id);
        let mut rules = Vec::new();
        for (i, rule) in r.rules.iter().enumerate() {
            let category = v.check(
                &format!("rules[{i}].category"),
                pathway::Category::from_code(&rule.category),
            );
            let services: Vec<_> = rule
                .service_types
                .iter()
                .enumerate()
                .filter_map(|(j, t)| {
                    v.check(
                        &format!("rules[{i}].service_types[{j}]"),
                        case_referral::ServiceType::from_code(t),
                    )
                })
                .collect();
            if let Some(category) = category {
                rules.push((category, services));
            }
        }
        v.check("rules", PathwayRules::new(0, rules.clone()));
        v.finish()?;
        let address = AggregateAddress::new(
            RootKind::Configuration,
            token("pathway-rules")?,
            Producer::Referral,
        );
        let now = self.clock.now();
        let executed: Result<Executed, ExecuteError<ServiceError>> = self
            .log
            .execute(&address, &request_id, |history| {
                // The built-in rules are version 1; each publication is the next.
                let version = history.len() as u32 + 2;
                let published = PathwayRules::new(version, rules.clone())
                    .map_err(|_| ServiceError::Internal)?;
                Ok(PendingCommit {
                    request_id: request_id.clone(),
                    actor: caller.actor(),
                    occurred_at: now,
                    correlation_id: request_id.clone(),
                    causation_id: String::new(),
                    events: vec![NewEvent::encode(
                        "approdo.referral.v1.PathwayRulesPublished",
                        1,
                        &api::PathwayRulesPublished {
                            version,
                            rules: codec::rules_to_wire(&published),
                        },
                    )],
                    reply: Vec::new(),
                })
            })
            .await;
        let executed = match executed {
            Ok(executed) => executed,
            Err(ExecuteError::Rejected(error)) => return Err(error.into()),
            Err(ExecuteError::Log(error)) => return Err(ServiceError::from(error).into()),
        };
        let version = executed
            .commit
            .events
            .first()
            .and_then(|e| api::PathwayRulesPublished::decode(e.payload.as_slice()).ok())
            .map_or(0, |p| p.version);
        Ok(Response::new(api::PublishPathwayRulesResponse {
            version,
            log_sequence: executed.sequence,
        }))
    }

    async fn get_pathway_rules(
        &self,
        request: Request<api::GetPathwayRulesRequest>,
    ) -> Result<Response<api::GetPathwayRulesResponse>, Status> {
        self.callers.caller(&request)?;
        self.wait_for(request.get_ref().min_log_sequence).await?;
        let rules = self.rules()?;
        Ok(Response::new(api::GetPathwayRulesResponse {
            version: rules.version,
            rules: codec::rules_to_wire(&rules),
        }))
    }

    async fn suggest_receivers(
        &self,
        request: Request<api::SuggestReceiversRequest>,
    ) -> Result<Response<api::SuggestReceiversResponse>, Status> {
        self.callers.caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::default();
        let case_id = requests::case_id(&mut v, &r.case_id);
        let only = if r.service_type.is_empty() {
            None
        } else {
            v.check(
                "service_type",
                case_referral::ServiceType::from_code(&r.service_type),
            )
        };
        v.finish()?;
        let case_id = case_id.ok_or(ServiceError::Internal)?;
        self.wait_for(r.min_log_sequence).await?;
        let facts = self.case_facts(&case_id).await?;
        let province = if r.province.is_empty() {
            facts.province.clone()
        } else {
            r.province.clone()
        };
        let categories = facts.live_categories();
        let rules = self.rules()?;
        let organisations = projection::organisations(self.projection.store())
            .map_err(|_| ServiceError::Internal)?;
        let mut suggestions = Vec::new();
        for service_type in rules.service_types_for(&categories) {
            if only.is_some_and(|t| t != service_type) {
                continue;
            }
            let because_of: Vec<String> = categories
                .iter()
                .filter(|c| rules.service_types_for(&[**c]).contains(&service_type))
                .map(|c| c.code().to_owned())
                .collect();
            let mut matching: Vec<&api::OrganisationProfile> = organisations
                .iter()
                .filter(|o| o.active && o.availability != "full")
                .filter(|o| o.service_types.iter().any(|t| t == service_type.code()))
                .filter(|o| o.provinces.contains(&province))
                .collect();
            matching.sort_by_key(|o| {
                (
                    !o.languages.contains(&r.language),
                    o.availability != "available",
                    o.name.clone(),
                )
            });
            for organisation in matching {
                suggestions.push(api::Suggestion {
                    organisation: Some(organisation.clone()),
                    service_type: service_type.code().to_owned(),
                    because_of: because_of.clone(),
                    speaks_language: !r.language.is_empty()
                        && organisation.languages.contains(&r.language),
                });
            }
        }
        Ok(Response::new(api::SuggestReceiversResponse {
            suggestions,
            rules_version: rules.version,
        }))
    }

    async fn give_consent(
        &self,
        request: Request<api::GiveConsentRequest>,
    ) -> Result<Response<api::GiveConsentResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let organisation = caller.organisation_id.clone();
        let (request_id, case_id, command) = requests::give_consent(request.get_ref(), |rid| {
            ConsentId::parse(&derived_id("consent", &organisation, rid))
                .unwrap_or_else(|_| unreachable_id())
        })?;
        let Command::GiveConsent { consent_id, .. } = &command else {
            return Err(ServiceError::Internal.into());
        };
        let consent_id = consent_id.to_string();
        let executed = self
            .caller_command(&caller, &request_id, &case_id, command)
            .await?;
        Ok(Response::new(api::GiveConsentResponse {
            consent_id,
            log_sequence: executed.sequence,
        }))
    }

    async fn withdraw_consent(
        &self,
        request: Request<api::WithdrawConsentRequest>,
    ) -> Result<Response<api::WithdrawConsentResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let (request_id, case_id, command) = requests::withdraw_consent(request.get_ref())?;
        let executed = self
            .caller_command(&caller, &request_id, &case_id, command)
            .await?;
        let revoked_referral_ids = executed
            .commit
            .events
            .iter()
            .filter(|e| e.event_type == "approdo.referral.v1.ReferralRevoked")
            .filter_map(|e| api::ReferralRevoked::decode(e.payload.as_slice()).ok())
            .map(|e| e.referral_id)
            .collect();
        Ok(Response::new(api::WithdrawConsentResponse {
            revoked_referral_ids,
            log_sequence: executed.sequence,
        }))
    }

    async fn create_referral(
        &self,
        request: Request<api::CreateReferralRequest>,
    ) -> Result<Response<api::CreateReferralResponse>, Status> {
        // Who may refer is the authorisation table's (reception operators, prefectures, police).
        let caller = self.callers.caller(&request)?;
        let organisation = caller.organisation_id.clone();
        let (request_id, case_id, command) = requests::create_referral(request.get_ref(), |rid| {
            ReferralId::parse(&derived_id("referral", &organisation, rid))
                .unwrap_or_else(|_| unreachable_id())
        })?;
        let Command::CreateReferral {
            referral_id,
            receiver,
            ..
        } = &command
        else {
            return Err(ServiceError::Internal.into());
        };
        let referral_id = referral_id.to_string();
        if projection::organisation(self.projection.store(), receiver.as_str())
            .map_err(|_| ServiceError::Internal)?
            .is_none_or(|o| !o.active)
        {
            return Err(ServiceError::InvalidArgument(vec![FieldViolation::new(
                "receiver_organisation_id",
                "not an active organisation of the directory",
            )])
            .into());
        }
        let executed = self
            .caller_command(&caller, &request_id, &case_id, command)
            .await?;
        Ok(Response::new(api::CreateReferralResponse {
            state: state_of(&executed.commit, &referral_id),
            referral_id,
            log_sequence: executed.sequence,
        }))
    }

    async fn update_referral(
        &self,
        request: Request<api::UpdateReferralRequest>,
    ) -> Result<Response<api::UpdateReferralResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let referral_id = request.get_ref().referral_id.clone();
        let (request_id, case_id, command) = requests::update_referral(request.get_ref())?;
        let executed = self
            .caller_command(&caller, &request_id, &case_id, command)
            .await?;
        Ok(Response::new(api::UpdateReferralResponse {
            state: state_of(&executed.commit, &referral_id),
            referral_id,
            log_sequence: executed.sequence,
        }))
    }

    async fn get_case_referrals(
        &self,
        request: Request<api::GetCaseReferralsRequest>,
    ) -> Result<Response<api::GetCaseReferralsResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::default();
        let case_id = requests::case_id(&mut v, &r.case_id);
        v.finish()?;
        let case_id = case_id.ok_or(ServiceError::Internal)?;
        Jurisdiction::of(&caller).check(&self.case_facts(&case_id).await?.whereabouts())?;
        self.wait_for(r.min_log_sequence).await?;
        let case = projection::case_referrals(self.projection.store(), &case_id)
            .map_err(|_| ServiceError::Internal)?
            .unwrap_or_default();
        let mut case = Self::visible(&caller, case);
        self.reveal_datasets(&caller, &mut case.referrals).await?;
        Ok(Response::new(case))
    }

    async fn list_referrals(
        &self,
        request: Request<api::ListReferralsRequest>,
    ) -> Result<Response<api::ListReferralsResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::default();
        if !r.state.is_empty() {
            v.check("state", case_referral::ReferralState::from_code(&r.state));
        }
        if !r.service_type.is_empty() {
            v.check(
                "service_type",
                case_referral::ServiceType::from_code(&r.service_type),
            );
        }
        // Prefectures and police see their own province, reception operators
        // the cases in their own facility.
        let jurisdiction = Jurisdiction::of(&caller);
        if let Jurisdiction::Province(own) = &jurisdiction
            && !r.province.is_empty()
            && r.province != *own
        {
            return Err(ServiceError::PermissionDenied(
                "the caller sees the referrals of its own province only".to_owned(),
            )
            .into());
        }
        v.finish()?;
        self.wait_for(r.min_log_sequence).await?;
        let store = self.projection.store();
        let mut whereabouts: std::collections::BTreeMap<
            String,
            Option<service_runtime::Whereabouts>,
        > = std::collections::BTreeMap::new();
        let mut within = |case_id: &str| -> bool {
            if jurisdiction == Jurisdiction::Unplaced {
                return true;
            }
            whereabouts
                .entry(case_id.to_owned())
                .or_insert_with(|| {
                    projection::case_facts(store, case_id)
                        .ok()
                        .flatten()
                        .map(|f| f.whereabouts())
                })
                .as_ref()
                .is_some_and(|at| jurisdiction.covers(at))
        };
        let mut referrals: Vec<api::ReferralView> =
            projection::all_referrals(self.projection.store())
                .map_err(|_| ServiceError::Internal)?
                .into_iter()
                .filter(|x| {
                    caller.organisation_type != OrganisationType::ReceivingService
                        || (x.receiver_organisation_id == caller.organisation_id
                            && x.state != "draft")
                })
                .filter(|x| r.province.is_empty() || x.province == r.province)
                .filter(|x| within(&x.case_id))
                .filter(|x| r.service_type.is_empty() || x.service_type == r.service_type)
                .filter(|x| r.state.is_empty() || x.state == r.state)
                .filter(|x| {
                    !r.open_only
                        || case_referral::ReferralState::from_code(&x.state)
                            .is_ok_and(|s| !s.is_terminal())
                })
                .filter(|x| !r.overdue_only || !x.missed_deadlines.is_empty())
                .collect();
        self.reveal_datasets(&caller, &mut referrals).await?;
        Ok(Response::new(api::ListReferralsResponse { referrals }))
    }

    async fn list_inbox(
        &self,
        request: Request<api::ListInboxRequest>,
    ) -> Result<Response<api::ListInboxResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let r = request.into_inner();
        self.wait_for(r.min_log_sequence).await?;
        let store = self.projection.store();
        let cursor = projection::inbox_head(store, &caller.organisation_id)
            .map_err(|_| ServiceError::Internal)?;
        let mut referrals: Vec<api::ReferralView> = projection::all_referrals(store)
            .map_err(|_| ServiceError::Internal)?
            .into_iter()
            .filter(|x| x.receiver_organisation_id == caller.organisation_id && x.state != "draft")
            .filter(|x| r.state.is_empty() || x.state == r.state)
            .collect();
        self.reveal_datasets(&caller, &mut referrals).await?;
        Ok(Response::new(api::ListInboxResponse { referrals, cursor }))
    }

    type WatchInboxStream = WatchStream;

    async fn watch_inbox(
        &self,
        request: Request<api::WatchInboxRequest>,
    ) -> Result<Response<Self::WatchInboxStream>, Status> {
        let caller = self.callers.caller(&request)?;
        let organisation = caller.organisation_id.clone();
        let mut cursor = request.into_inner().after_cursor;
        let projection = self.projection.clone();
        let shutdown = self.shutdown.clone();
        let api = self.clone();
        let (sender, receiver) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            let mut applied = projection.watch();
            loop {
                let changes =
                    match projection::inbox_after(projection.store(), &organisation, cursor) {
                        Ok(changes) => changes,
                        Err(_) => {
                            let _ = sender.send(Err(Status::internal("internal error"))).await;
                            return;
                        }
                    };
                // No record, no read: the datasets delivered are in the access log first.
                let (cursors, mut views): (Vec<u64>, Vec<api::ReferralView>) =
                    changes.into_iter().unzip();
                if let Err(error) = api.reveal_datasets(&caller, &mut views).await {
                    let _ = sender.send(Err(Status::from(error))).await;
                    return;
                }
                for (at, referral) in cursors.into_iter().zip(views) {
                    cursor = at;
                    if sender
                        .send(Ok(api::WatchInboxResponse {
                            cursor: at,
                            referral: Some(referral),
                        }))
                        .await
                        .is_err()
                    {
                        return; // the client went away
                    }
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = sender.closed() => return,
                    changed = applied.changed() => if changed.is_err() { return },
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        )))
    }
}

fn unreachable_id() -> ! {
    panic!("a hyphenated lowercase UUID is a valid id")
}
