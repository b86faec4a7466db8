//! `approdo.admin.v1.ProjectionAdminService`: a service's projection status
//! (with the count of parked commits, how full the case log is, the erasures
//! pending), its parked commits, and rebuild.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use contracts::admin::v1 as api;
use projection_sled::{ProjectionHandle, ProjectionState, ProjectionStatus};
use tonic::{Request, Response, Status};

use crate::authorisation::Rule;
use crate::caller::{CallerExtractor, OrganisationType};
use crate::deadlines::DeadlinePasses;
use crate::error::{FieldViolation, ServiceError};
use crate::log_usage::LogUsageWatch;

/// Parked commits per page when the request names no page size.
pub const PARKED_PAGE_SIZE: u32 = 50;
/// Most parked commits per page, whatever the request asks.
pub const PARKED_PAGE_SIZE_MAX: u32 = 500;

/// Who may call the projection admin API (every service serves it).
pub const AUTHORISATION: &[Rule] = &[
    Rule {
        rpc: "/approdo.admin.v1.ProjectionAdminService/GetProjectionStatus",
        allowed: &[OrganisationType::Administrator],
    },
    Rule {
        rpc: "/approdo.admin.v1.ProjectionAdminService/RebuildProjection",
        allowed: &[OrganisationType::Administrator],
    },
    Rule {
        rpc: "/approdo.admin.v1.ProjectionAdminService/ListParkedCommits",
        allowed: &[OrganisationType::Administrator],
    },
];

/// How many erasures are recorded but not complete (the person's key not yet
/// destroyed), as the service that completes them last counted: shown by the
/// admin status. Zero for services that keep no person keys.
#[derive(Debug, Clone, Default)]
pub struct ErasuresPending(Arc<AtomicU64>);

