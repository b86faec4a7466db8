//! Opening the minimum datasets of referrals for a caller: what each caller
//! may see of a case's referrals, and the read recorded in the access log
//! before any dataset is opened (no record, no read).

use std::collections::BTreeMap;

use case_log_jetstream::envelope::from_timestamp;
use case_referral::{Command, ReferralId, ReferralState, dataset_reads};
use contracts::referral::v1 as api;
use service_runtime::{Authority, Caller, OrganisationType, ServiceError, Target};
use time::OffsetDateTime;

use super::ReferralApi;
use crate::aggregate::{DatasetReadRecord, ReadRecord};
use crate::{codec, projection};

impl ReferralApi {
    /// Opens the minimum datasets of `views` for `caller`. Datasets are
    /// opened in memory first; the read of those that opened is recorded
    /// (one record per call) before any is returned: no record, no read. A
    /// dataset whose consent was withdrawn stays empty; one whose person was
    /// erased stays empty and says so; a receiver's access ends with its
    /// referral (after a grace period once completed) and with the consent's
    /// validity; one that does not open is withheld, never failing the call.
    pub(crate) async fn reveal_datasets(
        &self,
        caller: &Caller,
        views: &mut [api::ReferralView],
    ) -> Result<(), ServiceError> {
        let store = self.projection.store();
        let mut keys: BTreeMap<String, Option<person_crypto::DataKey>> = BTreeMap::new();
        // Each case as it is now: a view may be an older inbox row.
        let mut cases: BTreeMap<String, api::GetCaseReferralsResponse> = BTreeMap::new();
        let now = self.kernel.now();
        let mut opened: Vec<(usize, Option<api::MinimumDataset>)> = Vec::new();
        for (index, view) in views.iter_mut().enumerate() {
            if !cases.contains_key(&view.case_id) {
                let case = projection::case_referrals(store, &view.case_id)?;
                cases.insert(view.case_id.clone(), case.unwrap_or_default());
            }
            let case = &cases[&view.case_id];
            if case.referrals.iter().any(|r| r.personal_data_erased) {
                // Whatever an older row holds (even a dataset kept in clear), it is gone.
                view.dataset = None;
                view.personal_data_erased = true;
                continue;
            }
            if caller.organisation_type == OrganisationType::ReceivingService
                && !open_to_receiver(case, view, now, self.dataset_grace)
            {
                view.dataset = None;
                view.dataset_access_revoked = true;
                continue;
            }
            // Datasets recorded before sealing are in the projection in clear.
            if view.dataset.is_some() {
                opened.push((index, None));
                continue;
            }
            let Some(sealed) = projection::sealed_dataset(store, &view.case_id, &view.referral_id)?
            else {
                continue;
            };
            if !keys.contains_key(&view.case_id) {
                let key = self
                    .keys
                    .dataset_key(self.kernel.log(), &view.case_id)
                    .await?;
                keys.insert(view.case_id.clone(), key);
            }
            let Some(key) = keys.get(&view.case_id).and_then(Option::as_ref) else {
                view.personal_data_erased = true;
                continue;
            };
            match open_dataset(key, view, &sealed) {
                Some(dataset) => opened.push((index, Some(dataset))),
                None => view.dataset_access_revoked = true,
            }
        }
        let mut by_case: BTreeMap<&str, Vec<ReferralId>> = BTreeMap::new();
        for (index, _) in &opened {
            let view = &views[*index];
            let referral_id = ReferralId::parse(&view.referral_id).map_err(|_| {
                ServiceError::internal("a projected referral id is not a referral id")
            })?;
            by_case
                .entry(view.case_id.as_str())
                .or_default()
                .push(referral_id);
        }
        self.record_reads(caller, by_case).await?;
        for (index, dataset) in opened {
            if let Some(dataset) = dataset {
                views[index].dataset = Some(dataset);
            }
        }
        Ok(())
    }
}

/// A referral's sealed dataset opened with the datasets key of its case;
/// `None` (withheld, logged with ids only) when it was sealed with the
/// person's own key before datasets had theirs, or does not open at all.
fn open_dataset(
    key: &person_crypto::DataKey,
    view: &api::ReferralView,
    sealed: &contracts::person::v1::EncryptedMessage,
) -> Option<api::MinimumDataset> {
    if codec::sealed_with_the_persons_key(&view.case_id, sealed) {
        return None;
    }
    let kind = codec::dataset_kind(&view.referral_id);
    let key_id = service_runtime::person_keys::dataset_key_id(&view.case_id);
    match service_runtime::person_keys::open(key, &key_id, &kind, sealed) {
        Ok(dataset) => Some(dataset),
        Err(error) => {
            tracing::warn!(case_id = %view.case_id, referral_id = %view.referral_id, %error, "a referral's dataset does not open: withheld");
            None
        }
    }
}

