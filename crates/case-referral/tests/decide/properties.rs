//! Property tests: random commands by random actors over a forward-moving clock keep the lifecycle and the replay consistent.

use proptest::prelude::*;

use super::support::*;

const PROP_START: OffsetDateTime = datetime!(2026-03-10 08:00 UTC);
const PROP_REFERRALS: [&str; 3] = ["p-1", "p-2", "p-3"];
const PROP_CONSENTS: [&str; 3] = ["pc-a", "pc-b", "pc-c"];
/// Receivers a referral may name (the referrer included, to exercise self-referral).
const PROP_RECEIVERS: [&str; 3] = [RECEIVER, OTHER_CAV, REFERRER];

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
    /// The deadline watcher: marks everything `missed_deadlines` lists.
    Watch,
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
            Op::Watch => unreachable!("the watcher is not one command"),
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
        4 => Just(Op::Watch),
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
        Event::ConsentGiven { .. } | Event::ConsentWithdrawn { .. } | Event::DatasetRead { .. } => {
            None
        }
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
        | Event::DeadlineMissed { referral_id, .. } => Some(referral_id),
    }
}

/// What the property run keeps.
struct Run {
    now: OffsetDateTime,
    state: State,
    accepted: Vec<Event>,
    marked: BTreeSet<(ReferralId, DeadlineKind)>,
}

impl Run {
    /// Decides `command` by `actor`; checks and applies the events of an accepted one.
    fn step(&mut self, command: Command, actor: &Actor) -> Result<bool, TestCaseError> {
        let context = context(actor.clone(), self.now);
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
            }
            self.state = self.state.clone().evolve(event);
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
        | Command::Cancel { referral_id }
        | Command::MarkFailed { referral_id } => Some(referral_id),
        Command::GiveConsent { .. }
        | Command::WithdrawConsent { .. }
        | Command::CreateReferral { .. }
        | Command::MarkDeadlineMissed { .. }
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
            },
            Event::ConsentGiven {
                consent_id: cid(PROP_CONSENTS[1]),
                recipient: Recipient::ServiceType(ServiceType::AntiViolenceCentre),
                basis: exception_basis(),
                given_at: PROP_START,
            },
        ];
        let mut run = Run {
            now: PROP_START,
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

            if let Op::Watch = op {
                for (referral_id, kind) in missed_deadlines(&run.state, run.now) {
                    let command = Command::MarkDeadlineMissed { referral_id: referral_id.clone(), kind };
                    let done = run.step(command, &Actor::System)?;
                    prop_assert!(done, "listed deadline {kind} of {referral_id} refused");
                }
            } else {
                let command = op.command(run.now);
                let actor = actor.actor(&run.state, &command);
                run.step(command, &actor)?;
            }

            // The replay of every accepted event is the step-by-step state.
            prop_assert_eq!(&State::from_events(&run.accepted), &run.state);
            // Terminal states are never left.
            for (id, state) in &before {
                if state.is_terminal() {
                    prop_assert_eq!(run.state.referrals[id].state, *state, "{} left {}", id, state);
                }
            }
            // missed_deadlines lists exactly what MarkDeadlineMissed accepts now.
            let listed: BTreeSet<_> = missed_deadlines(&run.state, run.now).into_iter().collect();
            for id in PROP_REFERRALS {
                for kind in DeadlineKind::ALL {
                    let pair = (rid(id), *kind);
                    let accepted = decide(&run.state, mark(id, *kind), &system(run.now)).is_ok();
                    prop_assert_eq!(accepted, listed.contains(&pair), "{} {}", id, kind);
                }
            }
            // A marked deadline is never listed again.
            for pair in &run.marked {
                prop_assert!(!listed.contains(pair), "{pair:?} listed after being marked");
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
