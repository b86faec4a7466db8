//! `approdo.referral.v1.ReferralService`: the directory (administrators), the
//! pathway rules and suggestions, the consent ledger, the referral lifecycle
//! and each receiver's inbox. Every command goes through the runtime's kernel;
//! each concern has its own file and the service trait only delegates.
//!
//! `directory` (organisations), `rules` (pathway rules, suggestions),
//! `consents`, `referrals` (lifecycle and queries), `inbox` (list and watch),
//! `datasets` (opening minimum datasets, recorded first), `watches` (open
//! watches per organisation; a watch ends with the caller's right to it).

mod consents;
mod datasets;
mod directory;
mod inbox;
#[cfg(test)]
mod list_tests;
mod referrals;
mod rules;
mod vocabularies;
mod watches;

use std::sync::Arc;

use case_log_jetstream::{Executed, Producer, RootKind};
use case_referral::pathway_rules::PathwayRules;
use case_referral::{
    Actor, Command, Context, DeadlinePolicy, MinorsPolicy, OrganisationId, OrganisationProfile,
};
use contracts::referral::v1 as api;
use projection_sled::ProjectionHandle;
use service_runtime::{
    Authority, Caller, CallerExtractor, Kernel, PersonKeyReader, ServiceError, Target,
};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::aggregate::{CaseContext, CaseReferrals};
use crate::case_facts::{CaseFacts, ReferralFacts as _};
use crate::codec::{self, CaseKey};
use crate::projection;

pub use inbox::WatchStream;
pub use service_runtime::watches::{WatchLimit, WatchSlot};
pub use vocabularies::ReferralVocabularies;
pub use watches::limit as watch_limit;

#[derive(Clone)]
pub struct ReferralApi {
    pub(crate) kernel: Kernel,
    /// Person keys, read only: the screening service keeps them.
    pub(crate) keys: Arc<PersonKeyReader>,
    pub(crate) projection: ProjectionHandle,
    pub(crate) callers: CallerExtractor,
    pub(crate) reads: service_runtime::reads::Reads,
    pub(crate) deadlines: DeadlinePolicy,
    /// Who may consent for a minor, by age band.
    pub(crate) minors: MinorsPolicy,
    /// How long a receiver may still open a dataset after completing the referral.
    pub(crate) dataset_grace: time::Duration,
    /// The built-in rules (version 1), in force until rules are published.
    pub(crate) default_rules: PathwayRules,
    pub(crate) shutdown: CancellationToken,
    /// Open inbox watches per organisation, and the most each may have.
    pub(crate) watches: WatchLimit,
    /// The leeway tokens are verified with: a watch ends when its token
    /// would no longer be accepted.
    pub(crate) token_leeway_secs: i64,
    /// How often an open watch checks, at least, that its caller may still watch.
    pub(crate) watch_recheck: std::time::Duration,
}

impl ReferralApi {
    /// The case as the screening service recorded it, read from the log itself.
    pub(crate) async fn case_facts(&self, case_id: &str) -> Result<CaseFacts, ServiceError> {
        let history = self
            .kernel
            .history_of(RootKind::Case, case_id, Producer::Screening)
            .await?;
        CaseFacts::from_history(&history).ok_or(ServiceError::NotFound("case"))
    }

    /// The codec and context of a command on a case's referral record:
    /// the case's facts from the log, the directory's entry of the receiver
    /// the command refers or sends to, the pathway rules' version in force.
    /// Only drafting (to seal) and sending (to check the consent covers the
    /// dataset) need the person's datasets key: other commands spare the key store a read.
    pub(crate) async fn decision_inputs(
        &self,
        case_id: &str,
        actor: Actor,
        command: Option<&Command>,
    ) -> Result<(CaseKey, CaseContext), ServiceError> {
        let facts = self.case_facts(case_id).await?;
        let with_key = matches!(
            command,
            Some(Command::CreateReferral { .. } | Command::Send { .. })
        );
        let key = if with_key {
            self.keys.dataset_key(self.kernel.log(), case_id).await?
        } else {
            None
        };
        let receiver = match command {
            Some(Command::CreateReferral { receiver, .. }) => self.directory_entry(receiver)?,
            Some(Command::Send { referral_id }) => {
                // The draft's receiver, as the log holds it (datasets unopened).
                let unopened = CaseKey {
                    case_id: case_id.to_owned(),
                    key: None,
                };
                let state = self
                    .kernel
                    .state::<CaseReferrals>(case_id, &unopened)
                    .await?;
                match state.referrals.get(referral_id) {
                    Some(referral) => self.directory_entry(&referral.receiver)?,
                    None => None,
                }
            }
            _ => None,
        };
        let context = CaseContext {
            domain: Context {
                now: self.kernel.now(),
                actor,
                case: facts.domain(),
                receiver,
                rules_version: self.rules()?.version,
                deadlines: self.deadlines.clone(),
                minors: self.minors.clone(),
            },
            facts,
        };
        let key = CaseKey {
            case_id: case_id.to_owned(),
            key,
        };
        Ok((key, context))
    }

