//! The consent ledger's RPCs: a consent given (or an exception recorded), a
//! consent withdrawn (which revokes the referrals relying on it not yet in
//! care and ends the data sharing of those in care), and a refusal recorded.

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
        let mut revoked_referral_ids = Vec::new();
        let mut sharing_ended_referral_ids = Vec::new();
        for event in &executed.commit.events {
            match WireEvent::decode(event) {
                Ok(WireEvent::ReferralRevoked(revoked)) => {
                    revoked_referral_ids.push(revoked.referral_id)
                }
                Ok(WireEvent::ConsentWithdrawnDuringCare(ended)) => {
                    sharing_ended_referral_ids.push(ended.referral_id)
                }
                _ => {}
            }
        }
        Ok(Response::new(api::WithdrawConsentResponse {
            revoked_referral_ids,
            log_sequence: executed.sequence,
            sharing_ended_referral_ids,
        }))
    }

    /// The person refused: recorded by the organisation holding the case
    /// (its jurisdiction, as for a consent), under an id of its own.
    pub(super) async fn refuse_consent_rpc(
        &self,
        request: Request<api::RefuseConsentRequest>,
    ) -> Result<Response<api::RefuseConsentResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let organisation = caller.organisation_id.clone();
        let in_force = self.vocabularies()?;
        let (request_id, case_id, command) =
            requests::refuse_consent(request.get_ref(), &in_force, |rid| {
                ConsentId::parse(&derived_id("consent", &organisation, rid))
                    .expect("a hyphenated lowercase UUID is a consent id")
            })?;
        let Command::RefuseConsent { consent_id, .. } = &command else {
            return Err(ServiceError::validated_without_fields().into());
        };
        let consent_id = consent_id.to_string();
        let executed = self
            .caller_command(&caller, &request_id, &case_id, command)
            .await?;
        Ok(Response::new(api::RefuseConsentResponse {
            consent_id,
            log_sequence: executed.sequence,
        }))
    }
}
