//! Property tests: random command sequences over a forward-moving clock keep `decide` and replay consistent.

use proptest::prelude::*;

use super::support::*;

/// A command in the abstract: times are per-mille of the span from arrival to now,
/// so that every generated time lies between arrival and the current clock.
#[derive(Debug, Clone)]
enum Op {
    Open {
        applied: bool,
    },
    Check {
        categories: Vec<Category>,
        at: u16,
    },
    Signal {
        category: Category,
        disclosure: bool,
        at: u16,
    },
    Assess {
        outcomes: Vec<(Category, Outcome)>,
        needs: bool,
        at: u16,
    },
    Apply {
        at: u16,
    },
    Place {
        facility: u8,
        at: u16,
    },
    Close {
        at: u16,
    },
    MarkScreening,
    MarkAssessment,
    Identify {
        at: u16,
    },
}

fn between_arrival_and(now: OffsetDateTime, per_mille: u16) -> OffsetDateTime {
    let span = (now - ARRIVAL).whole_seconds().max(0);
    ARRIVAL + Duration::seconds(span * i64::from(per_mille.min(1000)) / 1000)
}

impl Op {
    fn command(&self, now: OffsetDateTime) -> Command {
        let at = |per_mille: u16| between_arrival_and(now, per_mille);
        match self {
            Op::Open { applied } => Command::Open(OpenCase {
                application_date: applied.then(|| ARRIVAL.date()),
                ..open_case()
            }),
            Op::Check { categories, at: t } => {
                Command::RecordPreliminaryCheck(check(categories, at(*t)))
            }
            Op::Signal {
                category,
                disclosure,
                at: t,
            } => {
                let mut raised = signal(*category, at(*t));
                raised.gbv_disclosure = *disclosure && is_gender_based(*category);
                Command::RaiseSignal(raised)
            }
            Op::Assess {
                outcomes,
                needs,
                at: t,
            } => Command::RecordAssessment(Assessment {
                special_reception_needs: *needs,
                ..assessment(outcomes, at(*t))
            }),
            Op::Apply { at: t } => Command::RecordApplication {
                application_date: at(*t).date(),
            },
            Op::Place { facility, at: t } => {
                let id = if *facility == 0 {
                    FIRST_FACILITY.to_owned()
                } else {
                    format!("facility-{facility}")
                };
                Command::Place(placement(&id, at(*t)))
            }
            Op::Close { at: t } => Command::Close {
                reason: CloseReason::Other,
                closed_at: at(*t),
            },
            Op::MarkScreening => Command::MarkScreeningDeadlineMissed,
            Op::MarkAssessment => Command::MarkAssessmentDeadlineMissed,
            Op::Identify { at: t } => Command::RecordFormalIdentification(identification(at(*t))),
        }
    }
}

fn category() -> impl Strategy<Value = Category> {
    prop::sample::select(Category::ALL)
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop::sample::select(Outcome::ALL)
}

fn op() -> impl Strategy<Value = Op> {
    let at = 0u16..=1000;
    prop_oneof![
        1 => any::<bool>().prop_map(|applied| Op::Open { applied }),
        4 => (prop::sample::subsequence(Category::ALL, 0..4), at.clone())
            .prop_map(|(categories, at)| Op::Check { categories, at }),
        8 => (category(), any::<bool>(), at.clone())
            .prop_map(|(category, disclosure, at)| Op::Signal { category, disclosure, at }),
        8 => (
            prop::sample::subsequence(Category::ALL, 0..4)
                .prop_flat_map(|cs| {
                    let n = cs.len();
                    (Just(cs), prop::collection::vec(outcome(), n))
                })
                .prop_map(|(cs, os)| cs.into_iter().zip(os).collect::<Vec<_>>()),
            any::<bool>(),
            at.clone(),
        )
            .prop_map(|(outcomes, needs, at)| Op::Assess { outcomes, needs, at }),
        4 => at.clone().prop_map(|at| Op::Apply { at }),
        4 => (0u8..3, at.clone()).prop_map(|(facility, at)| Op::Place { facility, at }),
        1 => at.prop_map(|at| Op::Close { at }),
        3 => Just(Op::MarkScreening),
        3 => Just(Op::MarkAssessment),
        2 => (0u16..=1000).prop_map(|at| Op::Identify { at }),
    ]
}

/// How far the clock moves before a step: up to four days, in minutes.
fn advance() -> impl Strategy<Value = Duration> {
    (0i64..=4 * 24 * 60).prop_map(Duration::minutes)
}

