//! Fixtures (fixed times, never the system clock), an allocator brought to a
//! state by its own commands, and the given/when/then helpers every module shares.

pub use std::collections::{BTreeMap, BTreeSet};

pub use expect_test::expect;
pub use pathway::{AgeBand, Urgency};
pub use safe_space_allocation::allocator::{
    AllocationError, Command, Due, Event, Proposal, Standing, State, decide, due, due_commands,
    proposals,
};
pub use safe_space_allocation::{
    Actor, AllocationPolicy, Avoid, Capacity, CaseFacts, CaseId, Context, DisclosurePurpose,
    Eligibility, Language, Needs, OrganisationId, Province, ReferralId, ReleaseReason,
    ReservationReason, Sex, SpaceId, SpaceKind, SpaceProfile, Unit,
};
pub use time::macros::datetime;
pub use time::{Duration, OffsetDateTime};

/// When the fixtures happen, and "now" for most tests.
pub const T0: OffsetDateTime = datetime!(2026-03-10 09:00 UTC);
pub const NOW: OffsetDateTime = datetime!(2026-03-10 12:00 UTC);
/// `NOW` + 24 h, the default hold.
pub const HELD_UNTIL: OffsetDateTime = datetime!(2026-03-11 12:00 UTC);

/// The managing organisation of the fixture shelters.
pub const MANAGER: &str = "differenza-donna";
pub const OTHER_MANAGER: &str = "casa-rifugio-sud";
/// The organisation requesting places.
pub const REQUESTER: &str = "cas-roma-1";
pub const OUTSIDER: &str = "asl-roma-1";

pub fn org(raw: &str) -> OrganisationId {
    OrganisationId::parse(raw).expect("organisation id")
}

pub fn space(raw: &str) -> SpaceId {
    SpaceId::parse(raw).expect("space id")
}

pub fn case(raw: &str) -> CaseId {
    CaseId::parse(raw).expect("case id")
}

pub fn language(raw: &str) -> Language {
    Language::parse(raw).expect("language")
}

pub fn rm() -> Province {
    Province::parse("RM").expect("province")
}

/// A GBV shelter in RM of `MANAGER`, for women and their children.
pub fn shelter(beds: u32, family_rooms: u32) -> SpaceProfile {
    SpaceProfile {
        kind: SpaceKind::GbvShelter,
        organisation: org(MANAGER),
        province: rm(),
        capacity: Capacity { beds, family_rooms },
        eligibility: Eligibility {
            sexes: [Sex::Female].into_iter().collect(),
            age_bands: BTreeSet::new(),
            families_with_children: true,
            accessible: false,
            languages: BTreeSet::new(),
            family_room_persons: 0,
        },
    }
}

/// The context of an allocator of GBV shelters in RM.
pub fn context(actor: Actor, now: OffsetDateTime) -> Context {
    Context {
        now,
        actor,
        province: rm(),
        kind: SpaceKind::GbvShelter,
        policy: AllocationPolicy::default(),
        case: CaseFacts::default(),
    }
}

pub fn by(organisation: &str, now: OffsetDateTime) -> Context {
    context(Actor::Organisation(org(organisation)), now)
}

pub fn system(now: OffsetDateTime) -> Context {
    context(Actor::System, now)
}

/// A woman, an adult, of `urgency`.
pub fn woman(urgency: Option<Urgency>) -> CaseFacts {
    CaseFacts {
        urgency,
        sex: Sex::Female,
        age_band: AgeBand::Adult,
        ..CaseFacts::default()
    }
}

/// The requester asks for a place for a case with these facts.
pub fn requesting(facts: CaseFacts, now: OffsetDateTime) -> Context {
    Context {
        case: facts,
        ..by(REQUESTER, now)
    }
}

pub fn single() -> Needs {
    Needs::default()
}

pub fn with_children(children: u8) -> Needs {
    Needs {
        children,
        ..Needs::default()
    }
}

pub fn request(case_id: &str, needs: Needs) -> Command {
    Command::RequestPlace {
        case: case(case_id),
        needs,
        referral: None,
    }
}

/// An allocator brought to a state by its own commands.
#[derive(Debug, Clone, Default)]
pub struct Given {
    pub state: State,
}

pub fn given() -> Given {
    Given::default()
}

impl Given {
    /// Runs a command that must be accepted.
    pub fn run(mut self, command: Command, context: &Context) -> Given {
        let events = decide(&self.state, command.clone(), context)
            .unwrap_or_else(|error| panic!("{command:?} refused: {error:?}"));
        self.state = apply(self.state, &events);
        self
    }

    pub fn space(self, id: &str, profile: SpaceProfile) -> Given {
        self.run(
            Command::AddSpace {
                space: space(id),
                profile,
            },
            &system(T0),
        )
    }

    /// A woman of `urgency` asks at `at`.
    pub fn request(
        self,
        case_id: &str,
        needs: Needs,
        urgency: Urgency,
        at: OffsetDateTime,
    ) -> Given {
        self.run(
            request(case_id, needs),
            &requesting(woman(Some(urgency)), at),
        )
    }

    pub fn arrive(self, case_id: &str, at: OffsetDateTime) -> Given {
        self.run(
            Command::ConfirmArrival {
                case: case(case_id),
            },
            &by(MANAGER, at),
        )
    }

    pub fn standing(&self, case_id: &str) -> Option<&Standing> {
        self.state
            .cases
            .get(&case(case_id))
            .map(|entry| &entry.standing)
    }

    pub fn waiting(&self) -> Vec<&str> {
        self.state
            .waiting_list()
            .into_iter()
            .map(CaseId::as_str)
            .collect()
    }
}

pub fn when(
    given: &Given,
    command: Command,
    context: &Context,
) -> Result<Vec<Event>, AllocationError> {
    decide(&given.state, command, context)
}

pub fn apply(state: State, events: &[Event]) -> State {
    events
        .iter()
        .fold(state, |state, event| state.evolve(event))
}

pub fn reserved(case_id: &str, space_id: &str, unit: Unit, reason: ReservationReason) -> Event {
    Event::PlaceReserved {
        case: case(case_id),
        space: space(space_id),
        unit,
        reserved_at: NOW,
        held_until: HELD_UNTIL,
        reason,
    }
}

pub fn assert_invalid(result: Result<Vec<Event>, AllocationError>, expected_field: &str) {
    match result {
        Err(AllocationError::Invalid { field, .. }) => assert_eq!(field, expected_field),
        other => panic!("expected invalid {expected_field}, got {other:?}"),
    }
}

pub fn render(result: Result<Vec<Event>, AllocationError>) -> String {
    match result {
        Ok(events) => events
            .iter()
            .map(|event| format!("{event:#?}"))
            .collect::<Vec<_>>()
            .join("\n"),
        Err(error) => format!("refused: {error:?}"),
    }
}
