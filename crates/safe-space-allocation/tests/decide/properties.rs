//! Property tests: random commands by the entitled party (and sometimes an
//! outsider), over a forward-moving clock and spaces of different
//! eligibility that are added, resized and closed, keep the allocation's
//! invariants after every event: no space over capacity; no case holding two
//! reservations or places; the waiting list ordered by urgency then time
//! waited; every reservation passes no one eligible waiting ahead; after every
//! commit no one waiting is eligible for a free place (a freed place is
//! given, once); after a watcher pass no hold outlives its deadline; a
//! location is disclosed to a space's manager exactly while the case holds
//! that space, never to an outsider; a waiting person's urgency refreshed by
//! the watcher keeps the list in order and settled; a list of places to
//! avoid that can no longer be read never gets a reservation.

use proptest::prelude::*;
use safe_space_allocation::allocator::{Entry, eligible};

use super::support::*;

const PROP_START: OffsetDateTime = datetime!(2026-03-10 08:00 UTC);
const PROP_CASES: [&str; 6] = ["c-1", "c-2", "c-3", "c-4", "c-5", "c-6"];
const PROP_SPACES: [&str; 4] = ["s-0", "s-1", "s-2", "s-3"];

/// The allocator under test: trafficking shelters in RM (no rule on sex by kind).
fn prop_context(actor: Actor, now: OffsetDateTime) -> Context {
    Context {
        kind: SpaceKind::TraffickingShelter,
        ..context(actor, now)
    }
}

/// Four spaces of different eligibility, the last two of another manager.
fn template(index: usize) -> SpaceProfile {
    let mut profile = shelter(2, 1);
    profile.kind = SpaceKind::TraffickingShelter;
    profile.eligibility.sexes.clear();
    match index {
        0 => {}
        1 => {
            profile.capacity = Capacity {
                beds: 1,
                family_rooms: 0,
            };
            profile.eligibility.sexes = [Sex::Female].into_iter().collect();
            profile.eligibility.families_with_children = false;
            profile.eligibility.languages = [language("ti")].into_iter().collect();
        }
        2 => {
            profile.organisation = org(OTHER_MANAGER);
            profile.capacity = Capacity {
                beds: 1,
                family_rooms: 1,
            };
            profile.eligibility.accessible = true;
        }
        _ => {
            profile.organisation = org(OTHER_MANAGER);
            profile.capacity = Capacity {
                beds: 1,
                family_rooms: 0,
            };
            profile.eligibility.families_with_children = false;
            profile.eligibility.age_bands = [AgeBand::From16To17, AgeBand::Unknown]
                .into_iter()
                .collect();
        }
    }
    profile
}

