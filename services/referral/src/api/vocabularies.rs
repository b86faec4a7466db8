//! The referral service's closed vocabularies (consent purposes,
//! communication needs, safety instructions): administrators publish the next
//! version; everyone reads the one in force; requests are checked against it.

use case_log_jetstream::Producer;
use contracts::referral::v1 as api;
use pathway::vocabularies::{Vocabularies, VocabularyKind};
use service_runtime::vocabularies::{self, KeepsVocabularies};
use service_runtime::{Authority, ServiceError, Violations};
use tonic::{Request, Response, Status};

use super::ReferralApi;
use crate::requests;

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
        let mut v = Violations::default();
        let request_id = requests::request_id(&mut v, &r.request_id);
        let lists = vocabularies::lists_from_request(&mut v, &r.vocabularies);
        v.finish()?;
        let (version, log_sequence) = vocabularies::publish::<ReferralVocabularies>(
            &self.kernel,
            &Authority::of(&caller),
            &request_id,
            lists,
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
