//! The referral deadline watcher: acknowledgement, answer (then expiry) and
//! taking-charge deadlines, each escalated once to the prefecture of the case's
//! province. Candidates come from the projection; the decision is the domain's,
//! on the log; the request id names the referral and the deadline.

use std::sync::Arc;
use std::time::Duration;

use case_log_jetstream::envelope::timestamp;
use case_referral::{Actor, Command, DeadlineKind, ReferralId, ReferralState};
use service_runtime::ServiceError;
use tokio_util::sync::CancellationToken;

use crate::api::ReferralApi;
use crate::projection;

fn watcher() -> case_log_jetstream::Actor {
    case_log_jetstream::Actor {
        subject: "referral-deadline-watcher".to_owned(),
        organisation_id: "approdo".to_owned(),
        organisation_type: "system".to_owned(),
        roles: vec!["deadline_watcher".to_owned()],
        province: String::new(),
    }
}

pub async fn watch(api: Arc<ReferralApi>, interval: Duration, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        if let Err(error) = check_once(&api).await {
            tracing::warn!(%error, "referral deadline check failed, retrying at the next tick");
        }
    }
}

pub async fn check_once(api: &ReferralApi) -> Result<usize, ServiceError> {
    let now = timestamp(api.clock.now());
    let passed = |due: &Option<prost_types::Timestamp>| {
        due.is_some_and(|d| (d.seconds, d.nanos) <= (now.seconds, now.nanos))
    };
    let referrals =
        projection::all_referrals(api.projection.store()).map_err(|_| ServiceError::Internal)?;
    let mut appended = 0;
    for referral in referrals {
        let Ok(state) = ReferralState::from_code(&referral.state) else {
            continue;
        };
        let candidates = [
            (
                DeadlineKind::Acknowledgement,
                state == ReferralState::Sent,
                &referral.acknowledge_by,
            ),
            (
                DeadlineKind::Answer,
                matches!(state, ReferralState::Sent | ReferralState::Received),
                &referral.answer_by,
            ),
            (
                DeadlineKind::TakingCharge,
                state == ReferralState::Accepted,
                &referral.take_charge_by,
            ),
        ];
        for (kind, open, due) in candidates {
            if !open || !passed(due) || referral.missed_deadlines.iter().any(|m| m == kind.code()) {
                continue;
            }
            let Ok(referral_id) = ReferralId::parse(&referral.referral_id) else {
                continue;
            };
            let request_id = format!("deadline.{}.{}", kind.code(), referral.referral_id);
            let command = Command::MarkDeadlineMissed { referral_id, kind };
            match api
                .execute(
                    Actor::System,
                    watcher(),
                    &service_runtime::Jurisdiction::Unplaced,
                    &request_id,
                    &referral.case_id,
                    command,
                )
                .await
            {
                Ok(executed) => {
                    appended += 1;
                    tracing::info!(referral_id = %referral.referral_id, deadline = kind.code(), sequence = executed.sequence, "referral deadline missed, escalated");
                }
                Err(ServiceError::FailedPrecondition(_)) => {}
                Err(error) => return Err(error),
            }
        }
    }
    Ok(appended)
}
