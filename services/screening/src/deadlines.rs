//! What the screening service tells the runtime's deadline watcher: open cases
//! whose screening (7 days), assessment (30 days) or need-assessment (30 days
//! from a need identified later) deadline, an unaccompanied minor's 45 days in first reception, a follow-up or an awaited arrival has
//! passed unmet in the projection are the candidates, and the cases whose
//! safe-space record holds an arrival screening has not placed yet
//! (`safe_space_arrivals`); the domain decides what is missed and placed.

use std::future::Future;

use case_screening::{CaseStatus, Context};
use service_runtime::deadlines::is_due;
use service_runtime::{DeadlineWatch, Prepared, ServiceError};
use time::OffsetDateTime;

use crate::aggregate::{CaseContext, CaseScreening};
use crate::api::ScreeningApi;
use crate::codec::PersonalParts;
use crate::projection;

impl DeadlineWatch for ScreeningApi {
    type Aggregate = CaseScreening;

    const WATCHER: &'static str = "screening-deadline-watcher";

    fn candidates(&self, now: OffsetDateTime) -> Result<Vec<String>, ServiceError> {
        let passed = |deadline: &Option<contracts::screening::v1::Deadline>| {
            deadline
                .as_ref()
                .is_some_and(|d| !d.missed && d.met_at.is_none() && is_due(d.due_at.as_ref(), now))
        };
        Ok(projection::all_cases(self.projection.store())?
            .into_iter()
            .filter(|case| case.status == CaseStatus::Open.code())
            .filter(|case| {
                passed(&case.screening_deadline)
                    || passed(&case.assessment_deadline)
                    || case.late_needs.iter().any(|need| passed(&need.deadline))
                    || crate::protection_view::deadline_passed(case, now)
            })
            .map(|case| case.case_id)
            .chain(projection::arrivals_due(self.projection.store())?)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect())
    }

    /// For a case whose safe-space record holds an arrival: the placement
    /// it calls for, read from the log (`safe_space_arrivals`).
    fn prepare(
        &self,
        case_id: &str,
    ) -> impl Future<Output = Result<Prepared<CaseScreening>, ServiceError>> + Send {
        let now = self.kernel.now();
        let case_id = case_id.to_owned();
        async move {
            let arrival = if projection::arrival_due(self.projection.store(), &case_id)? {
                crate::safe_space_arrivals::due_placement(&self.kernel, &case_id).await?
            } else {
                None
            };
            Ok(Prepared {
                codec: PersonalParts::default(),
                context: CaseContext {
                    domain: Context { now },
                    referred_to: Vec::new(),
                    arrival,
                },
            })
        }
    }
}