    /// An organisation's entry in the directory as the projection holds it.
    fn directory_entry(
        &self,
        organisation: &OrganisationId,
    ) -> Result<Option<OrganisationProfile>, ServiceError> {
        projection::organisation(self.projection.store(), organisation.as_str())?
            .map(|profile| {
                codec::profile_from_wire(&profile).map_err(|reason| {
                    ServiceError::internal(format_args!("a directory row: {reason}"))
                })
            })
            .transpose()
    }

    /// Runs one command of a caller on a case's referral record.
    pub(crate) async fn caller_command(
        &self,
        caller: &Caller,
        request_id: &str,
        case_id: &str,
        command: Command,
    ) -> Result<Executed, ServiceError> {
        let organisation = OrganisationId::parse(&caller.organisation_id).map_err(|_| {
            ServiceError::PermissionDenied(
                "the caller's organisation id is not a valid organisation id".to_owned(),
            )
        })?;
        let (key, context) = self
            .decision_inputs(case_id, Actor::Organisation(organisation), Some(&command))
            .await?;
        let target = Target::<CaseReferrals> {
            id: case_id,
            codec: &key,
            context: &context,
        };
        self.kernel
            .execute(target, &Authority::of(caller), request_id, command)
            .await
    }

    pub(crate) async fn wait_for(&self, sequence: u64) -> Result<(), ServiceError> {
        self.reads.wait_for(sequence).await
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

/// Every RPC of the service, each handled in its concern's file.
#[tonic::async_trait]
impl api::referral_service_server::ReferralService for ReferralApi {
    async fn register_organisation(
        &self,
        request: Request<api::RegisterOrganisationRequest>,
    ) -> Result<Response<api::RegisterOrganisationResponse>, Status> {
        self.register_organisation_rpc(request).await
    }

    async fn update_organisation(
        &self,
        request: Request<api::UpdateOrganisationRequest>,
    ) -> Result<Response<api::UpdateOrganisationResponse>, Status> {
        self.update_organisation_rpc(request).await
    }

    async fn list_organisations(
        &self,
        request: Request<api::ListOrganisationsRequest>,
    ) -> Result<Response<api::ListOrganisationsResponse>, Status> {
        self.list_organisations_rpc(request).await
    }

    async fn publish_pathway_rules(
        &self,
        request: Request<api::PublishPathwayRulesRequest>,
    ) -> Result<Response<api::PublishPathwayRulesResponse>, Status> {
        self.publish_pathway_rules_rpc(request).await
    }

    async fn get_pathway_rules(
        &self,
        request: Request<api::GetPathwayRulesRequest>,
    ) -> Result<Response<api::GetPathwayRulesResponse>, Status> {
        self.get_pathway_rules_rpc(request).await
    }

    async fn publish_vocabularies(
        &self,
        request: Request<api::PublishVocabulariesRequest>,
    ) -> Result<Response<api::PublishVocabulariesResponse>, Status> {
        self.publish_vocabularies_rpc(request).await
    }

    async fn get_vocabularies(
        &self,
        request: Request<api::GetVocabulariesRequest>,
    ) -> Result<Response<api::GetVocabulariesResponse>, Status> {
        self.get_vocabularies_rpc(request).await
    }

    async fn suggest_receivers(
        &self,
        request: Request<api::SuggestReceiversRequest>,
    ) -> Result<Response<api::SuggestReceiversResponse>, Status> {
        self.suggest_receivers_rpc(request).await
    }

    async fn give_consent(
        &self,
        request: Request<api::GiveConsentRequest>,
    ) -> Result<Response<api::GiveConsentResponse>, Status> {
        self.give_consent_rpc(request).await
    }

    async fn withdraw_consent(
        &self,
        request: Request<api::WithdrawConsentRequest>,
    ) -> Result<Response<api::WithdrawConsentResponse>, Status> {
        self.withdraw_consent_rpc(request).await
    }

    async fn refuse_consent(
        &self,
        request: Request<api::RefuseConsentRequest>,
    ) -> Result<Response<api::RefuseConsentResponse>, Status> {
        self.refuse_consent_rpc(request).await
    }

    async fn create_referral(
        &self,
        request: Request<api::CreateReferralRequest>,
    ) -> Result<Response<api::CreateReferralResponse>, Status> {
        self.create_referral_rpc(request).await
    }

    async fn update_referral(
        &self,
        request: Request<api::UpdateReferralRequest>,
    ) -> Result<Response<api::UpdateReferralResponse>, Status> {
        self.update_referral_rpc(request).await
    }

    async fn get_case_referrals(
        &self,
        request: Request<api::GetCaseReferralsRequest>,
    ) -> Result<Response<api::GetCaseReferralsResponse>, Status> {
        self.get_case_referrals_rpc(request).await
    }

    async fn list_referrals(
        &self,
        request: Request<api::ListReferralsRequest>,
    ) -> Result<Response<api::ListReferralsResponse>, Status> {
        self.list_referrals_rpc(request).await
    }

    async fn list_inbox(
        &self,
        request: Request<api::ListInboxRequest>,
    ) -> Result<Response<api::ListInboxResponse>, Status> {
        self.list_inbox_rpc(request).await
    }

    type WatchInboxStream = WatchStream;

    async fn watch_inbox(
        &self,
        request: Request<api::WatchInboxRequest>,
    ) -> Result<Response<Self::WatchInboxStream>, Status> {
        self.watch_inbox_rpc(request).await
    }
}