#[derive(Debug, Clone)]
enum Op {
    Add(usize),
    Capacity(usize, u32, u32),
    Close(usize),
    Request {
        case: usize,
        children: u8,
        accessibility: bool,
        avoid: Option<usize>,
        urgency: Option<Urgency>,
        sex: Sex,
        age_band: AgeBand,
    },
    Cancel(usize),
    Reserve(usize, usize),
    Confirm(usize),
    Release(usize, ReleaseReason),
    /// The watcher: runs everything `due_commands` lists (no case ended).
    Watch,
    /// Screening changed a case's urgency: the watcher's pass with it.
    Urgency(usize, Option<Urgency>),
    /// The case was erased: its needs key destroyed, recorded by the watcher.
    Forget(usize),
    /// An outsider tries a command meant for a party.
    Outsider(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let case = 0..PROP_CASES.len();
    let space = 0..PROP_SPACES.len();
    prop_oneof![
        3 => space.clone().prop_map(Op::Add),
        2 => (space.clone(), 0u32..=3, 0u32..=2).prop_map(|(s, b, f)| Op::Capacity(s, b, f)),
        1 => space.clone().prop_map(Op::Close),
        8 => (
            case.clone(),
            prop_oneof![3 => Just(0u8), 1 => 1u8..=2],
            prop::bool::weighted(0.25),
            prop::option::weighted(0.2, space.clone()),
            prop::option::of(prop::sample::select(Urgency::ALL)),
            prop::sample::select(Sex::ALL),
            prop::sample::select(&[AgeBand::Adult, AgeBand::From16To17, AgeBand::Unknown][..]),
        )
            .prop_map(|(case, children, accessibility, avoid, urgency, sex, age_band)| {
                Op::Request { case, children, accessibility, avoid, urgency, sex, age_band }
            }),
        2 => case.clone().prop_map(Op::Cancel),
        2 => (case.clone(), space).prop_map(|(c, s)| Op::Reserve(c, s)),
        4 => case.clone().prop_map(Op::Confirm),
        3 => (case.clone(), prop::sample::select(ReleaseReason::ALL))
            .prop_map(|(c, r)| Op::Release(c, r)),
        3 => Just(Op::Watch),
        2 => (case.clone(), prop::option::of(prop::sample::select(Urgency::ALL)))
            .prop_map(|(c, u)| Op::Urgency(c, u)),
        1 => case.clone().prop_map(Op::Forget),
        1 => case.prop_map(Op::Outsider),
    ]
}

/// How far the clock moves before a step: mostly up to two hours, sometimes
/// up to thirty (past the holds).
fn advance() -> impl Strategy<Value = Duration> {
    prop_oneof![
        3 => (0i64..=120).prop_map(Duration::minutes),
        1 => (0i64..=30 * 60).prop_map(Duration::minutes),
    ]
}

/// What the run keeps, and an independent model of who holds what, from the events.
struct Run {
    now: OffsetDateTime,
    state: State,
    holding: BTreeMap<CaseId, SpaceId>,
    /// Every event accepted, in order.
    accepted: Vec<Event>,
}

impl Run {
    fn manager_of(&self, case: &CaseId) -> Actor {
        let manager = self
            .state
            .cases
            .get(case)
            .and_then(Entry::holds)
            .and_then(|(space, _)| self.state.spaces.get(space))
            .map_or(org(MANAGER), |space| space.organisation.clone());
        Actor::Organisation(manager)
    }

    /// The command of `op` and who is entitled to it.
    fn command(&self, op: &Op) -> Option<(Command, Context)> {
        let at = |actor| prop_context(actor, self.now);
        let requester = || at(Actor::Organisation(org(REQUESTER)));
        Some(match op {
            Op::Add(index) => (
                Command::AddSpace {
                    space: space(PROP_SPACES[*index]),
                    profile: template(*index),
                },
                at(Actor::System),
            ),
            Op::Capacity(index, beds, family_rooms) => (
                Command::ChangeCapacity {
                    space: space(PROP_SPACES[*index]),
                    capacity: Capacity {
                        beds: *beds,
                        family_rooms: *family_rooms,
                    },
                },
                at(Actor::Organisation(template(*index).organisation)),
            ),
            Op::Close(index) => (
                Command::CloseSpace {
                    space: space(PROP_SPACES[*index]),
                },
                at(Actor::Organisation(template(*index).organisation)),
            ),
            Op::Request {
                case: index,
                children,
                accessibility,
                avoid,
                urgency,
                sex,
                age_band,
            } => (
                request(
                    PROP_CASES[*index],
                    Needs {
                        children: *children,
                        accessibility: *accessibility,
                        avoid: avoid
                            .iter()
                            .map(|s| Avoid::Space(space(PROP_SPACES[*s])))
                            .collect(),
                        ..Needs::default()
                    },
                ),
                Context {
                    case: CaseFacts {
                        urgency: *urgency,
                        sex: *sex,
                        age_band: *age_band,
                        ..CaseFacts::default()
                    },
                    ..requester()
                },
            ),
            Op::Cancel(index) => (
                Command::CancelRequest {
                    case: case(PROP_CASES[*index]),
                },
                requester(),
            ),
            Op::Reserve(index, space_index) => (
                Command::Reserve {
                    case: case(PROP_CASES[*index]),
                    space: space(PROP_SPACES[*space_index]),
                },
                requester(),
            ),
            Op::Confirm(index) => {
                let case = case(PROP_CASES[*index]);
                let manager = self.manager_of(&case);
                (Command::ConfirmArrival { case }, at(manager))
            }
            Op::Release(index, reason) => {
                let case = case(PROP_CASES[*index]);
                let actor = if reason.by_the_system_only() {
                    Actor::System
                } else {
                    self.manager_of(&case)
                };
                (
                    Command::Release {
                        case,
                        reason: *reason,
                    },
                    at(actor),
                )
            }
            Op::Forget(index) => (
                Command::ForgetAvoid {
                    case: case(PROP_CASES[*index]),
                },
                at(Actor::System),
            ),
            Op::Watch | Op::Outsider(_) | Op::Urgency(..) => return None,
        })
    }