impl ReferralApi {
    /// One access record per call: in the case's own referral record when the
    /// call read one case, else one record of the call listing every case.
    async fn record_reads(
        &self,
        caller: &Caller,
        by_case: BTreeMap<&str, Vec<ReferralId>>,
    ) -> Result<(), ServiceError> {
        let request_id = format!("dataset-read-{}", uuid::Uuid::now_v7());
        if by_case.len() == 1 {
            for (case_id, referral_ids) in by_case {
                let read = Command::RecordDatasetRead { referral_ids };
                self.caller_command(caller, &request_id, case_id, read)
                    .await?;
            }
            return Ok(());
        }
        if by_case.is_empty() {
            return Ok(());
        }
        let reads = by_case
            .into_iter()
            .map(|(case_id, referral_ids)| dataset_reads::CaseRead {
                case_id: case_id.to_owned(),
                referral_ids,
            })
            .collect();
        let record = ReadRecord {
            record_id: uuid::Uuid::now_v7().to_string(),
            now: self.kernel.now(),
        };
        let target = Target::<DatasetReadRecord> {
            id: &caller.organisation_id,
            codec: &(),
            context: &record,
        };
        let command = dataset_reads::Command::Record { reads };
        self.kernel
            .execute(target, &Authority::of(caller), &request_id, command)
            .await?;
        Ok(())
    }
}

/// Whether a receiver may still open a referral's dataset: while the referral
/// is open now (sent, received, accepted, in care, on hold), or completed less
/// than `grace` ago; and only while the consent it was sent under is in force
/// (not withdrawn, not expired; an exception has no expiry).
fn open_to_receiver(
    case: &api::GetCaseReferralsResponse,
    row: &api::ReferralView,
    now: OffsetDateTime,
    grace: time::Duration,
) -> bool {
    use ReferralState as S;
    let Some(view) = case
        .referrals
        .iter()
        .find(|r| r.referral_id == row.referral_id)
    else {
        return false;
    };
    let consents = &case.consents;
    let completed_at = || {
        view.timeline
            .iter()
            .rev()
            .find(|entry| entry.state == S::Completed.code())
            .and_then(|entry| entry.at.as_ref())
            .and_then(from_timestamp)
    };
    let referral_open = match ReferralState::from_code(&view.state) {
        Ok(S::Sent | S::Received | S::Accepted | S::InCare | S::OnHold) => true,
        Ok(S::Completed) => completed_at().is_some_and(|at| now < at + grace),
        _ => false,
    };
    let consent_in_force = consents
        .iter()
        .find(|c| c.consent_id == view.consent_id)
        .is_some_and(|c| {
            c.withdrawn_at.is_none()
                && (c.kind == "exception"
                    || c.valid_until
                        .as_ref()
                        .and_then(from_timestamp)
                        .is_some_and(|until| now < until))
        });
    referral_open && consent_in_force
}

/// Whether a caller sees a referral: a receiving service only what is
/// addressed to it, and never drafts (they are the referrer's own).
pub(crate) fn sees(caller: &Caller, referral: &api::ReferralView) -> bool {
    caller.organisation_type != OrganisationType::ReceivingService
        || (referral.receiver_organisation_id == caller.organisation_id
            && referral.state != ReferralState::Draft.code())
}

/// What a caller may see of a case's referrals: a receiving service only
/// what is addressed to it and no consents or refusals; others everything.
pub(crate) fn visible(
    caller: &Caller,
    mut case: api::GetCaseReferralsResponse,
) -> api::GetCaseReferralsResponse {
    case.referrals.retain(|r| sees(caller, r));
    if caller.organisation_type == OrganisationType::ReceivingService {
        case.consents.clear();
        case.refusals.clear();
    }
    case
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(case_id: &str, referral_id: &str) -> api::ReferralView {
        api::ReferralView {
            case_id: case_id.to_owned(),
            referral_id: referral_id.to_owned(),
            ..Default::default()
        }
    }

    #[test]
    fn a_dataset_that_does_not_open_is_withheld_not_an_error() {
        let key = person_crypto::DataKey::generate();
        let dataset = api::MinimumDataset {
            categories: vec!["GBV".to_owned()],
            ..Default::default()
        };
        let kind = codec::dataset_kind("r-1");
        let sealed = service_runtime::person_keys::seal(
            &key,
            &service_runtime::person_keys::dataset_key_id("case-1"),
            &kind,
            &dataset,
        )
        .expect("sealed");
        assert_eq!(
            open_dataset(&key, &view("case-1", "r-1"), &sealed),
            Some(dataset),
            "its own case and referral: opened"
        );
        assert_eq!(
            open_dataset(&key, &view("case-2", "r-1"), &sealed),
            None,
            "moved to another case: withheld"
        );
        let other_key = person_crypto::DataKey::generate();
        assert_eq!(
            open_dataset(&other_key, &view("case-1", "r-1"), &sealed),
            None
        );
    }
}
