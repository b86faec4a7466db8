//! Property tests: random commands by random actors over a forward-moving
//! clock, while screening changes the case (urgency raised or assessed,
//! placements, a category ruled out, closure), keep the lifecycle and the
//! replay consistent, and no sequence gives a deadline later than the case's
//! current urgency allows.

use proptest::prelude::*;

use super::support::*;

const PROP_START: OffsetDateTime = datetime!(2026-03-10 08:00 UTC);
const PROP_REFERRALS: [&str; 3] = ["p-1", "p-2", "p-3"];
const PROP_CONSENTS: [&str; 3] = ["pc-a", "pc-b", "pc-c"];
/// Receivers a referral may name (the referrer included, to exercise
/// self-referral; the third party is a health service, not an anti-violence centre).
const PROP_RECEIVERS: [&str; 4] = [RECEIVER, OTHER_CAV, REFERRER, THIRD];
/// Where the case may be placed.
const PROP_PLACES: [(&str, &str); 3] = [
    ("AG", FACILITY),
    ("AG", "cas-agrigento-2"),
    ("RM", ROME_FACILITY),
];

#[derive(Debug, Clone, Copy)]
enum PropActor {
    Org(&'static str),
    System,
    /// Whoever is entitled to the command: the referral's referrer for Send and
    /// Cancel, its receiver for the others, the referrer when there is no referral.
    Entitled,
}

impl PropActor {
    fn actor(self, state: &State, command: &Command) -> Actor {
        match self {
            PropActor::Org(raw) => Actor::Organisation(org(raw)),
            PropActor::System => Actor::System,
            PropActor::Entitled => {
                let referral = lifecycle_target(command).and_then(|id| state.referrals.get(id));
                match (referral, command) {
                    (Some(referral), Command::Send { .. } | Command::Cancel { .. }) => {
                        Actor::Organisation(referral.referrer.clone())
                    }
                    (Some(referral), _) => Actor::Organisation(referral.receiver.clone()),
                    (None, _) => Actor::Organisation(org(REFERRER)),
                }
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Give {
        consent: usize,
        exception: bool,
    },
    Withdraw {
        consent: usize,
    },
    Create {
        referral: usize,
        consent: usize,
        receiver: usize,
        urgency: Option<Urgency>,
        send: bool,
    },
    Lifecycle {
        referral: usize,
        kind: Kind,
        redirect: bool,
    },
    Mark {
        referral: usize,
        kind: DeadlineKind,
    },
    /// The watcher: runs everything `due_commands` lists.
    Watch,
    /// Screening: a check or signal raises the case's urgency.
    Raise(Urgency),
    /// Screening: an assessment sets the case's urgency (lower too).
    Assess(Urgency),
    /// Screening: the case is placed (maybe where it is).
    Place(usize),
    /// Screening: an assessment confirms or rules out GBV.
    Gbv(bool),
    /// Screening: the case is closed.
    Close,
}

impl Op {
    fn command(&self, now: OffsetDateTime) -> Command {
        match self {
            Op::Give { consent, exception } => Command::GiveConsent {
                consent_id: cid(PROP_CONSENTS[*consent]),
                recipient: Recipient::Organisation(org(RECEIVER)),
                basis: if *exception {
                    exception_basis()
                } else {
                    consent_basis(all_scopes(), now + Duration::days(3))
                },
                given_at: now,
            },
            Op::Withdraw { consent } => Command::WithdrawConsent {
                consent_id: cid(PROP_CONSENTS[*consent]),
            },
            Op::Create {
                referral,
                consent,
                receiver,
                urgency,
                send,
            } => create_with(
                PROP_REFERRALS[*referral],
                PROP_CONSENTS[*consent],
                PROP_RECEIVERS[*receiver],
                Dataset {
                    urgency: *urgency,
                    ..dataset()
                },
                *send,
            ),
            Op::Lifecycle {
                referral,
                kind,
                redirect,
            } => {
                let id = PROP_REFERRALS[*referral];
                match kind {
                    Kind::Decline if *redirect => Command::Decline {
                        referral_id: rid(id),
                        reason: DeclineReason::OutOfScope,
                        redirect_to: Some(org(THIRD)),
                    },
                    _ => kind.command(id),
                }
            }
            Op::Mark { referral, kind } => mark(PROP_REFERRALS[*referral], *kind),
            Op::Watch | Op::Raise(_) | Op::Assess(_) | Op::Place(_) | Op::Gbv(_) | Op::Close => {
                unreachable!("not one command of the referral record")
            }
        }
    }
}

fn prop_actor() -> impl Strategy<Value = PropActor> {
    prop_oneof![
        6 => Just(PropActor::Entitled),
        2 => Just(PropActor::Org(REFERRER)),
        2 => Just(PropActor::Org(RECEIVER)),
        1 => Just(PropActor::Org(OTHER_CAV)),
        1 => Just(PropActor::Org(THIRD)),
        1 => Just(PropActor::System),
    ]
}

/// A lifecycle command, biased towards moving forward so that deep states are reached.
fn lifecycle_kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        4 => Just(Kind::Send),
        2 => Just(Kind::Receive),
        4 => Just(Kind::Accept),
        1 => Just(Kind::Decline),
        4 => Just(Kind::TakeCharge),
        3 => Just(Kind::Hold),
        3 => Just(Kind::Resume),
        3 => Just(Kind::Complete),
        1 => Just(Kind::Cancel),
        1 => Just(Kind::MarkFailed),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let referral = 0..PROP_REFERRALS.len();
    let consent = 0..PROP_CONSENTS.len();
    prop_oneof![
        2 => (consent.clone(), any::<bool>())
            .prop_map(|(consent, exception)| Op::Give { consent, exception }),
        1 => consent.clone().prop_map(|consent| Op::Withdraw { consent }),
        8 => (
            referral.clone(),
            consent,
            0..PROP_RECEIVERS.len(),
            prop::option::of(prop::sample::select(Urgency::ALL)),
            prop::bool::weighted(0.75),
        )
            .prop_map(|(referral, consent, receiver, urgency, send)| Op::Create {
                referral,
                consent,
                receiver,
                urgency,
                send,
            }),
        40 => (referral.clone(), lifecycle_kind(), any::<bool>())
            .prop_map(|(referral, kind, redirect)| Op::Lifecycle { referral, kind, redirect }),
        6 => (referral, prop::sample::select(DeadlineKind::ALL))
            .prop_map(|(referral, kind)| Op::Mark { referral, kind }),
        6 => Just(Op::Watch),
        2 => prop::sample::select(Urgency::ALL).prop_map(Op::Raise),
        1 => prop::sample::select(Urgency::ALL).prop_map(Op::Assess),
        2 => (0..PROP_PLACES.len()).prop_map(Op::Place),
        1 => any::<bool>().prop_map(Op::Gbv),
        1 => Just(Op::Close),
    ]
}

/// How far the clock moves before a step, in minutes: mostly up to two hours,
/// sometimes up to a day and a half (past the deadlines).
fn advance() -> impl Strategy<Value = Duration> {
    prop_oneof![
        3 => (0i64..=120).prop_map(Duration::minutes),
        1 => (0i64..=36 * 60).prop_map(Duration::minutes),
    ]
}

/// The referral an event is about, if any.
fn referral_of(event: &Event) -> Option<&ReferralId> {
    match event {
        Event::ConsentGiven { .. }
        | Event::ConsentWithdrawn { .. }
        | Event::ConsentRefused { .. }
        | Event::DatasetRead { .. } => None,
        Event::ReferralDrafted { referral_id, .. }
        | Event::ReferralSent { referral_id, .. }
        | Event::ReferralReceived { referral_id, .. }
        | Event::ReferralAccepted { referral_id, .. }
        | Event::ReferralDeclined { referral_id, .. }
        | Event::TakenIntoCare { referral_id, .. }
        | Event::PutOnHold { referral_id, .. }
        | Event::Resumed { referral_id, .. }
        | Event::ReferralCompleted { referral_id, .. }
        | Event::ReferralCancelled { referral_id, .. }
        | Event::ReferralRevoked { referral_id, .. }
        | Event::ReferralExpired { referral_id, .. }
        | Event::ReferralFailed { referral_id, .. }
        | Event::DeadlinesTightened { referral_id, .. }
        | Event::ConsentWithdrawnDuringCare { referral_id, .. }
        | Event::CaseClosureNotified { referral_id, .. }
        | Event::ReferralCaseTransferred { referral_id, .. }
        | Event::DeadlineMissed { referral_id, .. } => Some(referral_id),
    }
}

/// What the property run keeps.
struct Run {
    now: OffsetDateTime,
    /// What screening recorded about the case so far.
    case: CaseFacts,
    state: State,
    accepted: Vec<Event>,
    marked: BTreeSet<(ReferralId, DeadlineKind)>,
}

/// The latest acknowledgement and answer deadlines the case's current urgency
/// allows a referral sent at `sent_at`: its windows from the later of sending
/// and the time the case reached that urgency.
fn allowed(case: &CaseFacts, sent_at: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
    let from = case
        .urgency_since
        .map_or(sent_at, |since| since.max(sent_at));
    DeadlinePolicy::default().deadlines(case.urgency(), from)
}

impl Run {
    fn context(&self, actor: &Actor, command: &Command) -> Context {
        let mut context = context(actor.clone(), self.now);
        context.case = self.case.clone();
        with_directory(context, &self.state, command)
    }

    /// Screening recorded `urgency` as the case's: since now if it changed.
    fn urgency(&mut self, urgency: CaseUrgency) {
        if urgency.current() != self.case.urgency.current() {
            self.case.urgency_since = Some(self.now);
        }
        self.case.urgency = urgency;
    }

    /// Decides `command` by `actor`; checks and applies the events of an accepted one.
    fn step(&mut self, command: Command, actor: &Actor) -> Result<bool, TestCaseError> {
        let context = self.context(actor, &command);
        let result = decide(&self.state, command.clone(), &context);

        // A lifecycle command by an organisation party to nothing in the referral is refused.
        if let (Some(referral_id), Actor::Organisation(outsider)) =
            (lifecycle_target(&command), actor)
            && let Some(referral) = self.state.referrals.get(referral_id)
            && *outsider != referral.referrer
            && *outsider != referral.receiver
        {
            prop_assert!(
                matches!(
                    result,
                    Err(ReferralError::NotTheReceiver | ReferralError::NotTheReferrer)
                ),
                "{command:?} by outsider {outsider}: {result:?}"
            );
        }
        if matches!(command, Command::CreateReferral { .. }) && *actor == Actor::System {
            prop_assert_eq!(&result, &Err(ReferralError::NotTheReferrer));
        }

        let Ok(events) = result else {
            return Ok(false);
        };
        prop_assert!(!events.is_empty(), "{command:?} accepted without events");
        for event in &events {
            if let Some(referral_id) = referral_of(event) {
                match (event, self.state.referrals.get(referral_id)) {
                    (Event::ReferralDrafted { .. }, existing) => {
                        prop_assert!(existing.is_none(), "{event:?} drafted twice");
                    }
                    (_, Some(referral)) => prop_assert!(
                        !referral.state.is_terminal(),
                        "{event:?} on a referral already {}",
                        referral.state
                    ),
                    (_, None) => prop_assert!(false, "{event:?} on an unknown referral"),
                }
            }
            if let Event::DeadlineMissed {
                referral_id,
                kind,
                due_at,
                detected_at,
            } = event
            {
                prop_assert!(
                    self.marked.insert((referral_id.clone(), *kind)),
                    "{kind} of {referral_id} missed twice"
                );
                prop_assert!(due_at <= detected_at);
                prop_assert_eq!(*detected_at, self.now);
                prop_assert!(!self.case.is_closed(), "{event:?} on a closed case");
            }
            // Sending: the deadlines of the case's urgency now, whatever the dataset says.
            if let Event::ReferralSent {
                sent_at,
                acknowledge_by,
                answer_by,
                urgency,
                ..
            } = event
            {
                prop_assert_eq!(*urgency, Some(self.case.urgency()));
                prop_assert_eq!(*sent_at, self.now);
                prop_assert_eq!(
                    (*acknowledge_by, *answer_by),
                    DeadlinePolicy::default().deadlines(self.case.urgency(), self.now)
                );
            }
            // Tightening: within what the case's urgency now allows.
            if let Event::DeadlinesTightened {
                referral_id,
                acknowledge_by,
                answer_by,
                ..
            } = event
            {
                let sent_at = self.state.referrals[referral_id].sent_at.expect("sent");
                let (ack, answer) = allowed(&self.case, sent_at);
                prop_assert!(
                    *acknowledge_by <= ack && *answer_by <= answer,
                    "{event:?} beyond {ack} {answer}"
                );
            }
            // No event moves a deadline later.
            let before = referral_of(event)
                .and_then(|id| self.state.referrals.get(id))
                .map(|r| (r.acknowledge_by, r.answer_by));
            self.state = self.state.clone().evolve(event);
            if let (Some((ack, answer)), Some(id)) = (before, referral_of(event)) {
                let after = &self.state.referrals[id];
                for (was, now) in [(ack, after.acknowledge_by), (answer, after.answer_by)] {
                    if let (Some(was), Some(now)) = (was, now) {
                        prop_assert!(now <= was, "{event:?} moved a deadline from {was} to {now}");
                    }
                }
            }
        }
        self.accepted.extend(events);
        Ok(true)
    }
}

/// The referral a lifecycle command (party-checked) is about.
fn lifecycle_target(command: &Command) -> Option<&ReferralId> {
    match command {
        Command::Send { referral_id }
        | Command::Receive { referral_id }
        | Command::Accept { referral_id }
        | Command::Decline { referral_id, .. }
        | Command::TakeCharge { referral_id }
        | Command::Hold { referral_id }
        | Command::Resume { referral_id }
        | Command::Complete { referral_id, .. }
        | Command::Cancel { referral_id, .. }
        | Command::MarkFailed { referral_id, .. } => Some(referral_id),
        Command::GiveConsent { .. }
        | Command::WithdrawConsent { .. }
        | Command::RefuseConsent { .. }
        | Command::CreateReferral { .. }
        | Command::MarkDeadlineMissed { .. }
        | Command::TightenDeadlines { .. }
        | Command::ReactToCaseClosure { .. }
        | Command::FollowCaseTransfer { .. }
        | Command::RecordDatasetRead { .. } => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_commands_keep_the_lifecycle_and_the_replay_consistent(
        steps in prop::collection::vec((advance(), prop_actor(), op()), 0..100),
    ) {
        let seed = [
            Event::ConsentGiven {
                consent_id: cid(PROP_CONSENTS[0]),
                recipient: Recipient::Organisation(org(RECEIVER)),
                // Expires during the run.
                basis: consent_basis(all_scopes(), PROP_START + Duration::days(20)),
                given_at: PROP_START,
                age_band: AgeBand::Adult,
            },
            Event::ConsentGiven {
                consent_id: cid(PROP_CONSENTS[1]),
                recipient: Recipient::ServiceType(ServiceType::AntiViolenceCentre),
                basis: exception_basis(),
                given_at: PROP_START,
                age_band: AgeBand::Adult,
            },
        ];
        let mut run = Run {
            now: PROP_START,
            case: CaseFacts {
                urgency_since: Some(PROP_START),
                ..case()
            },
            state: given(&seed),
            accepted: seed.to_vec(),
            marked: BTreeSet::new(),
        };

        for (advance, actor, op) in steps {
            run.now += advance;
            let before: BTreeMap<ReferralId, ReferralState> = run
                .state
                .referrals
                .iter()
                .map(|(id, referral)| (id.clone(), referral.state))
                .collect();

            match op {
                Op::Watch => {
                    for due in due_commands(&run.state, &run.case, run.now) {
                        let command = due.command();
                        let done = run.step(command.clone(), &Actor::System)?;
                        prop_assert!(done, "due {command:?} refused");
                    }
                    // After the watcher, every open deadline is within what
                    // the case's current urgency allows.
                    if !run.case.is_closed() {
                        for (id, referral) in &run.state.referrals {
                            let open = matches!(referral.state, ReferralState::Sent | ReferralState::Received);
                            let (Some(sent_at), true) = (referral.sent_at, open) else { continue };
                            let (ack, answer) = allowed(&run.case, sent_at);
                            prop_assert!(referral.acknowledge_by.is_some_and(|at| at <= ack), "{} acknowledgement {:?} after {}", id, referral.acknowledge_by, ack);
                            prop_assert!(referral.answer_by.is_some_and(|at| at <= answer), "{} answer {:?} after {}", id, referral.answer_by, answer);
                        }
                    }
                }
                Op::Raise(urgency) => run.urgency(run.case.urgency.raised(urgency)),
                Op::Assess(urgency) => run.urgency(run.case.urgency.assessed(urgency)),
                Op::Place(at) => {
                    let (province, facility) = PROP_PLACES[at];
                    run.case.place = Some(place(province, facility));
                }
                Op::Gbv(confirmed) => {
                    let status = if confirmed { CategoryStatus::Confirmed } else { CategoryStatus::RuledOut };
                    run.case.categories.insert(Category::Gbv, status);
                }
                Op::Close => run.case.closed = Some(code("left_reception")),
                op => {
                    let command = op.command(run.now);
                    let actor = actor.actor(&run.state, &command);
                    run.step(command, &actor)?;
                }
            }

            // The replay of every accepted event is the step-by-step state.
            prop_assert_eq!(&State::from_events(&run.accepted), &run.state);
            // Terminal states are never left.
            for (id, state) in &before {
                if state.is_terminal() {
                    prop_assert_eq!(run.state.referrals[id].state, *state, "{} left {}", id, state);
                }
            }
            // due_commands lists exactly what the service's own commands accept now.
            let listed: BTreeSet<String> = due_commands(&run.state, &run.case, run.now)
                .iter()
                .map(|due| format!("{:?}", due.command()))
                .collect();
            for id in PROP_REFERRALS {
                let mut commands: Vec<Command> = DeadlineKind::ALL.iter().map(|kind| mark(id, *kind)).collect();
                commands.extend([
                    Command::TightenDeadlines { referral_id: rid(id) },
                    Command::ReactToCaseClosure { referral_id: rid(id) },
                    Command::FollowCaseTransfer { referral_id: rid(id) },
                ]);
                for command in commands {
                    let context = run.context(&Actor::System, &command);
                    let accepted = decide(&run.state, command.clone(), &context).is_ok();
                    prop_assert_eq!(accepted, listed.contains(&format!("{command:?}")), "{:?}", command);
                }
            }
            // A marked deadline is never listed again.
            for (referral_id, kind) in &run.marked {
                prop_assert!(!listed.contains(&format!("{:?}", mark(referral_id.as_str(), *kind))), "{referral_id} {kind} listed after being marked");
            }
        }

        // Every DeadlineMissed at most once per (referral, kind), counted on the log too.
        let mut seen = BTreeSet::new();
        for event in &run.accepted {
            if let Event::DeadlineMissed { referral_id, kind, .. } = event {
                prop_assert!(seen.insert((referral_id.clone(), *kind)));
            }
            // An expiry only ever follows a missed answer.
            if let Event::ReferralExpired { referral_id, .. } = event {
                prop_assert!(seen.contains(&(referral_id.clone(), DeadlineKind::Answer)));
            }
        }
    }
}
