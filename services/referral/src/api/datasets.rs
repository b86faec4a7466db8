//! Opening the minimum datasets of referrals for a caller: what each caller
//! may see of a case's referrals, and the read recorded in the access log
//! before any dataset is opened (no record, no read).

use std::collections::BTreeMap;

use case_referral::{Command, ReferralId, ReferralState};
use contracts::referral::v1 as api;
use service_runtime::{Caller, OrganisationType, ServiceError};

use super::ReferralApi;
use crate::{codec, projection};

impl ReferralApi {
    /// Opens the minimum datasets of `views` for `caller`. The read is
    /// recorded first, one event per case, whoever reads. A dataset whose
    /// consent was withdrawn stays empty; one whose person was erased stays
    /// empty and says so.
    pub(crate) async fn reveal_datasets(
        &self,
        caller: &Caller,
        views: &mut [api::ReferralView],
    ) -> Result<(), ServiceError> {
        let store = self.projection.store();
        let mut keys: BTreeMap<String, Option<person_crypto::DataKey>> = BTreeMap::new();
        let mut sealed = Vec::new();
        for (index, view) in views.iter().enumerate() {
            let Some(dataset) =
                projection::sealed_dataset(store, &view.case_id, &view.referral_id)?
            else {
                continue;
            };
            if !keys.contains_key(&view.case_id) {
                let key = self.keys.existing(self.kernel.log(), &view.case_id).await?;
                keys.insert(view.case_id.clone(), key);
            }
            sealed.push((index, dataset));
        }
        let readable = |index: usize| keys.get(&views[index].case_id).is_some_and(Option::is_some);
        let mut by_case: BTreeMap<&str, Vec<ReferralId>> = BTreeMap::new();
        // Datasets recorded before sealing are in the projection in clear.
        let clear = views
            .iter()
            .enumerate()
            .filter(|(_, v)| v.dataset.is_some());
        let opened = sealed.iter().filter(|(index, _)| readable(*index));
        for index in clear.map(|(i, _)| i).chain(opened.map(|(i, _)| *i)) {
            let view = &views[index];
            let referral_id = ReferralId::parse(&view.referral_id).map_err(|_| {
                ServiceError::internal("a projected referral id is not a referral id")
            })?;
            by_case
                .entry(view.case_id.as_str())
                .or_default()
                .push(referral_id);
        }
        for (case_id, referral_ids) in by_case {
            let request_id = format!("dataset-read.{}", uuid::Uuid::now_v7());
            let read = Command::RecordDatasetRead { referral_ids };
            self.caller_command(caller, &request_id, case_id, read)
                .await?;
        }
        for (index, dataset) in sealed {
            let view = &mut views[index];
            match keys.get(&view.case_id).and_then(Option::as_ref) {
                Some(key) => {
                    let kind = codec::dataset_kind(&view.referral_id);
                    view.dataset = Some(service_runtime::person_keys::open(
                        key,
                        &view.case_id,
                        &kind,
                        &dataset,
                    )?);
                }
                None => view.personal_data_erased = true,
            }
        }
        Ok(())
    }
}

/// Whether a caller sees a referral: a receiving service only what is
/// addressed to it, and never drafts (they are the referrer's own).
pub(crate) fn sees(caller: &Caller, referral: &api::ReferralView) -> bool {
    caller.organisation_type != OrganisationType::ReceivingService
        || (referral.receiver_organisation_id == caller.organisation_id
            && referral.state != ReferralState::Draft.code())
}

/// What a caller may see of a case's referrals: a receiving service only
/// what is addressed to it and no consents; others everything.
pub(crate) fn visible(
    caller: &Caller,
    mut case: api::GetCaseReferralsResponse,
) -> api::GetCaseReferralsResponse {
    case.referrals.retain(|r| sees(caller, r));
    if caller.organisation_type == OrganisationType::ReceivingService {
        case.consents.clear();
    }
    case
}
