//! The referral lifecycle's RPCs (create, then every transition by referrer
//! or receiver) and the referral queries (a case's referrals, the list).

use std::collections::BTreeMap;

use case_referral::{Command, ReferralId, ReferralState, ServiceType};
use contracts::referral::v1 as api;
use service_runtime::paging::Page;
use service_runtime::{Jurisdiction, ServiceError, Violations, Whereabouts};
use tonic::{Request, Response, Status};

use super::datasets::{sees, visible};
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
        let store = self.projection.store();
        let mut whereabouts: BTreeMap<String, Option<Whereabouts>> = BTreeMap::new();
        let mut referrals = Vec::new();
        for referral in projection::all_referrals(store).map_err(ServiceError::from)? {
            if !sees(&caller, &referral) || !filter.admits(&r, &referral) {
                continue;
            }
            // Receivers see their own referrals (`sees`), wherever the case is.
            if matches!(
                jurisdiction,
                Jurisdiction::Facility { .. } | Jurisdiction::Province(_)
            ) {
                if !whereabouts.contains_key(&referral.case_id) {
                    let facts = projection::case_facts(store, &referral.case_id)
                        .map_err(ServiceError::from)?;
                    whereabouts.insert(referral.case_id.clone(), facts.map(|f| f.whereabouts()));
                }
                let at = &whereabouts[&referral.case_id];
                if !at.as_ref().is_some_and(|at| jurisdiction.covers(at)) {
                    continue;
                }
            }
            referrals.push(referral);
        }
        let (mut referrals, next_page_token) = page.take(referrals, referral_key);
        self.reveal_datasets(&caller, &mut referrals).await?;
        Ok(Response::new(api::ListReferralsResponse {
            referrals,
            next_page_token,
        }))
    }
}

/// A referral's place in lists: by case, then referral.
pub(super) fn referral_key(referral: &api::ReferralView) -> String {
    format!("{}/{}", referral.case_id, referral.referral_id)
}

/// The list's filters, validated.
struct ReferralFilter {
    state: Option<ReferralState>,
    service_type: Option<ServiceType>,
}

impl ReferralFilter {
    fn parse(
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

    fn admits(&self, r: &api::ListReferralsRequest, x: &api::ReferralView) -> bool {
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
