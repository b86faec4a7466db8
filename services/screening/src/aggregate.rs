//! The case's screening record as the kernel runs it: the domain's `decide`
//! and `evolve`, the wire codec, where the case is (for jurisdiction), and
//! which deadlines the domain says were missed.

use case_log_jetstream::{DecodeError, NewEvent, Producer, RootKind};
use case_screening::{Command, Context, Event, ScreeningError, State};
use contracts::log::v1 as log;
use service_runtime::{Aggregate, Refusal, Whereabouts};
use time::OffsetDateTime;

use crate::codec::{self, PersonalParts};

/// `approdo.case.<case_id>.screening`.
pub struct CaseScreening;

/// What a screening command is decided with: the domain's context, and the
/// organisations the case is referred to (for receiving services' jurisdiction).
pub struct CaseContext {
    pub domain: Context,
    pub referred_to: Vec<String>,
    /// For the watcher: the placement the case's safe-space record calls
    /// for (an arrival in a safe space), with its request id
    /// (`safe_space_arrivals`); `None` for every other command.
    pub arrival: Option<(String, case_screening::Placement)>,
}

impl Aggregate for CaseScreening {
    type Command = Command;
    type Event = Event;
    type State = State;
    type Error = ScreeningError;
    type Context = CaseContext;
    /// Personal data travels beside the domain's `CaseOpened`, sealed.
    type Codec = PersonalParts;

    const PRODUCER: Producer = Producer::Screening;
    const ROOT: RootKind = RootKind::Case;

    fn decide(
        state: &State,
        command: Command,
        context: &CaseContext,
    ) -> Result<Vec<Event>, ScreeningError> {
        case_screening::decide(state, command, &context.domain)
    }

    fn evolve(state: State, event: &Event) -> State {
        state.evolve(event)
    }

    fn refusal(error: &ScreeningError) -> Refusal {
        match error {
            ScreeningError::Invalid { field, reason } => Refusal::invalid(field, *reason),
            ScreeningError::CaseNotFound => Refusal::NotFound("case"),
            other => Refusal::Rule(other.to_string()),
        }
    }

    fn decode(_: &PersonalParts, event: &log::Event) -> Result<Option<Event>, DecodeError> {
        codec::decode(event).map(Some)
    }

    fn encode(
        personal: &PersonalParts,
        _: &CaseContext,
        event: &Event,
    ) -> Result<NewEvent, service_runtime::EncodeError<ScreeningError>> {
        Ok(codec::encode(event, personal).encode())
    }

    fn whereabouts(state: &State, command: &Command, context: &CaseContext) -> Option<Whereabouts> {
        let at = match (whereabouts(state), command) {
            (Some(at), _) => at,
            (None, Command::Open(open)) => opened_at(open),
            (None, _) => return None,
        };
        Some(at.referred_to(context.referred_to.iter().cloned()))
    }

    fn due_commands(
        state: &State,
        context: &CaseContext,
        now: OffsetDateTime,
    ) -> Vec<(String, Command)> {
        let mut due = missed_deadlines(state, now);
        due.extend(crate::safe_space_arrivals::due_command(
            state,
            context.arrival.as_ref(),
            now,
        ));
        due
    }
}

/// The deadlines the domain says passed unmet, each with the request id that
/// names it: `deadline.screening.<case>`, `deadline.assessment.<case>`, and
/// `deadline.need-assessment.<case>.<CATEGORY>.<raised at, Unix nanoseconds>`
/// (a need is named by its category and its raise: a category raised again
/// after being ruled out is another need); the 45-day limit, follow-ups and
/// awaited arrivals as `protection::deadline_request_id` names them.
pub fn missed_deadlines(state: &State, now: OffsetDateTime) -> Vec<(String, Command)> {
    let Some(opened) = &state.opened else {
        return Vec::new();
    };
    let case = &opened.case_id;
    case_screening::missed_deadlines(state, now)
        .into_iter()
        .filter_map(|command| {
            let request_id = match &command {
                Command::MarkScreeningDeadlineMissed => format!("deadline.screening.{case}"),
                Command::MarkAssessmentDeadlineMissed => format!("deadline.assessment.{case}"),
                Command::MarkNeedAssessmentDeadlineMissed {
                    category,
                    raised_at,
                } => format!(
                    "deadline.need-assessment.{case}.{}.{}",
                    category.code(),
                    raised_at.unix_timestamp_nanos()
                ),
                // Minors and follow-up: named in `protection`.
                other => crate::protection::deadline_request_id(state, case, other)?,
            };
            Some((request_id, command))
        })
        .collect()
}

/// Where the case is: where it was last placed, or where it opened.
pub fn whereabouts(state: &State) -> Option<Whereabouts> {
    match (&state.placement, &state.opened) {
        (Some(placement), _) => Some(Whereabouts::at(
            placement.province.to_string(),
            placement.facility_id.to_string(),
        )),
        (None, Some(opened)) => Some(opened_at(opened)),
        (None, None) => None,
    }
}

fn opened_at(open: &case_screening::OpenCase) -> Whereabouts {
    Whereabouts::at(open.province.to_string(), open.facility_id.to_string())
}
