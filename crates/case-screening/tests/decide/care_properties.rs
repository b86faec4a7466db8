//! Property tests of the minors, detention and follow-up rules: no sequence of
//! commands places an unaccompanied (or presumed) minor in detention or
//! detains a vulnerable person without the event; the 45-day limit is never
//! recorded before the 46th day in Rome, and once per stay; follow-up
//! deadlines are never recorded early and once each.

use std::collections::BTreeMap;

use pathway::calendar::{date_in_rome, limit_ends};
use proptest::prelude::*;

use super::care::*;
use super::support::*;

/// A command in the abstract; times are the clock's at each step.
#[derive(Debug, Clone)]
enum Op {
    Signal(Category),
    Assess(Category, Outcome),
    AgeAssess(AgeBand),
    Place {
        facility: u8,
        kind: FacilityKind,
        grounds: bool,
    },
    Schedule {
        id: u8,
        days_ahead: u8,
    },
    Record {
        id: Option<u8>,
        found: bool,
    },
    Watcher,
}

/// Categories the rules look at, and one they do not.
const CATEGORIES: &[Category] = &[
    Category::Minor,
    Category::UnaccompaniedMinor,
    Category::AgeDisputed,
    Category::Torture,
    Category::Gbv,
];

fn op() -> impl Strategy<Value = Op> {
    let category = prop::sample::select(CATEGORIES);
    prop_oneof![
        3 => category.clone().prop_map(Op::Signal),
        3 => (category, prop::sample::select(Outcome::ALL))
            .prop_map(|(c, o)| Op::Assess(c, o)),
        1 => prop::sample::select(AgeBand::ALL).prop_map(Op::AgeAssess),
        5 => (0u8..4, prop::sample::select(FacilityKind::ALL), any::<bool>())
            .prop_map(|(facility, kind, grounds)| Op::Place { facility, kind, grounds }),
        2 => (0u8..3, 0u8..10).prop_map(|(id, days_ahead)| Op::Schedule { id, days_ahead }),
        2 => (prop::option::of(0u8..3), any::<bool>())
            .prop_map(|(id, found)| Op::Record { id, found }),
        4 => Just(Op::Watcher),
    ]
}

fn command(op: &Op, now: OffsetDateTime) -> Command {
    match op {
        Op::Signal(category) => Command::RaiseSignal(signal(*category, now)),
        Op::Assess(category, outcome) => {
            Command::RecordAssessment(assessment(&[(*category, *outcome)], now))
        }
        Op::AgeAssess(band) => Command::AssessAge(age_assessment(*band, now)),
        Op::Place {
            facility,
            kind,
            grounds,
        } => Command::Place(Placement {
            detention: grounds.then(super::care::grounds),
            arrival_due_at: Some(now + Duration::hours(72)),
            ..placed_in(&format!("facility-{facility}"), *kind, now)
        }),
        Op::Schedule { id, days_ahead } => Command::ScheduleFollowUp(FollowUpSchedule {
            follow_up_id: follow_up_id(&format!("follow-up-{id}")),
            ..schedule(date_in_rome(now) + Duration::days(i64::from(*days_ahead)))
        }),
        Op::Record { id, found } => Command::RecordFollowUp(follow_up(
            id.map(|id| format!("follow-up-{id}")).as_deref(),
            if *found {
                FollowUpOutcome::Found
            } else {
                FollowUpOutcome::NotFound
            },
            now,
        )),
        Op::Watcher => unreachable!("the watcher runs missed_deadlines"),
    }
}

/// The oracle of the detention rule, from the events alone (not `State`'s
/// functions): the band (opening, then assessments), whether an assessment
/// decided it, and each category's last status.
fn oracle(events: &[Event]) -> (AgeBand, bool, BTreeMap<Category, CategoryStatus>) {
    let mut band = AgeBand::Unknown;
    let mut assessed = false;
    let mut status = BTreeMap::new();
    for event in events {
        match event {
            Event::CaseOpened(open) => band = open.age_band,
            Event::AgeAssessed(a) => {
                band = a.age_band;
                assessed = true;
            }
            Event::VulnerabilitySignalRaised(s) => {
                let entry = status
                    .entry(s.suspected.category)
                    .or_insert(CategoryStatus::Suspected);
                if *entry == CategoryStatus::RuledOut {
                    *entry = CategoryStatus::Suspected;
                }
            }
            Event::AssessmentRecorded { assessment, .. } => {
                for (c, o) in &assessment.outcomes {
                    status.insert(*c, o.status());
                }
            }
            _ => {}
        }
    }
    (band, assessed, status)
}

fn run(
    state: State,
    command: Command,
    now: OffsetDateTime,
    emitted: &mut Vec<Vec<Event>>,
) -> (State, Result<(), ScreeningError>) {
    match when(&state, command, now) {
        Ok(events) => {
            let state = apply(state, &events);
            emitted.push(events);
            (state, Ok(()))
        }
        Err(error) => (state, Err(error)),
    }
}

