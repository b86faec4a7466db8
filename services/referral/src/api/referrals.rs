//! The referral lifecycle's RPCs (create, then every transition by referrer
//! or receiver) and the referral queries (a case's referrals, the list).

use case_referral::{Command, ReferralId, ReferralState, ServiceType};
use contracts::referral::v1 as api;
use service_runtime::paging::Page;
use service_runtime::{Jurisdiction, ServiceError, Violations};
use tonic::{Request, Response, Status};

use super::datasets::visible;
use super::{ReferralApi, derived_id};
use crate::case_facts::ReferralFacts as _;
use crate::codec::WireEvent;
use crate::{projection, requests};

impl ReferralApi {
    /// Who may refer is the authorisation table's (reception operators, prefectures, police).
    pub(super) async fn create_referral_rpc(
        &self,
        request: Request<api::CreateReferralRequest>,
    ) -> Result<Response<api::CreateReferralResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let organisation = caller.organisation_id.clone();
        let in_force = self.vocabularies()?;
        let (request_id, case_id, command) =
            requests::create_referral(request.get_ref(), &in_force, |rid| {
                ReferralId::parse(&derived_id("referral", &organisation, rid))
                    .expect("a hyphenated lowercase UUID is a referral id")
            })?;
        // Whether the receiver is an active organisation of the directory
        // offering the service type is the domain's rule, on its entry.
        let Command::CreateReferral { referral_id, .. } = &command else {
            return Err(ServiceError::validated_without_fields().into());
        };
        let referral_id = referral_id.to_string();
        let executed = self
            .caller_command(&caller, &request_id, &case_id, command)
            .await?;
        Ok(Response::new(api::CreateReferralResponse {
            state: state_of(&executed.commit, &referral_id),
            referral_id,
            log_sequence: executed.sequence,
        }))
    }

    pub(super) async fn update_referral_rpc(
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

    pub(super) async fn get_case_referrals_rpc(
        &self,
        request: Request<api::GetCaseReferralsRequest>,
    ) -> Result<Response<api::GetCaseReferralsResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::default();
        let case_id = requests::case_id(&mut v, &r.case_id);
        v.finish()?;
        let case_id = case_id.ok_or_else(ServiceError::validated_without_fields)?;
        self.wait_for(r.min_log_sequence).await?;
        let case = projection::case_referrals(self.projection.store(), &case_id)
            .map_err(ServiceError::from)?
            .unwrap_or_default();
        // A receiver reads a case it was referred (its own referrals, ended ones too).
        let referred_to = case
            .referrals
            .iter()
            .filter(|r| r.state != ReferralState::Draft.code())
            .map(|r| r.receiver_organisation_id.clone());
        let at = self.case_facts(&case_id).await?.whereabouts();
        Jurisdiction::of(&caller).check(&at.referred_to(referred_to))?;
        let mut case = visible(&caller, case);
        self.reveal_datasets(&caller, &mut case.referrals).await?;
        Ok(Response::new(case))
    }

    /// Prefectures and police list their own province, reception operators
    /// the cases in their own facility, receivers what is addressed to them.
    pub(super) async fn list_referrals_rpc(
        &self,
        request: Request<api::ListReferralsRequest>,
    ) -> Result<Response<api::ListReferralsResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::default();
        let page = Page::parse(&mut v, r.page_size, &r.page_token);
        let filter = ReferralFilter::parse(v, &r)?;
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
        self.wait_for(r.min_log_sequence).await?;
        let (mut referrals, next_page_token, _cost) =
            list_referrals(self.projection.store(), &jurisdiction, &filter, &r, &page)
                .map_err(ServiceError::from)?;
        self.reveal_datasets(&caller, &mut referrals).await?;
        Ok(Response::new(api::ListReferralsResponse {
            referrals,
            next_page_token,
        }))
    }
}

