//! The monitoring record as the kernel runs it: a facility's
//! (`approdo.facility.<facility_id>.monitoring`) or an organisation's
//! (`approdo.organisation.<organisation_id>.monitoring`), the same domain on
//! two roots. Where the record is, for the caller's jurisdiction, comes from
//! the context (screening's registry), never from the request.

use case_log_jetstream::{DecodeError, NewEvent, Producer, RootKind};
use contracts::log::v1 as log;
use facility_monitoring::{Command, Context, Event, RecordError, RecordOf, State};
use service_runtime::{Aggregate, EncodeError, Refusal, Whereabouts};

use super::codec;

/// `approdo.facility.<facility_id>.monitoring`.
pub struct FacilityRecord;

/// `approdo.organisation.<organisation_id>.monitoring`.
pub struct OrganisationRecord;

fn refusal(error: &RecordError) -> Refusal {
    match error {
        RecordError::Invalid(faults) => {
            let (field, reason) = faults.first().cloned().unwrap_or_default();
            Refusal::invalid(field, reason)
        }
        RecordError::NotAVisitingBody | RecordError::NotTheirTraining => {
            Refusal::NotAllowed(error.to_string())
        }
        RecordError::NotAFacility | RecordError::VisitIdTaken | RecordError::SessionIdTaken => {
            Refusal::Rule(error.to_string())
        }
    }
}

/// A facility in its province; an organisation where it is its own receiver
/// (a receiving service acts on its own record only).
fn whereabouts(context: &Context) -> Whereabouts {
    match &context.record {
        RecordOf::Facility {
            facility_id,
            province,
            ..
        } => Whereabouts::at(province.as_str(), facility_id.as_str()),
        RecordOf::Organisation { organisation_id } => {
            Whereabouts::at("", "").referred_to([organisation_id.clone()])
        }
    }
}

macro_rules! monitoring_record {
    ($aggregate:ident, $root:expr) => {
        impl Aggregate for $aggregate {
            type Command = Command;
            type Event = Event;
            type State = State;
            type Error = RecordError;
            type Context = Context;
            type Codec = ();

            const PRODUCER: Producer = Producer::Monitoring;
            const ROOT: RootKind = $root;

            fn decide(
                state: &State,
                command: Command,
                context: &Context,
            ) -> Result<Vec<Event>, RecordError> {
                facility_monitoring::decide(state, command, context)
            }

            fn evolve(state: State, event: &Event) -> State {
                state.evolve(event)
            }

            fn refusal(error: &RecordError) -> Refusal {
                refusal(error)
            }

            fn decode(_: &(), event: &log::Event) -> Result<Option<Event>, DecodeError> {
                codec::decode(event)
            }

            fn encode(
                _: &(),
                _: &Context,
                event: &Event,
            ) -> Result<NewEvent, EncodeError<RecordError>> {
                Ok(codec::encode(event).encode())
            }

            fn whereabouts(_: &State, _: &Command, context: &Context) -> Option<Whereabouts> {
                Some(whereabouts(context))
            }
        }
    };
}

monitoring_record!(FacilityRecord, RootKind::Facility);
monitoring_record!(OrganisationRecord, RootKind::Organisation);