/// One step of the deadline property: applies the accepted events; the only refusals
/// expected are a deadline not (or no longer) missed and an application already recorded.
fn run_deadline_step(
    state: State,
    command: Command,
    now: OffsetDateTime,
    emitted: &mut Vec<Event>,
) -> State {
    match when(&state, command, now) {
        Ok(events) => {
            emitted.extend(events.iter().cloned());
            apply(state, &events)
        }
        Err(error) => {
            assert!(
                matches!(
                    error,
                    ScreeningError::DeadlineNotMissed | ScreeningError::ApplicationAlreadyRecorded
                ),
                "unexpected refusal {error:?}"
            );
            state
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decide_then_evolve_is_consistent_with_replay(
        start_opened in prop::bool::weighted(0.9),
        steps in prop::collection::vec((advance(), op()), 0..40),
    ) {
        let mut now = ARRIVAL;
        let mut state = State::default();
        let mut accepted: Vec<Event> = Vec::new();
        let mut ops: Vec<(Duration, Op)> = Vec::new();
        if start_opened {
            ops.push((Duration::ZERO, Op::Open { applied: false }));
        }
        ops.extend(steps);

        for (advance, op) in ops {
            now += advance;
            let command = op.command(now);
            let was_closed = accepted.iter().any(|e| matches!(e, Event::CaseClosed { .. }));
            let result = when(&state, command.clone(), now);
            if was_closed {
                prop_assert!(result.is_err(), "{command:?} after CaseClosed gave {result:?}");
            }
            if let Ok(events) = result {
                prop_assert!(!events.is_empty(), "{command:?} accepted without events");
                state = apply(state, &events);
                accepted.extend(events);
            }
            prop_assert_eq!(&State::from_events(&accepted), &state);
            prop_assert_eq!(
                state.closed,
                accepted.iter().any(|e| matches!(e, Event::CaseClosed { .. }))
            );
        }

        if let Some(position) = accepted.iter().position(|e| matches!(e, Event::CaseClosed { .. })) {
            prop_assert_eq!(position, accepted.len() - 1, "events after CaseClosed: {:?}", accepted);
        }
        let opens = accepted.iter().filter(|e| matches!(e, Event::CaseOpened(_))).count();
        prop_assert!(opens <= 1);
        if opens == 1 {
            prop_assert!(matches!(accepted.first(), Some(Event::CaseOpened(_))));
        }
    }

    #[test]
    fn deadline_events_are_produced_at_most_once(
        applied_after_days in prop::option::of(0i64..=6),
        steps in prop::collection::vec(
            ((0i64..=10 * 24).prop_map(Duration::hours), 0u8..4),
            0..40,
        ),
    ) {
        let opening = match applied_after_days {
            Some(days) => opened_with_application((ARRIVAL + Duration::days(days)).date()),
            None => opened(),
        };
        // The application date must not be in the future at the opening.
        let mut now = ARRIVAL + Duration::days(applied_after_days.unwrap_or(0));
        let mut state = given(std::slice::from_ref(&opening));
        let mut emitted: Vec<Event> = Vec::new();

        for (advance, kind) in steps {
            now += advance;
            match kind {
                0 => state = run_deadline_step(state, Command::MarkScreeningDeadlineMissed, now, &mut emitted),
                1 => state = run_deadline_step(state, Command::MarkAssessmentDeadlineMissed, now, &mut emitted),
                2 => {
                    // The deadline watcher: everything due now.
                    for command in missed_deadlines(&state, now) {
                        state = run_deadline_step(state, command, now, &mut emitted);
                    }
                }
                _ => {
                    let application_date = now.date();
                    state = run_deadline_step(state, Command::RecordApplication { application_date }, now, &mut emitted);
                }
            }
        }
        // A last pass of the watcher: whatever is overdue is now marked.
        for command in missed_deadlines(&state, now) {
            state = run_deadline_step(state, command, now, &mut emitted);
        }

        let screening = emitted.iter().filter(|e| matches!(e, Event::ScreeningDeadlineMissed { .. })).count();
        let assessment = emitted.iter().filter(|e| matches!(e, Event::AssessmentDeadlineMissed { .. })).count();
        prop_assert!(screening <= 1, "{emitted:?}");
        prop_assert!(assessment <= 1, "{emitted:?}");
        prop_assert_eq!(screening, usize::from(now >= SCREENING_DUE));
        let assessment_overdue = state.assessment_due_at().is_some_and(|due| now >= due);
        prop_assert_eq!(assessment, usize::from(assessment_overdue));
        for event in &emitted {
            match event {
                Event::ScreeningDeadlineMissed { due_at, detected_at } => {
                    prop_assert_eq!(*due_at, SCREENING_DUE);
                    prop_assert!(detected_at >= due_at);
                }
                Event::AssessmentDeadlineMissed { due_at, detected_at } => {
                    prop_assert_eq!(Some(*due_at), state.assessment_due_at());
                    prop_assert!(detected_at >= due_at);
                }
                other => prop_assert!(matches!(other, Event::ApplicationRecorded { .. }), "{other:?}"),
            }
        }
        prop_assert_eq!(State::from_events(std::iter::once(&opening).chain(&emitted)), state);
    }
}

/// What the deadline-bound property does at a step.
#[derive(Debug, Clone)]
enum Step {
    Check(Vec<Category>, u16),
    Signal(Category, u16),
    Assess(Vec<(Category, Outcome)>, u16),
    Apply(u16),
    /// The deadline watcher's pass: every deadline command due now.
    Watch,
}

fn step() -> impl Strategy<Value = Step> {
    let at = 0u16..=1000;
    // Few categories, so that they recur: suspected, assessed, suspected again.
    let few = prop::sample::select(
        &[
            Category::Torture,
            Category::Pregnant,
            Category::Trafficking,
            Category::Other,
        ][..],
    );
    prop_oneof![
        2 => (prop::collection::btree_set(few.clone(), 0..3), at.clone())
            .prop_map(|(cs, at)| Step::Check(cs.into_iter().collect(), at)),
        5 => (few.clone(), at.clone()).prop_map(|(c, at)| Step::Signal(c, at)),
        5 => (
            prop::collection::btree_map(few, outcome(), 1..3),
            at.clone(),
        )
            .prop_map(|(os, at)| Step::Assess(os.into_iter().collect(), at)),
        1 => at.prop_map(Step::Apply),
        4 => Just(Step::Watch),
    ]
}

/// The rules, written again independently of the crate from the events
/// accepted: where each duty's deadline lies, and whether it is still open.
#[derive(Debug, Default)]
struct Oracle {
    screening_due: Option<OffsetDateTime>,
    screened: bool,
    application: Option<Date>,
    statuses: std::collections::BTreeMap<Category, CategoryStatus>,
    /// Categories suspected before the first assessment still not assessed
    /// (`None` before the first assessment).
    initial: Option<std::collections::BTreeSet<Category>>,
    completed: bool,
    /// Needs identified after the first assessment: category -> its deadline.
    later: std::collections::BTreeMap<Category, OffsetDateTime>,
}

impl Oracle {
    fn seen(&mut self, event: &Event) {
        match event {
            Event::CaseOpened(open) => {
                let from = match open.facility_kind {
                    Some(FacilityKind::Hotspot) | None => open.arrived_at,
                    Some(_) => open.opened_at.expect("opened at"),
                };
                self.screening_due = Some(limit_ends(date_in_rome(from), 7));
                self.application = open.application_date;
            }
            Event::PreliminaryCheckRecorded(check) => {
                self.screened = true;
                for s in &check.suspected {
                    self.suspect(s.category, check.checked_at);
                }
            }
            Event::VulnerabilitySignalRaised(signal) => {
                self.suspect(signal.suspected.category, signal.raised_at)
            }
            Event::AssessmentRecorded { assessment, .. } => {
                let statuses = &self.statuses;
                let initial = self.initial.get_or_insert_with(|| {
                    statuses
                        .iter()
                        .filter(|(_, s)| **s == CategoryStatus::Suspected)
                        .map(|(c, _)| *c)
                        .collect()
                });
                for (category, outcome) in &assessment.outcomes {
                    initial.remove(category);
                    self.later.remove(category);
                    self.statuses.insert(*category, outcome.status());
                }
                self.completed |= initial.is_empty();
            }
            Event::ApplicationRecorded { application_date } => {
                self.application = Some(*application_date)
            }
            _ => {}
        }
    }

    fn suspect(&mut self, category: Category, at: OffsetDateTime) {
        let status = self.statuses.get(&category).copied();
        if matches!(status, None | Some(CategoryStatus::RuledOut)) {
            self.statuses.insert(category, CategoryStatus::Suspected);
            if self.initial.is_some() {
                self.later
                    .insert(category, limit_ends(date_in_rome(at), 30));
            }
        }
    }

    fn assessment_due(&self) -> Option<OffsetDateTime> {
        self.application.map(|day| limit_ends(day, 30))
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// No sequence of checks, signals, assessments and applications, at a
    /// hotspot or in the territory, gives a screening, assessment or need
    /// deadline later than the rules allow, and the watcher marks each duty
    /// still open once its deadline has passed.
    #[test]
    fn no_deadline_is_later_than_the_rules_allow(
        kind in prop::sample::select(FacilityKind::ALL),
        opened_after_hours in 0i64..=60 * 24,
        applied_days_before_opening in prop::option::of(0i64..=20),
        steps in prop::collection::vec(((0i64..=5 * 24 * 60).prop_map(Duration::minutes), step()), 0..40),
    ) {
        let opened_at = ARRIVAL + Duration::hours(opened_after_hours);
        let open = OpenCase {
            facility_kind: Some(kind),
            application_date: applied_days_before_opening
                .map(|days| date_in_rome(opened_at) - Duration::days(days)),
            ..open_case()
        };
        let mut now = opened_at;
        let mut state = State::default();
        let mut oracle = Oracle::default();
        let mut emitted: Vec<Event> = Vec::new();
        let mut run = |state: &mut State, oracle: &mut Oracle, command: Command, now: OffsetDateTime| {
            if let Ok(events) = when(state, command, now) {
                for event in &events {
                    oracle.seen(event);
                }
                *state = apply(state.clone(), &events);
                emitted.extend(events);
            }
        };
        run(&mut state, &mut oracle, Command::Open(open), now);
        prop_assert!(state.opened.is_some());
        for (advance, step) in steps {
            now += advance;
            let at = |per_mille: u16| between_arrival_and(now, per_mille);
            match step {
                Step::Check(categories, t) => {
                    run(&mut state, &mut oracle, Command::RecordPreliminaryCheck(check(&categories, at(t))), now)
                }
                Step::Signal(category, t) => {
                    run(&mut state, &mut oracle, Command::RaiseSignal(signal(category, at(t))), now)
                }
                Step::Assess(outcomes, t) => {
                    run(&mut state, &mut oracle, Command::RecordAssessment(assessment(&outcomes, at(t))), now)
                }
                Step::Apply(t) => run(
                    &mut state,
                    &mut oracle,
                    Command::RecordApplication { application_date: date_in_rome(at(t)) },
                    now,
                ),
                Step::Watch => {
                    for command in missed_deadlines(&state, now) {
                        run(&mut state, &mut oracle, command, now);
                    }
                    // After a pass, every duty whose deadline passed is marked.
                    if let Some(due) = oracle.screening_due
                        && due <= now && !oracle.screened
                    {
                        prop_assert!(state.screening_deadline_missed, "screening due {due}, now {now}");
                    }
                    if let Some(due) = oracle.assessment_due()
                        && due <= now && !oracle.completed
                    {
                        prop_assert!(state.assessment_deadline_missed, "assessment due {due}, now {now}");
                    }
                    for (category, due) in &oracle.later {
                        if *due <= now {
                            prop_assert!(
                                state.late_needs.get(category).is_some_and(|n| n.deadline_missed),
                                "{category} due {due}, now {now}: {:?}", state.late_needs
                            );
                        }
                    }
                }
            }
            // The record's deadlines are never later than the rules'.
            prop_assert_eq!(state.screening_due_at(), oracle.screening_due);
            prop_assert_eq!(state.assessment_due_at(), oracle.assessment_due());
            prop_assert_eq!(state.assessment_completed(), oracle.completed);
            prop_assert_eq!(
                state.late_needs.iter().map(|(c, n)| (*c, n.due_at)).collect::<Vec<_>>(),
                oracle.later.iter().map(|(c, d)| (*c, *d)).collect::<Vec<_>>()
            );
        }
        for event in &emitted {
            match event {
                Event::ScreeningDeadlineMissed { due_at, detected_at } => {
                    prop_assert!(Some(*due_at) <= oracle.screening_due);
                    prop_assert!(detected_at >= due_at);
                }
                Event::AssessmentDeadlineMissed { due_at, detected_at } => {
                    prop_assert!(Some(*due_at) <= oracle.assessment_due());
                    prop_assert!(detected_at >= due_at);
                }
                Event::NeedIdentifiedAfterAssessment { raised_at, due_at, .. } => {
                    prop_assert!(*due_at <= limit_ends(date_in_rome(*raised_at), 30));
                }
                Event::NeedAssessmentDeadlineMissed { raised_at, due_at, detected_at, .. } => {
                    prop_assert!(*due_at <= limit_ends(date_in_rome(*raised_at), 30));
                    prop_assert!(detected_at >= due_at);
                }
                _ => {}
            }
        }
    }
}
