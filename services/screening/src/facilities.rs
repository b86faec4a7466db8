//! The facility registry at the screening service's edge: administrators
//! register facilities (`RegisterFacility`); opening a case or placing it takes
//! the province from the facility's registration, read from the log, and
//! refuses an unregistered facility or a request that claims another province.

use case_log_jetstream::{DecodeError, NewEvent, Producer, RootKind};
use case_screening::facilities::{self, Facility, FacilityError};
use case_screening::{FacilityId, FacilityKind, Province};
use contracts::log::v1 as log;
use contracts::screening::v1 as api;
use service_runtime::kernel::{EncodeError, fold};
use service_runtime::{
    Aggregate, Authority, Caller, FieldViolation, Kernel, Refusal, ServiceError, Target, Violations,
};

use crate::codec::WireEvent;

/// `approdo.facility.<facility_id>.screening`.
pub struct FacilityRegistration;

impl Aggregate for FacilityRegistration {
    type Command = facilities::Command;
    type Event = facilities::Event;
    type State = facilities::State;
    type Error = FacilityError;
    type Context = ();
    type Codec = ();

    const PRODUCER: Producer = Producer::Screening;
    const ROOT: RootKind = RootKind::Facility;

    fn decide(
        state: &facilities::State,
        command: facilities::Command,
        _: &(),
    ) -> Result<Vec<facilities::Event>, FacilityError> {
        facilities::decide(state, command)
    }

    fn evolve(state: facilities::State, event: &facilities::Event) -> facilities::State {
        state.evolve(event)
    }

    fn refusal(error: &FacilityError) -> Refusal {
        Refusal::Rule(error.to_string())
    }

    fn decode(_: &(), event: &log::Event) -> Result<Option<facilities::Event>, DecodeError> {
        let WireEvent::FacilityRegistered(registered) = WireEvent::decode(event)? else {
            return Ok(None);
        };
        let bad = |reason: &str| DecodeError::new(event, reason);
        Ok(Some(facilities::Event::Registered(Facility {
            facility_id: FacilityId::parse(&registered.facility_id)
                .map_err(|_| bad("bad facility"))?,
            province: Province::parse(&registered.province).map_err(|_| bad("bad province"))?,
            kind: FacilityKind::from_code(&registered.facility_kind)
                .map_err(|_| bad("bad kind"))?,
        })))
    }

    fn encode(
        _: &(),
        _: &(),
        event: &facilities::Event,
    ) -> Result<NewEvent, EncodeError<FacilityError>> {
        let facilities::Event::Registered(facility) = event;
        Ok(WireEvent::FacilityRegistered(api::FacilityRegistered {
            facility_id: facility.facility_id.to_string(),
            province: facility.province.to_string(),
            facility_kind: facility.kind.code().to_owned(),
        })
        .encode())
    }
}

/// Registers a facility (administrators only: the authorisation table says so).
pub async fn register(
    kernel: &Kernel,
    caller: &Caller,
    request: &api::RegisterFacilityRequest,
) -> Result<u64, ServiceError> {
    let mut v = Violations::default();
    let request_id = v.request_id(&request.request_id);
    let facility_id = v.check("facility_id", FacilityId::parse(&request.facility_id));
    let province = v.check("province", Province::parse(&request.province));
    let kind = v.check(
        "facility_kind",
        FacilityKind::from_code(&request.facility_kind),
    );
    v.finish()?;
    let (Some(facility_id), Some(province), Some(kind)) = (facility_id, province, kind) else {
        return Err(ServiceError::validated_without_fields());
    };
    let id = facility_id.to_string();
    let target = Target::<FacilityRegistration> {
        id: &id,
        codec: &(),
        context: &(),
    };
    let command = facilities::Command::Register(Facility {
        facility_id,
        province,
        kind,
    });
    let executed = kernel
        .execute(target, &Authority::of(caller), &request_id, command)
        .await?;
    Ok(executed.sequence)
}

/// Where a registered facility is, and what it is; and the request's claims
/// that contradict its registration, to be named with the request's other
/// faults ([`Located::refuse_claims`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub province: String,
    pub kind: String,
    pub claims: Vec<FieldViolation>,
}

impl Located {
    /// The request as validated (`parsed`), refused with the claims first if
    /// there are any: INVALID_ARGUMENT naming every offending field at once.
    pub fn refuse_claims<T>(&self, parsed: Result<T, ServiceError>) -> Result<T, ServiceError> {
        if self.claims.is_empty() {
            return parsed;
        }
        let mut violations = self.claims.clone();
        if let Err(ServiceError::InvalidArgument(more)) = parsed {
            violations.extend(more);
        }
        Err(ServiceError::InvalidArgument(violations))
    }
}

/// The registration of the facility a request names (`facility_id`): the
/// request's `province` and `facility_kind` may be empty (they are filled) or
/// must be the registered ones (otherwise claims, refused with the request's
/// other faults). An unregistered facility is refused at once.
pub async fn locate(
    kernel: &Kernel,
    raw_facility_id: &str,
    raw_province: &str,
    raw_kind: &str,
) -> Result<Located, ServiceError> {
    // An invalid id is the request validation's to name.
    let Ok(facility_id) = FacilityId::parse(raw_facility_id) else {
        return Ok(Located {
            province: raw_province.to_owned(),
            kind: raw_kind.to_owned(),
            claims: Vec::new(),
        });
    };
    let history = kernel
        .history::<FacilityRegistration>(facility_id.as_str())
        .await?;
    let state = fold::<FacilityRegistration>(&(), &history).map_err(|error| {
        ServiceError::internal(format_args!("a facility's registration: {error}"))
    })?;
    let Some(facility) = state.facility else {
        return Err(ServiceError::InvalidArgument(vec![FieldViolation::new(
            "facility_id",
            "is not a registered facility",
        )]));
    };
    let province = facility.province.to_string();
    let kind = facility.kind.code().to_owned();
    let mut claims = Vec::new();
    if !raw_province.is_empty() && raw_province != province {
        claims.push(FieldViolation::new(
            "province",
            "is not the facility's registered province",
        ));
    }
    if !raw_kind.is_empty() && raw_kind != kind {
        claims.push(FieldViolation::new(
            "facility_kind",
            "is not the facility's registered kind",
        ));
    }
    Ok(Located {
        province,
        kind,
        claims,
    })
}