    /// Decides `command`; checks every event of an accepted one as it is applied.
    fn step(&mut self, command: Command, context: &Context) -> Result<bool, TestCaseError> {
        let Ok(events) = decide(&self.state, command.clone(), context) else {
            return Ok(false);
        };
        prop_assert!(!events.is_empty(), "{command:?} accepted with no event");
        for event in &events {
            self.check_before(event)?;
            self.state = self.state.clone().evolve(event);
            self.check_after(event)?;
        }
        self.accepted.extend(events);
        self.check_settled()?;
        Ok(true)
    }

    /// A reservation passes no one eligible waiting ahead, on a free unit.
    fn check_before(&self, event: &Event) -> Result<(), TestCaseError> {
        let Event::PlaceReserved {
            case: receiver,
            space: space_id,
            unit,
            reason,
            ..
        } = event
        else {
            return Ok(());
        };
        prop_assert!(
            self.state.free(space_id, *unit) > 0,
            "{event:?} on no free unit"
        );
        prop_assert!(
            !self.state.cases[receiver]
                .needs
                .avoid
                .contains(&Avoid::Unreadable),
            "{event:?} for a person whose places to avoid cannot be read"
        );
        let waiting = self.state.waiting_list();
        let ahead = waiting
            .iter()
            .position(|case| *case == receiver)
            .map_or(&waiting[..], |index| &waiting[..index]);
        let space = &self.state.spaces[space_id];
        for case in ahead {
            let entry = &self.state.cases[*case];
            prop_assert!(
                !(entry.needs.unit() == *unit && eligible(space_id, space, entry)),
                "{event:?} ({reason}) passes {case}, waiting ahead and eligible"
            );
        }
        Ok(())
    }

    fn check_after(&mut self, event: &Event) -> Result<(), TestCaseError> {
        // No space over capacity.
        for (id, space) in &self.state.spaces {
            let held = self.state.held(id);
            prop_assert!(
                space.capacity.holds(held),
                "{id} over capacity after {event:?}: {held:?} of {:?}",
                space.capacity
            );
        }
        // No case holds two reservations or places (independent model).
        match event {
            Event::PlaceReserved {
                case,
                space,
                reason,
                ..
            } => {
                let before = self.holding.insert(case.clone(), space.clone());
                prop_assert!(
                    before.is_none() || *reason == ReservationReason::Chosen,
                    "{case} reserved {space} while holding {before:?}"
                );
            }
            Event::ArrivalConfirmed { case, space, .. } => {
                prop_assert_eq!(self.holding.get(case), Some(space));
            }
            Event::ReturnedToWaitingList { case, .. }
            | Event::RequestCancelled { case, .. }
            | Event::PlaceReleased { case, .. }
            | Event::HoldExpired { case, .. } => {
                self.holding.remove(case);
            }
            _ => {}
        }
        let held: usize = self
            .state
            .spaces
            .keys()
            .map(|s| self.state.held(s).total() as usize)
            .sum();
        prop_assert_eq!(held, self.holding.len());
        // The waiting list: urgency, then time waited.
        let keys: Vec<_> = self
            .state
            .waiting_list()
            .into_iter()
            .map(|case| {
                let entry = &self.state.cases[case];
                let rank = entry.urgency.map_or(Urgency::ALL.len(), |u| {
                    Urgency::ALL.iter().position(|x| *x == u).unwrap_or(0)
                });
                (rank, entry.waiting_since)
            })
            .collect();
        prop_assert!(keys.windows(2).all(|pair| pair[0] <= pair[1]), "{keys:?}");
        Ok(())
    }