/// A page of the referrals a caller of `jurisdiction` lists, read from the
/// list index: the scope is the caller's (everyone's for a caller not
/// limited by place, the receiver's own without drafts, the case's facility
/// or province as screening's facts say), under the filter's state, or the
/// open ones, or any; the rest of the filter is read on the entries, not the
/// rows.
/// Answers the page, its token, and what it cost.
pub(crate) fn list_referrals(
    store: &projection_sled::ProjectionStore,
    jurisdiction: &Jurisdiction,
    filter: &ReferralFilter,
    r: &api::ListReferralsRequest,
    page: &Page,
) -> Result<(Vec<api::ReferralView>, String, projection::ListCost), projection_sled::StoreError> {
    let (scope, own_province) = match jurisdiction {
        Jurisdiction::Unplaced => ("*".to_owned(), None),
        Jurisdiction::Receiver(own) => (format!("r={own}"), None),
        Jurisdiction::Facility { facility, province } => {
            (format!("f={facility}"), province.as_deref())
        }
        // A province caller without a province covers none.
        Jurisdiction::Province(own) if own.is_empty() => {
            return Ok((Vec::new(), String::new(), projection::ListCost::default()));
        }
        Jurisdiction::Province(own) => (format!("p={own}"), None),
    };
    // The filter's state, or the open ones, or every state: their ranges merged.
    let states: Vec<&str> = ReferralState::ALL
        .iter()
        .filter(|s| filter.state.is_none_or(|only| only == **s))
        .filter(|s| !r.open_only || !s.is_terminal())
        .map(|s| s.code())
        .collect();
    let (referrals, next, cost) = projection::list_page(
        store,
        &scope,
        &states,
        page.after.as_deref(),
        page.size,
        |case_province, referral| {
            own_province.is_none_or(|own| own == case_province) && filter.admits(r, referral)
        },
    )?;
    Ok((referrals, next.map(hex::encode).unwrap_or_default(), cost))
}

/// A referral's place in lists: by case, then referral (the index's order).
#[cfg(test)]
pub(super) fn referral_key(referral: &api::ReferralView) -> String {
    format!("{}/{}", referral.case_id, referral.referral_id)
}

/// The list's filters, validated.
pub(crate) struct ReferralFilter {
    state: Option<ReferralState>,
    service_type: Option<ServiceType>,
}

impl ReferralFilter {
    pub(crate) fn parse(
        mut v: Violations,
        r: &api::ListReferralsRequest,
    ) -> Result<ReferralFilter, ServiceError> {
        let state = (!r.state.is_empty())
            .then(|| v.check("state", ReferralState::from_code(&r.state)))
            .flatten();
        let service_type = (!r.service_type.is_empty())
            .then(|| v.check("service_type", ServiceType::from_code(&r.service_type)))
            .flatten();
        v.finish()?;
        Ok(ReferralFilter {
            state,
            service_type,
        })
    }

    pub(crate) fn admits(&self, r: &api::ListReferralsRequest, x: &api::ReferralView) -> bool {
        let state = ReferralState::from_code(&x.state).ok();
        (r.province.is_empty() || x.province == r.province)
            && self.service_type.is_none_or(|t| x.service_type == t.code())
            && self.state.is_none_or(|s| state == Some(s))
            && (!r.open_only || state.is_some_and(|s| !s.is_terminal()))
            && (!r.overdue_only || !x.missed_deadlines.is_empty())
    }
}

/// The state a commit left a referral in (empty if it did not touch it).
fn state_of(commit: &contracts::log::v1::Commit, referral_id: &str) -> String {
    use ReferralState as S;
    let mut state = None;
    for event in &commit.events {
        let Ok(event) = WireEvent::decode(event) else {
            continue;
        };
        let (id, next) = match &event {
            WireEvent::ReferralDrafted(e) => (&e.referral_id, S::Draft),
            WireEvent::ReferralSent(e) => (&e.referral_id, S::Sent),
            WireEvent::ReferralReceived(e) => (&e.referral_id, S::Received),
            WireEvent::ReferralAccepted(e) => (&e.referral_id, S::Accepted),
            WireEvent::ReferralDeclined(e) if e.redirect_to_organisation_id.is_empty() => {
                (&e.referral_id, S::Declined)
            }
            WireEvent::ReferralDeclined(e) => (&e.referral_id, S::Redirected),
            WireEvent::TakenIntoCare(e) => (&e.referral_id, S::InCare),
            WireEvent::PutOnHold(e) => (&e.referral_id, S::OnHold),
            WireEvent::Resumed(e) => (&e.referral_id, S::InCare),
            WireEvent::ReferralCompleted(e) => (&e.referral_id, S::Completed),
            WireEvent::ReferralCancelled(e) => (&e.referral_id, S::Cancelled),
            WireEvent::ReferralRevoked(e) => (&e.referral_id, S::Revoked),
            WireEvent::ReferralExpired(e) => (&e.referral_id, S::Expired),
            WireEvent::ReferralFailed(e) => (&e.referral_id, S::Failed),
            _ => continue,
        };
        if id == referral_id {
            state = Some(next);
        }
    }
    state.map(|s| s.code().to_owned()).unwrap_or_default()
}
