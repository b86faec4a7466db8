//! The consent ledger's RPCs: a consent given (or an exception recorded), and
//! a consent withdrawn, which revokes every open referral that relied on it.

use case_referral::{Command, ConsentId};
use contracts::referral::v1 as api;
use service_runtime::ServiceError;
use tonic::{Request, Response, Status};

use super::{ReferralApi, derived_id};
use crate::codec::WireEvent;
use crate::requests;

impl ReferralApi {
    pub(super) async fn give_consent_rpc(
        &self,
        request: Request<api::GiveConsentRequest>,
    ) -> Result<Response<api::GiveConsentResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let organisation = caller.organisation_id.clone();
        let in_force = self.vocabularies()?;
        let (request_id, case_id, command) =
            requests::give_consent(request.get_ref(), &in_force, |rid| {
                ConsentId::parse(&derived_id("consent", &organisation, rid))
                    .expect("a hyphenated lowercase UUID is a consent id")
            })?;
        let Command::GiveConsent { consent_id, .. } = &command else {
            return Err(ServiceError::validated_without_fields().into());
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

    pub(super) async fn withdraw_consent_rpc(
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
            .filter_map(|event| match WireEvent::decode(event) {
                Ok(WireEvent::ReferralRevoked(revoked)) => Some(revoked.referral_id),
                _ => None,
            })
            .collect();
        Ok(Response::new(api::WithdrawConsentResponse {
            revoked_referral_ids,
            log_sequence: executed.sequence,
        }))
    }
}