    /// After a commit, no one waiting is eligible for a free place.
    fn check_settled(&self) -> Result<(), TestCaseError> {
        for case in self.state.waiting_list() {
            let offered = proposals(&self.state, case);
            prop_assert!(offered.is_empty(), "{case} waits while {offered:?} is free");
        }
        Ok(())
    }

    /// The watcher's pass: everything due, then no hold passed its deadline.
    fn watch(&mut self) -> Result<(), TestCaseError> {
        self.watch_with(&BTreeMap::new())
    }

    /// The watcher's pass with the current urgency of some cases: each
    /// listed refresh is accepted, and afterwards none is due.
    fn watch_with(
        &mut self,
        urgencies: &BTreeMap<CaseId, Option<Urgency>>,
    ) -> Result<(), TestCaseError> {
        let due = due(&self.state, self.now, &BTreeMap::new(), urgencies);
        for due in due {
            let accepted = self.step(due.command(), &prop_context(Actor::System, self.now))?;
            prop_assert!(accepted, "{due:?} due but refused");
        }
        for (case, entry) in &self.state.cases {
            if let Standing::Reserved { held_until, .. } = entry.standing {
                prop_assert!(held_until > self.now, "{case}'s hold outlived its deadline");
            }
            if entry.standing == Standing::Waiting
                && let Some(urgency) = urgencies.get(case)
            {
                prop_assert_eq!(entry.urgency, *urgency, "{} not refreshed", case);
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_place_is_ever_given_twice_and_the_list_is_served_in_order(
        steps in prop::collection::vec((advance(), op()), 1..60)
    ) {
        let mut run = Run { now: PROP_START, state: State::default(), holding: BTreeMap::new(), accepted: Vec::new() };
        for (advance, op) in steps {
            run.now += advance;
            match &op {
                Op::Watch => run.watch()?,
                Op::Urgency(index, urgency) => {
                    let urgencies = [(case(PROP_CASES[*index]), *urgency)].into_iter().collect();
                    run.watch_with(&urgencies)?;
                }
                Op::Outsider(index) => {
                    let case = case(PROP_CASES[*index]);
                    for command in [
                        Command::CancelRequest { case: case.clone() },
                        Command::ConfirmArrival { case: case.clone() },
                        Command::ExpireHold { case: case.clone() },
                        Command::RefreshUrgency { case: case.clone(), urgency: Some(Urgency::Immediate) },
                        Command::ForgetAvoid { case: case.clone() },
                        Command::Release { case, reason: ReleaseReason::CaseClosed },
                    ] {
                        let outsider = prop_context(Actor::Organisation(org(OUTSIDER)), run.now);
                        prop_assert!(decide(&run.state, command.clone(), &outsider).is_err(), "{command:?}");
                    }
                }
                _ => {
                    if let Some((command, context)) = run.command(&op) {
                        run.step(command, &context)?;
                    }
                }
            }
            // A location is disclosed to the space's manager exactly while
            // the case holds that space, and never to an outsider.
            for raw_case in PROP_CASES {
                for raw_space in PROP_SPACES {
                    let Some(managed) = run.state.spaces.get(&space(raw_space)) else { continue };
                    let holds = run.state.cases.get(&case(raw_case)).and_then(Entry::holds)
                        .is_some_and(|(held, _)| held.as_str() == raw_space);
                    let disclose = Command::DiscloseLocation {
                        case: case(raw_case),
                        space: space(raw_space),
                        purpose: DisclosurePurpose::Arrival,
                    };
                    let manager = prop_context(Actor::Organisation(managed.organisation.clone()), run.now);
                    prop_assert_eq!(decide(&run.state, disclose.clone(), &manager).is_ok(), holds);
                    let outsider = prop_context(Actor::Organisation(org(OUTSIDER)), run.now);
                    prop_assert!(decide(&run.state, disclose, &outsider).is_err());
                }
            }
        }
        run.watch()?;
        // The state is its events replayed: nothing is kept beside them.
        prop_assert_eq!(&apply(State::default(), &run.accepted), &run.state);
    }
}
