//! Reads `ProjectionStatus.deadlines_checked_at` (field 8 of
//! `approdo.admin.v1.ProjectionStatus`): the service clock's time at the start
//! of the deadline watcher's last completed pass.
//!
//! The field is being added to the contract on main together with the services
//! that fill it. Adding it to this branch's `.proto` would break the build of
//! `service-runtime` (its `ProjectionStatus` literal names every field) until
//! then, so the harness decodes just that field from the wire answer. Once the
//! generated `admin::ProjectionStatus` has it, `checked_at` reads it there.

use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;

use contracts::admin::v1 as admin;
use time::OffsetDateTime;

use super::auth::Caller;

/// `GetProjectionStatusResponse`, decoding only `status.deadlines_checked_at`.
#[derive(Clone, PartialEq, prost::Message)]
struct StatusResponse {
    #[prost(message, optional, tag = "1")]
    status: Option<Status>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Status {
    #[prost(message, optional, tag = "8")]
    deadlines_checked_at: Option<prost_types::Timestamp>,
}

/// When the service's deadline watcher last started a pass it completed, by
/// the service's clock; `None` before its first pass.
pub async fn checked_at(channel: Channel) -> Option<OffsetDateTime> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.ok()?;
    let path =
        PathAndQuery::from_static("/approdo.admin.v1.ProjectionAdminService/GetProjectionStatus");
    let codec =
        tonic_prost::ProstCodec::<admin::GetProjectionStatusRequest, StatusResponse>::default();
    let answer = grpc
        .unary(
            Caller::administrator().request(admin::GetProjectionStatusRequest {}),
            path,
            codec,
        )
        .await
        .expect("projection status")
        .into_inner();
    let at = answer.status?.deadlines_checked_at?;
    let nanos = i128::from(at.seconds) * 1_000_000_000 + i128::from(at.nanos);
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}
