//! The end-to-end tests of the whole system, in one binary around one harness
//! ([`support::System`]): a real nats-server, the services in process on port 0
//! with an injected clock, and the real binaries in the smoke test, the safe-space crash test and the
//! cluster and service fault tests (`cluster_faults`, on their own 3-node cluster). Each module
//! is one concern; none starts anything by hand.

mod support;

mod adversary;
mod authorisation;
mod cluster_faults;
mod crash_consistency;
mod facility_visits;
mod jurisdiction;
mod landing;
mod limits;
mod metrics;
mod minors_and_follow_up;
mod monitoring;
mod mutual_tls;
mod nats_permissions;
mod parking;
mod pathway;
mod privacy;
mod referral;
mod reflection;
mod replay;
mod rest_gateway;
mod safe_space;
mod safe_space_crash;
mod safe_space_locations;
mod safe_space_pathway;
mod safe_space_queries;
mod screening;
mod screening_deadlines;
mod services_smoke;
mod telemetry_privacy;
mod tidy;
mod trace_propagation;
mod web_inbox;