impl ErasuresPending {
    pub fn set(&self, pending: u64) {
        self.0.store(pending, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

pub struct ProjectionAdmin {
    projection: ProjectionHandle,
    callers: CallerExtractor,
    deadline_passes: DeadlinePasses,
    log_usage: LogUsageWatch,
    erasures_pending: ErasuresPending,
}

impl ProjectionAdmin {
    pub fn new(
        projection: ProjectionHandle,
        callers: CallerExtractor,
        deadline_passes: DeadlinePasses,
        log_usage: LogUsageWatch,
        erasures_pending: ErasuresPending,
    ) -> Self {
        ProjectionAdmin {
            projection,
            callers,
            deadline_passes,
            log_usage,
            erasures_pending,
        }
    }

    pub fn into_server(
        self,
    ) -> api::projection_admin_service_server::ProjectionAdminServiceServer<Self> {
        api::projection_admin_service_server::ProjectionAdminServiceServer::new(self)
    }

    /// The projection's status; its content digest only `with_content_digest`
    /// (it reads the whole store).
    async fn status(
        &self,
        with_content_digest: bool,
    ) -> Result<api::ProjectionStatus, ServiceError> {
        let status = self.projection.status();
        let digest = if with_content_digest {
            self.projection.store().content_digest().map_err(|error| {
                ServiceError::internal(format_args!(
                    "cannot compute the projection digest: {error}"
                ))
            })?
        } else {
            String::new()
        };
        let mut status = to_proto(&status, digest);
        status.deadlines_checked_at = self
            .deadline_passes
            .last()
            .map(case_log_jetstream::envelope::timestamp);
        if let Some(usage) = self.log_usage.read().await {
            status.log_bytes = usage.bytes;
            status.log_max_bytes = usage.max_bytes.unwrap_or(0);
            status.log_nearly_full = self.log_usage.nearly_full(&usage);
        }
        status.erasures_pending = self.erasures_pending.get();
        Ok(status)
    }
}

fn to_proto(status: &ProjectionStatus, content_digest: String) -> api::ProjectionStatus {
    let (state, failed_sequence, failed_event_type) = match &status.state {
        ProjectionState::CatchingUp => (api::ProjectionState::CatchingUp, 0, String::new()),
        ProjectionState::Live => (api::ProjectionState::Live, 0, String::new()),
        ProjectionState::Failed {
            sequence,
            event_types,
            ..
        } => (api::ProjectionState::Failed, *sequence, event_types.clone()),
    };
    api::ProjectionStatus {
        name: status.name.to_owned(),
        position: status.position,
        lag: status.lag,
        state: state as i32,
        failed_sequence,
        failed_event_type,
        content_digest,
        deadlines_checked_at: None,
        parked_commits: status.parked,
        ..Default::default()
    }
}

/// One page of parked commits: after the sequence the page token names, at
/// most the page size asked (capped); the next token is the last sequence
/// returned, empty after the last page.
fn parked_page(
    store: &projection_sled::ProjectionStore,
    request: &api::ListParkedCommitsRequest,
) -> Result<api::ListParkedCommitsResponse, ServiceError> {
    let after = if request.page_token.is_empty() {
        0
    } else {
        request.page_token.parse::<u64>().map_err(|_| {
            ServiceError::InvalidArgument(vec![FieldViolation::new(
                "page_token",
                "not a token this API returned",
            )])
        })?
    };
    let size = match request.page_size {
        0 => PARKED_PAGE_SIZE,
        asked => asked.min(PARKED_PAGE_SIZE_MAX),
    } as usize;
    // One more than the page tells whether another page follows.
    let mut parked = store.parked(after, size + 1).map_err(|error| {
        ServiceError::internal(format_args!("cannot read the parked commits: {error}"))
    })?;
    let more = parked.len() > size;
    parked.truncate(size);
    let next_page_token = match parked.last() {
        Some(last) if more => last.sequence.to_string(),
        _ => String::new(),
    };
    Ok(api::ListParkedCommitsResponse {
        parked_commits: parked
            .into_iter()
            .map(|p| api::ParkedCommit {
                sequence: p.sequence,
                subject: p.subject,
                reason: p.reason,
                detail: p.detail,
            })
            .collect(),
        next_page_token,
    })
}

#[tonic::async_trait]
impl api::projection_admin_service_server::ProjectionAdminService for ProjectionAdmin {
    async fn get_projection_status(
        &self,
        request: Request<api::GetProjectionStatusRequest>,
    ) -> Result<Response<api::GetProjectionStatusResponse>, Status> {
        self.callers.caller(&request)?;
        let with_content_digest = request.get_ref().with_content_digest;
        Ok(Response::new(api::GetProjectionStatusResponse {
            status: Some(self.status(with_content_digest).await?),
        }))
    }

    async fn rebuild_projection(
        &self,
        request: Request<api::RebuildProjectionRequest>,
    ) -> Result<Response<api::RebuildProjectionResponse>, Status> {
        // Only administrators reach this: the authorisation table (AUTHORISATION) says so.
        let caller = self.callers.caller(&request)?;
        self.projection
            .rebuild()
            .await
            .map_err(|_| ServiceError::Unavailable("projection is shut down".to_owned()))?;
        tracing::info!(subject = %caller.subject, "projection rebuild requested");
        Ok(Response::new(api::RebuildProjectionResponse {
            status: Some(self.status(false).await?),
        }))
    }

    async fn list_parked_commits(
        &self,
        request: Request<api::ListParkedCommitsRequest>,
    ) -> Result<Response<api::ListParkedCommitsResponse>, Status> {
        self.callers.caller(&request)?;
        Ok(Response::new(parked_page(
            self.projection.store(),
            request.get_ref(),
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use projection_sled::{Catalogue, Incoming, ParkedCommit, ProjectionStore};

    fn store_with_parked(count: u64) -> (tempfile::TempDir, ProjectionStore) {
        let dir = tempfile::tempdir().expect("dir");
        let store = ProjectionStore::open(dir.path()).expect("store");
        let distrust = case_log_jetstream::Distrust::UndecodableEnvelope("bad".to_owned());
        let batch: Vec<Incoming> = (1..=count)
            .map(|sequence| {
                Incoming::Untrusted(ParkedCommit::untrusted(
                    sequence,
                    "approdo.case.c.monitoring",
                    &distrust,
                ))
            })
            .collect();
        store
            .apply(&Catalogue::new("monitoring"), &batch)
            .expect("parked");
        (dir, store)
    }

    fn page(
        store: &ProjectionStore,
        page_size: u32,
        page_token: &str,
    ) -> Result<api::ListParkedCommitsResponse, ServiceError> {
        parked_page(
            store,
            &api::ListParkedCommitsRequest {
                page_size,
                page_token: page_token.to_owned(),
            },
        )
    }

    #[test]
    fn parked_commits_page_in_log_order_with_a_capped_page_size() {
        let (_dir, store) = store_with_parked(PARKED_PAGE_SIZE_MAX as u64 + 3);
        let first = page(&store, 2, "").expect("first");
        let sequences = |r: &api::ListParkedCommitsResponse| {
            r.parked_commits
                .iter()
                .map(|p| p.sequence)
                .collect::<Vec<_>>()
        };
        assert_eq!(sequences(&first), [1, 2]);
        assert_eq!(first.next_page_token, "2");
        let second = page(&store, 0, &first.next_page_token).expect("second");
        assert_eq!(second.parked_commits.len(), PARKED_PAGE_SIZE as usize);
        assert_eq!(second.parked_commits[0].sequence, 3);
        let capped = page(&store, 100_000, "").expect("capped");
        assert_eq!(capped.parked_commits.len(), PARKED_PAGE_SIZE_MAX as usize);
        let last = page(&store, 100_000, &capped.next_page_token).expect("last");
        assert_eq!(sequences(&last), [501, 502, 503]);
        assert!(last.next_page_token.is_empty(), "no page after the last");
        assert!(matches!(
            page(&store, 2, "not-a-token"),
            Err(ServiceError::InvalidArgument(_))
        ));
    }
}