fn steps() -> impl Strategy<Value = Vec<(Duration, Op)>> {
    prop::collection::vec(((0i64..=20 * 24).prop_map(Duration::hours), op()), 0..40)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_sequence_of_commands_detains_a_minor_unprotected(
        band in prop::sample::select(AgeBand::ALL),
        steps in steps(),
    ) {
        let mut now = ARRIVAL;
        let mut emitted = vec![vec![opened_as(band)]];
        let mut state = given(&emitted[0]);
        for (advance, op) in steps {
            now += advance;
            if matches!(op, Op::Watcher) {
                for command in missed_deadlines(&state, now) {
                    (state, _) = run(state, command, now, &mut emitted);
                }
                continue;
            }
            let before: Vec<Event> = emitted.iter().flatten().cloned().collect();
            let (band, assessed, status) = oracle(&before);
            let not_ruled_out = |c: Category| matches!(status.get(&c), Some(CategoryStatus::Suspected | CategoryStatus::Confirmed));
            // In doubt, minority is presumed: a band declared at opening
            // (unknown or not) yields to a minor category until assessed.
            let presumed = !band.is_minor() && !assessed && CATEGORIES[..3].iter().any(|c| not_ruled_out(*c));
            let unaccompanied = (band.is_minor() || presumed) && not_ruled_out(Category::UnaccompaniedMinor);
            let vulnerable = band.is_minor() || status.values().any(|s| *s == CategoryStatus::Confirmed);
            let is_detention = matches!(op, Op::Place { kind: FacilityKind::Detention, .. });
            let with_grounds = matches!(op, Op::Place { grounds: true, .. });
            let (next, result) = run(state, command(&op, now), now, &mut emitted);
            state = next;
            if !is_detention {
                continue;
            }
            match result {
                Ok(()) => {
                    let commit = emitted.last().expect("a commit");
                    prop_assert!(!unaccompanied && !presumed, "a minor detained: {commit:?}");
                    let recorded = commit.iter().any(|e| matches!(e, Event::VulnerablePersonDetained { .. }));
                    prop_assert_eq!(recorded, vulnerable, "{:?}", commit);
                    prop_assert!(!vulnerable || with_grounds);
                }
                Err(ScreeningError::MinorInDetention) => prop_assert!(unaccompanied || presumed),
                Err(ScreeningError::DetentionNeedsJustification) => {
                    prop_assert!(vulnerable && !with_grounds && !unaccompanied && !presumed)
                }
                Err(_) => {}
            }
        }
        prop_assert_eq!(State::from_events(emitted.iter().flatten()), state);
    }

    #[test]
    fn the_first_reception_limit_is_never_recorded_before_day_46_and_once_per_stay(
        band in prop::sample::select(AgeBand::ALL),
        unaccompanied in any::<bool>(),
        steps in steps(),
    ) {
        let mut now = ARRIVAL;
        let mut opening = vec![opened_as(band)];
        if unaccompanied {
            opening.push(suspected(Category::UnaccompaniedMinor));
        }
        let mut state = given(&opening);
        let mut emitted = vec![opening];
        for (advance, op) in steps {
            now += advance;
            if matches!(op, Op::Watcher) {
                for command in missed_deadlines(&state, now) {
                    (state, _) = run(state, command, now, &mut emitted);
                }
            } else {
                (state, _) = run(state, command(&op, now), now, &mut emitted);
            }
        }
        // A last pass: whatever is due by now is recorded.
        for command in missed_deadlines(&state, now) {
            (state, _) = run(state, command, now, &mut emitted);
        }
        let mut per_stay: BTreeMap<Date, usize> = BTreeMap::new();
        for event in emitted.iter().flatten() {
            if let Event::FirstReceptionLimitExceeded { entered_on, due_at, detected_at, .. } = event {
                prop_assert_eq!(*due_at, limit_ends(*entered_on, 45));
                prop_assert!(detected_at >= due_at);
                prop_assert!((date_in_rome(*detected_at) - *entered_on).whole_days() >= 46);
                *per_stay.entry(*entered_on).or_default() += 1;
            }
        }
        prop_assert!(per_stay.values().all(|n| *n == 1), "{per_stay:?}");
        prop_assert!(per_stay.len() <= state.minor.first_reception.stays as usize);
        // Liveness: an unaccompanied minor past the limit of the current stay has it recorded.
        let stay = &state.minor.first_reception;
        if state.is_unaccompanied_minor() && !state.closed
            && let (Some(entered_on), Some(due)) = (stay.entered_on, stay.limit_ends_at())
            && due <= now
        {
            prop_assert_eq!(per_stay.get(&entered_on), Some(&1));
        }
    }

    #[test]
    fn follow_up_deadlines_are_never_recorded_early_and_once_each(steps in steps()) {
        let mut now = ARRIVAL;
        let mut state = given(&[opened()]);
        let mut emitted = vec![vec![opened()]];
        for (advance, op) in steps {
            now += advance;
            if matches!(op, Op::Watcher) {
                for command in missed_deadlines(&state, now) {
                    (state, _) = run(state, command, now, &mut emitted);
                }
            } else {
                (state, _) = run(state, command(&op, now), now, &mut emitted);
            }
        }
        let mut missed: BTreeMap<FollowUpId, usize> = BTreeMap::new();
        let mut lost: BTreeMap<OffsetDateTime, usize> = BTreeMap::new();
        for event in emitted.iter().flatten() {
            match event {
                Event::FollowUpMissed { follow_up_id, due_on, detected_at } => {
                    prop_assert!(date_in_rome(*detected_at) > *due_on);
                    *missed.entry(follow_up_id.clone()).or_default() += 1;
                }
                Event::LostToFollowUp { placed_at, due_at, detected_at, .. } => {
                    prop_assert!(detected_at >= due_at);
                    prop_assert_eq!(*due_at, *placed_at + Duration::hours(72));
                    *lost.entry(*placed_at).or_default() += 1;
                }
                _ => {}
            }
        }
        prop_assert!(missed.values().all(|n| *n == 1), "{missed:?}");
        prop_assert!(lost.values().all(|n| *n == 1), "{lost:?}");
    }
}
