//! The pathway rules' RPCs (administrators publish the next version; everyone
//! reads the rules in force) and the suggestion of receivers for a case, from
//! the rules and the directory (the ranking is the domain's).

use case_referral::directory::OrganisationProfile;
use case_referral::pathway_rules::{self, PathwayRules};
use case_referral::suggestions::{self, Suggestion, Wanted};
use case_referral::{Language, Province, ServiceType};
use contracts::referral::v1 as api;
use service_runtime::{Authority, Jurisdiction, ServiceError, Target, Violations};
use tonic::{Request, Response, Status};

use super::ReferralApi;
use crate::aggregate::{PATHWAY_RULES_ID, PathwayRulesPublications};
use crate::case_facts::ReferralFacts as _;
use crate::{codec, projection, requests};

impl ReferralApi {
    pub(super) async fn publish_pathway_rules_rpc(
        &self,
        request: Request<api::PublishPathwayRulesRequest>,
    ) -> Result<Response<api::PublishPathwayRulesResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::default();
        let request_id = requests::request_id(&mut v, &r.request_id);
        let rules = requests::pathway_rules(&mut v, &r.rules);
        v.finish()?;
        let target = Target::<PathwayRulesPublications> {
            id: PATHWAY_RULES_ID,
            codec: &(),
            context: &(),
        };
        let command = pathway_rules::Command::Publish { rules };
        let executed = self
            .kernel
            .execute(target, &Authority::of(&caller), &request_id, command)
            .await?;
        let version = executed
            .commit
            .events
            .iter()
            .find_map(|event| match codec::WireEvent::decode(event) {
                Ok(codec::WireEvent::PathwayRulesPublished(published)) => Some(published.version),
                _ => None,
            })
            .ok_or_else(|| ServiceError::internal("a publication holds no published rules"))?;
        Ok(Response::new(api::PublishPathwayRulesResponse {
            version,
            log_sequence: executed.sequence,
        }))
    }

    pub(super) async fn get_pathway_rules_rpc(
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

    pub(super) async fn suggest_receivers_rpc(
        &self,
        request: Request<api::SuggestReceiversRequest>,
    ) -> Result<Response<api::SuggestReceiversResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::default();
        let case_id = requests::case_id(&mut v, &r.case_id);
        let only = (!r.service_type.is_empty())
            .then(|| v.check("service_type", ServiceType::from_code(&r.service_type)))
            .flatten();
        v.finish()?;
        let case_id = case_id.ok_or_else(ServiceError::validated_without_fields)?;
        self.wait_for(r.min_log_sequence).await?;
        let facts = self.case_facts(&case_id).await?;
        Jurisdiction::of(&caller).check(&facts.whereabouts())?;
        let province = if r.province.is_empty() {
            &facts.province
        } else {
            &r.province
        };
        let rules = self.rules()?;
        let directory = self.directory()?;
        // An unknown province is served by nobody; an unknown language spoken by nobody.
        let suggestions = match Province::parse(province) {
            Ok(province) => suggestions::suggest(
                &Wanted {
                    categories: &facts.live_categories(),
                    province: &province,
                    language: Language::parse(&r.language).ok().as_ref(),
                    service_type: only,
                },
                &rules,
                &directory,
            ),
            Err(_) => Vec::new(),
        };
        let suggestions = suggestions
            .iter()
            .map(|s| suggestion_to_wire(s, &directory))
            .collect();
        Ok(Response::new(api::SuggestReceiversResponse {
            suggestions,
            rules_version: rules.version,
        }))
    }

    /// The directory's profiles, as the domain reads them.
    fn directory(&self) -> Result<Vec<OrganisationProfile>, ServiceError> {
        projection::organisations(self.projection.store())?
            .iter()
            .map(codec::profile_from_wire)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|reason| ServiceError::internal(format_args!("a directory row: {reason}")))
    }

    /// The rules in force: the last published, or the built-in ones.
    pub(crate) fn rules(&self) -> Result<PathwayRules, ServiceError> {
        match projection::published_rules(self.projection.store()).map_err(ServiceError::from)? {
            Some(published) => codec::rules_from_wire(&published).map_err(|reason| {
                ServiceError::internal(format_args!("the published rules: {reason}"))
            }),
            None => Ok(self.default_rules.clone()),
        }
    }
}

fn suggestion_to_wire(
    suggestion: &Suggestion,
    directory: &[OrganisationProfile],
) -> api::Suggestion {
    api::Suggestion {
        organisation: directory
            .iter()
            .find(|o| o.organisation_id == suggestion.organisation_id)
            .map(codec::profile_to_wire),
        service_type: suggestion.service_type.code().to_owned(),
        because_of: suggestion
            .because_of
            .iter()
            .map(|c| c.code().to_owned())
            .collect(),
        speaks_language: suggestion.speaks_language,
    }
}
