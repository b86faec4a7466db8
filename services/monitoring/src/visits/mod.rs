//! Uniform monitoring visits and staff training records
//! (`FacilityMonitoringService`), on `facility_monitoring`'s pure domain:
//! `requests` (validation, every field violation at once) -> `api` (the
//! handlers: commands through the runtime's kernel, scorecards folded from
//! the log) -> `aggregate` (a facility's or an organisation's monitoring
//! record) -> `codec` (the event contract, domain <-> wire). Who may call
//! which RPC is in the service's table (`crate::AUTHORISATION`); comparisons
//! read the visits the monitoring projection keeps (`crate::projection::Visits`).
//!
//! A facility's province and kind come from screening's facility registry in
//! the log (`approdo.facility.<id>.screening`), never from the request.

pub mod aggregate;
pub mod api;
pub mod codec;
pub mod requests;

/// The gRPC service's name (health, reflection).
pub const SERVICE: &str = "approdo.monitoring.v1.FacilityMonitoringService";
