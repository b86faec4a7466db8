//! What the service's deadline watcher must do on an allocator at a time:
//! expire the holds whose deadline passed, and release the requests whose
//! case or referral ended (the service reads those facts, this decides which
//! commands follow), each with a request id that names it, so that restarts
//! and several instances append it once.

use std::collections::BTreeMap;

use pathway::Urgency;
use time::OffsetDateTime;

use crate::allocator::{Command, Standing, State};
use crate::{CaseId, ReleaseReason};

/// Something the watcher must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// A hold passed its deadline.
    ExpireHold {
        case: CaseId,
        reserved_at: OffsetDateTime,
    },
    /// The case or its linked referral ended: the request and what it holds end.
    Release {
        case: CaseId,
        reason: ReleaseReason,
        requested_at: OffsetDateTime,
    },
    /// A waiting person's urgency differs from their case's: the list follows.
    RefreshUrgency {
        case: CaseId,
        urgency: Option<Urgency>,
        requested_at: OffsetDateTime,
        /// How many refreshes the entry had: each refresh is named once.
        refreshes: u32,
    },
    /// The case was erased: the key of its places to avoid is destroyed (by
    /// the service, before this is run) and the destruction recorded.
    ForgetAvoid { case: CaseId },
}

impl Due {
    pub fn command(&self) -> Command {
        match self {
            Due::ExpireHold { case, .. } => Command::ExpireHold { case: case.clone() },
            Due::Release { case, reason, .. } => Command::Release {
                case: case.clone(),
                reason: *reason,
            },
            Due::RefreshUrgency { case, urgency, .. } => Command::RefreshUrgency {
                case: case.clone(),
                urgency: *urgency,
            },
            Due::ForgetAvoid { case } => Command::ForgetAvoid { case: case.clone() },
        }
    }

    /// `hold-expired.<case>.<reserved_at, unix ns>` (each reservation once),
    /// `release.<reason>.<case>.<requested_at, unix ns>` (each request once),
    /// `urgency-refreshed.<case>.<requested_at, unix ns>.<refreshes before>`
    /// (each refresh of each request once), `avoid-forgotten.<case>` (once).
    pub fn request_id(&self) -> String {
        match self {
            Due::ExpireHold { case, reserved_at } => {
                format!("hold-expired.{case}.{}", reserved_at.unix_timestamp_nanos())
            }
            Due::Release {
                case,
                reason,
                requested_at,
            } => format!(
                "release.{}.{case}.{}",
                reason.code(),
                requested_at.unix_timestamp_nanos()
            ),
            Due::RefreshUrgency {
                case,
                requested_at,
                refreshes,
                ..
            } => format!(
                "urgency-refreshed.{case}.{}.{refreshes}",
                requested_at.unix_timestamp_nanos()
            ),
            Due::ForgetAvoid { case } => format!("avoid-forgotten.{case}"),
        }
    }
}

/// What is due at `now`, in case order: a release for each case here that
/// `ended` names (what the service read: the case closed, erased, placed
/// elsewhere, its linked referral revoked, cancelled or failed), else an
/// expiry for each hold whose deadline passed. Each is what its command's
/// `decide` accepts on this state (by the service).
pub fn due_commands(
    state: &State,
    now: OffsetDateTime,
    ended: &BTreeMap<CaseId, ReleaseReason>,
) -> Vec<Due> {
    due(state, now, ended, &BTreeMap::new())
}

/// [`due_commands`], and with `urgencies` (the current urgency of cases the
/// service read, from their facts): first each waiting person whose case's
/// urgency differs from their entry's is refreshed (so that a place freed
/// by what follows goes by the list's new order, and no refresh meets a
/// person a later command already served); then the releases and expiries;
/// then, for each case erased whose places to avoid are still kept, the
/// record of their key's destruction.
pub fn due(
    state: &State,
    now: OffsetDateTime,
    ended: &BTreeMap<CaseId, ReleaseReason>,
    urgencies: &BTreeMap<CaseId, Option<Urgency>>,
) -> Vec<Due> {
    let refreshes = state.cases.iter().filter_map(|(case, entry)| {
        let urgency = urgencies.get(case)?;
        (entry.standing == Standing::Waiting
            && !ended.contains_key(case)
            && *urgency != entry.urgency)
            .then(|| Due::RefreshUrgency {
                case: case.clone(),
                urgency: *urgency,
                requested_at: entry.waiting_since,
                refreshes: entry.urgency_refreshes,
            })
    });
    let ends = state.cases.iter().filter_map(|(case, entry)| {
        if let Some(reason) = ended.get(case) {
            return Some(Due::Release {
                case: case.clone(),
                reason: *reason,
                requested_at: entry.waiting_since,
            });
        }
        match entry.standing {
            Standing::Reserved {
                reserved_at,
                held_until,
                ..
            } if held_until <= now => Some(Due::ExpireHold {
                case: case.clone(),
                reserved_at,
            }),
            _ => None,
        }
    });
    let forgotten = state
        .avoid_kept
        .iter()
        .filter(|case| ended.get(*case) == Some(&ReleaseReason::Erasure))
        .map(|case| Due::ForgetAvoid { case: case.clone() });
    refreshes.chain(ends).chain(forgotten).collect()
}
