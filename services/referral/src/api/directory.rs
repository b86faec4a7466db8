//! The directory's RPCs: administrators register and update organisations;
//! everyone lists them.

use case_referral::directory::{Command, OrganisationProfile};
use contracts::referral::v1 as api;
use service_runtime::paging::Page;
use service_runtime::{Authority, Caller, ServiceError, Target, Violations};
use tonic::{Request, Response, Status};

use super::ReferralApi;
use crate::aggregate::DirectoryEntry;
use crate::{projection, requests};

impl ReferralApi {
    pub(super) async fn register_organisation_rpc(
        &self,
        request: Request<api::RegisterOrganisationRequest>,
    ) -> Result<Response<api::RegisterOrganisationResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let r = request.into_inner();
        let (organisation_id, log_sequence) = self
            .record_profile(
                &caller,
                &r.request_id,
                r.profile.as_ref(),
                Command::Register,
            )
            .await?;
        Ok(Response::new(api::RegisterOrganisationResponse {
            organisation_id,
            log_sequence,
        }))
    }

    pub(super) async fn update_organisation_rpc(
        &self,
        request: Request<api::UpdateOrganisationRequest>,
    ) -> Result<Response<api::UpdateOrganisationResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let r = request.into_inner();
        let (organisation_id, log_sequence) = self
            .record_profile(&caller, &r.request_id, r.profile.as_ref(), Command::Update)
            .await?;
        Ok(Response::new(api::UpdateOrganisationResponse {
            organisation_id,
            log_sequence,
        }))
    }

    pub(super) async fn list_organisations_rpc(
        &self,
        request: Request<api::ListOrganisationsRequest>,
    ) -> Result<Response<api::ListOrganisationsResponse>, Status> {
        self.callers.caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::default();
        let page = Page::parse(&mut v, r.page_size, &r.page_token);
        v.finish()?;
        self.wait_for(r.min_log_sequence).await?;
        let organisations = projection::organisations(self.projection.store())
            .map_err(ServiceError::from)?
            .into_iter()
            .filter(|o| r.service_type.is_empty() || o.service_types.contains(&r.service_type))
            .filter(|o| r.province.is_empty() || o.provinces.contains(&r.province))
            .filter(|o| r.language.is_empty() || o.languages.contains(&r.language))
            .filter(|o| !r.active_only || o.active)
            .collect();
        let (organisations, next_page_token) =
            page.take(organisations, |o| o.organisation_id.clone());
        Ok(Response::new(api::ListOrganisationsResponse {
            organisations,
            next_page_token,
        }))
    }

    /// Validates a profile and records it on the organisation's own entry
    /// (only administrators reach this: the authorisation table says so).
    async fn record_profile(
        &self,
        caller: &Caller,
        raw_request_id: &str,
        raw_profile: Option<&api::OrganisationProfile>,
        command: fn(OrganisationProfile) -> Command,
    ) -> Result<(String, u64), ServiceError> {
        let mut v = Violations::default();
        let request_id = requests::request_id(&mut v, raw_request_id);
        let profile = requests::profile(&mut v, raw_profile);
        v.finish()?;
        let profile = profile.ok_or_else(ServiceError::validated_without_fields)?;
        let organisation_id = profile.organisation_id.to_string();
        let target = Target::<DirectoryEntry> {
            id: &organisation_id,
            codec: &(),
            context: &(),
        };
        let executed = self
            .kernel
            .execute(
                target,
                &Authority::of(caller),
                &request_id,
                command(profile),
            )
            .await?;
        Ok((organisation_id, executed.sequence))
    }
}
