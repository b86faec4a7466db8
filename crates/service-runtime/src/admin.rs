//! `approdo.admin.v1.ProjectionAdminService`: a service's projection status and rebuild.

use contracts::admin::v1 as api;
use projection_sled::{ProjectionHandle, ProjectionState, ProjectionStatus};
use tonic::{Request, Response, Status};

use crate::authorisation::Rule;
use crate::caller::{CallerExtractor, OrganisationType};
use crate::deadlines::DeadlinePasses;
use crate::error::ServiceError;

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
];

pub struct ProjectionAdmin {
    projection: ProjectionHandle,
    callers: CallerExtractor,
    deadline_passes: DeadlinePasses,
}

impl ProjectionAdmin {
    pub fn new(
        projection: ProjectionHandle,
        callers: CallerExtractor,
        deadline_passes: DeadlinePasses,
    ) -> Self {
        ProjectionAdmin {
            projection,
            callers,
            deadline_passes,
        }
    }

    pub fn into_server(
        self,
    ) -> api::projection_admin_service_server::ProjectionAdminServiceServer<Self> {
        api::projection_admin_service_server::ProjectionAdminServiceServer::new(self)
    }

    fn status(&self) -> Result<api::ProjectionStatus, ServiceError> {
        let status = self.projection.status();
        let digest = self.projection.store().content_digest().map_err(|error| {
            ServiceError::internal(format_args!(
                "cannot compute the projection digest: {error}"
            ))
        })?;
        let mut status = to_proto(&status, digest);
        status.deadlines_checked_at = self
            .deadline_passes
            .last()
            .map(case_log_jetstream::envelope::timestamp);
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
    }
}

#[tonic::async_trait]
impl api::projection_admin_service_server::ProjectionAdminService for ProjectionAdmin {
    async fn get_projection_status(
        &self,
        request: Request<api::GetProjectionStatusRequest>,
    ) -> Result<Response<api::GetProjectionStatusResponse>, Status> {
        self.callers.caller(&request)?;
        Ok(Response::new(api::GetProjectionStatusResponse {
            status: Some(self.status()?),
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
            status: Some(self.status()?),
        }))
    }
}
