//! Uniform monitoring visits and staff training records
//! (`FacilityMonitoringService`), on `facility_monitoring`'s pure domain:
//! `requests` (validation, every field violation at once) -> `api` (the
//! handlers: commands through the runtime's kernel, scorecards folded from
//! the log) -> `aggregate` (a facility's or an organisation's monitoring
//! record) -> `codec` (the event contract, domain <-> wire).
//!
//! A facility's province and kind come from screening's facility registry in
//! the log (`approdo.facility.<id>.screening`), never from the request.

pub mod aggregate;
pub mod api;
pub mod codec;
pub mod requests;

use service_runtime::{OrganisationType, Rule};

/// Who may call which RPC of `FacilityMonitoringService`; the domain and the
/// caller's jurisdiction narrow further (a prefecture: facilities of its
/// province; a reception operator: its own facility; a receiving service: its
/// own organisation).
pub const AUTHORISATION: &[Rule] = {
    use OrganisationType::*;
    &[
        Rule {
            rpc: "/approdo.monitoring.v1.FacilityMonitoringService/GetChecklist",
            allowed: &[
                Administrator,
                Prefecture,
                ReceptionOperator,
                ReceivingService,
                Analyst,
                Police,
            ],
        },
        Rule {
            rpc: "/approdo.monitoring.v1.FacilityMonitoringService/RecordVisit",
            allowed: &[Administrator, Prefecture],
        },
        Rule {
            rpc: "/approdo.monitoring.v1.FacilityMonitoringService/RecordTrainingSession",
            allowed: &[
                Administrator,
                Prefecture,
                ReceptionOperator,
                ReceivingService,
            ],
        },
        Rule {
            rpc: "/approdo.monitoring.v1.FacilityMonitoringService/GetFacilityScorecard",
            allowed: &[Administrator, Prefecture, ReceptionOperator, Analyst],
        },
        Rule {
            rpc: "/approdo.monitoring.v1.FacilityMonitoringService/CompareFacilities",
            allowed: &[Administrator, Prefecture, Analyst],
        },
    ]
};
