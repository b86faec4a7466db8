//! What the referral service tells the runtime's watcher: the candidates are
//! the cases with a referral whose acknowledgement, answer or taking-charge
//! time has passed in the projection, and those the projection indexes as
//! needing a reaction (closed, placed elsewhere, more urgent); the domain
//! decides what is due on the facts read from the log, each missed deadline
//! escalated to the prefecture of the case's province.

use std::collections::BTreeSet;
use std::future::Future;

use case_referral::{Actor, ReferralState};
use service_runtime::deadlines::is_due;
use service_runtime::{DeadlineWatch, Prepared, ServiceError};
use time::OffsetDateTime;

use crate::aggregate::CaseReferrals;
use crate::api::ReferralApi;
use crate::projection;

impl DeadlineWatch for ReferralApi {
    type Aggregate = CaseReferrals;

    const WATCHER: &'static str = "referral-deadline-watcher";

    fn candidates(&self, now: OffsetDateTime) -> Result<Vec<String>, ServiceError> {
        let passed = |due: &Option<prost_types::Timestamp>| is_due(due.as_ref(), now);
        let mut cases = BTreeSet::new();
        for referral in projection::all_referrals(self.projection.store())? {
            let Ok(state) = ReferralState::from_code(&referral.state) else {
                continue;
            };
            let due = match state {
                ReferralState::Sent => {
                    passed(&referral.acknowledge_by) || passed(&referral.answer_by)
                }
                ReferralState::Received => passed(&referral.answer_by),
                ReferralState::Accepted => passed(&referral.take_charge_by),
                _ => false,
            };
            if due {
                cases.insert(referral.case_id);
            }
        }
        cases.extend(projection::reactions_due(self.projection.store())?);
        Ok(cases.into_iter().collect())
    }

    fn prepare(
        &self,
        case_id: &str,
    ) -> impl Future<Output = Result<Prepared<CaseReferrals>, ServiceError>> + Send {
        let case_id = case_id.to_owned();
        async move {
            // Marking a deadline or reacting to the case needs no dataset: no key is read.
            let (codec, context) = self.decision_inputs(&case_id, Actor::System, None).await?;
            Ok(Prepared { codec, context })
        }
    }
}
