//! The deadline watcher: on every tick, cases whose screening (7 days) or
//! assessment (30 days) deadline passed unmet get their missed-deadline event,
//! once. The clock is injected; the request id is derived from the case and the
//! deadline, so a restart or a second instance cannot append it twice.

use std::sync::Arc;
use std::time::Duration;

use case_screening::{CaseId, Command};
use contracts::screening::v1 as api;
use service_runtime::ServiceError;
use tokio_util::sync::CancellationToken;

use crate::api::ScreeningApi;
use crate::codec::PersonalParts;
use crate::projection;

/// Who the log records as the author of missed-deadline events.
fn watcher() -> case_log_jetstream::Actor {
    case_log_jetstream::Actor {
        subject: "screening-deadline-watcher".to_owned(),
        organisation_id: "approdo".to_owned(),
        organisation_type: "system".to_owned(),
        roles: vec!["deadline_watcher".to_owned()],
        province: String::new(),
    }
}

pub async fn watch(api: Arc<ScreeningApi>, interval: Duration, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        if let Err(error) = check_once(&api).await {
            tracing::warn!(%error, "deadline check failed, retrying at the next tick");
        }
    }
}

/// One pass over the open cases. Returns how many deadline events were appended.
pub async fn check_once(api: &ScreeningApi) -> Result<usize, ServiceError> {
    let now = api.clock.now();
    let now_ts = case_log_jetstream::envelope::timestamp(now);
    let passed = |deadline: &Option<api::Deadline>| {
        deadline.as_ref().is_some_and(|d| {
            !d.missed
                && d.met_at.is_none()
                && d.due_at
                    .is_some_and(|due| (due.seconds, due.nanos) <= (now_ts.seconds, now_ts.nanos))
        })
    };
    let cases =
        projection::all_cases(api.projection.store()).map_err(|_| ServiceError::Internal)?;
    let mut appended = 0;
    for case in cases.iter().filter(|c| c.status == "open") {
        let Ok(case_id) = CaseId::parse(&case.case_id) else {
            continue;
        };
        let mut due = Vec::new();
        if passed(&case.screening_deadline) {
            due.push(("screening", Command::MarkScreeningDeadlineMissed));
        }
        if passed(&case.assessment_deadline) {
            due.push(("assessment", Command::MarkAssessmentDeadlineMissed));
        }
        for (deadline, command) in due {
            let request_id = format!("deadline.{deadline}.{case_id}");
            match api
                .execute(
                    watcher(),
                    &service_runtime::Jurisdiction::Unplaced,
                    &request_id,
                    &case_id,
                    command,
                    &PersonalParts::default(),
                )
                .await
            {
                Ok(sequence) => {
                    appended += 1;
                    tracing::info!(case_id = %case_id, deadline, sequence, "deadline missed");
                }
                // Met or closed meanwhile, or already marked: nothing to do.
                Err(ServiceError::FailedPrecondition(_)) => {}
                Err(error) => return Err(error),
            }
        }
    }
    Ok(appended)
}
