//! What the referral service tells the runtime's deadline watcher: cases with
//! a referral whose acknowledgement, answer or taking-charge time has passed in
//! the projection are the candidates; the domain decides what is missed, and
//! each missed deadline is escalated to the prefecture of the case's province.

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
        Ok(cases.into_iter().collect())
    }

    fn prepare(
        &self,
        case_id: &str,
    ) -> impl Future<Output = Result<Prepared<CaseReferrals>, ServiceError>> + Send {
        let case_id = case_id.to_owned();
        async move {
            // Marking a deadline needs no dataset: no key is read.
            let (codec, context) = self.decision_inputs(&case_id, Actor::System, false).await?;
            Ok(Prepared { codec, context })
        }
    }
}
