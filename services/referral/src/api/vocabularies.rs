//! The referral service's closed vocabularies (consent purposes,
//! communication needs, safety instructions): administrators publish the next
//! version; everyone reads the one in force; requests are checked against it.

use case_log_jetstream::Producer;
use contracts::referral::v1 as api;
use pathway::vocabularies::{Vocabularies, VocabularyKind};
use service_runtime::ServiceError;
use service_runtime::vocabularies::{self, KeepsVocabularies};
use tonic::{Request, Response, Status};

use super::ReferralApi;

/// The lists the referral service keeps.
pub struct ReferralVocabularies;

impl KeepsVocabularies for ReferralVocabularies {
    const PRODUCER: Producer = Producer::Referral;
    const KEPT: &'static [VocabularyKind] = &[
        VocabularyKind::ConsentPurpose,
        VocabularyKind::CommunicationNeed,
        VocabularyKind::SafetyInstruction,
    ];
}

impl ReferralApi {
    /// The closed vocabularies in force.
    pub(crate) fn vocabularies(&self) -> Result<Vocabularies, ServiceError> {
        vocabularies::in_force(self.projection.store())
    }

    pub(super) async fn publish_vocabularies_rpc(
        &self,
        request: Request<api::PublishVocabulariesRequest>,
    ) -> Result<Response<api::PublishVocabulariesResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let r = request.into_inner();
        let (version, log_sequence) = vocabularies::publish_request::<ReferralVocabularies>(
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

    pub(super) async fn get_vocabularies_rpc(
        &self,
        request: Request<api::GetVocabulariesRequest>,
    ) -> Result<Response<api::GetVocabulariesResponse>, Status> {
        self.callers.caller(&request)?;
        self.wait_for(request.get_ref().min_log_sequence).await?;
        let in_force = self.vocabularies()?;
        Ok(Response::new(api::GetVocabulariesResponse {
            version: in_force.version,
            vocabularies: vocabularies::kept_to_wire(&in_force, ReferralVocabularies::KEPT),
        }))
    }
}
