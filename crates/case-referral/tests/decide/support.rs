//! Fixtures (fixed times, never the system clock), a referral brought to any
//! state, and the given/when/then helpers every module of the referral tests shares.

pub use std::collections::{BTreeMap, BTreeSet};

pub use case_referral::directory::OrganisationProfile;
pub use case_referral::{
    Actor, Basis, CancelReason, CareOutcome, CaseFacts, Code, Command, ConsentId, Context,
    DataScope, Dataset, DeadlineKind, DeadlinePolicy, DeclineReason, Due, Event, ExceptionReason,
    FacilityId, FailureReason, Grantor, Language, MinorsPolicy, OrganisationId, Place, Province,
    Recipient, ReferralError, ReferralId, ReferralState, ServiceType, State, decide, due_commands,
};
pub use expect_test::expect;
pub use pathway::{AgeBand, CaseUrgency, Category, CategoryStatus, Urgency};
pub use time::macros::datetime;
pub use time::{Duration, OffsetDateTime};

/// When the case reached its fixture urgency (high).
pub const URGENCY_SINCE: OffsetDateTime = datetime!(2026-03-09 12:00 UTC);
/// When the consent of the fixtures was given.
pub const GIVEN_AT: OffsetDateTime = datetime!(2026-03-10 09:00 UTC);
/// When the fixture referral was sent.
pub const SENT_AT: OffsetDateTime = datetime!(2026-03-10 10:00 UTC);
/// `SENT_AT` + 24 h: the fixture case is of high urgency.
pub const ACK_BY: OffsetDateTime = datetime!(2026-03-11 10:00 UTC);
/// `SENT_AT` + 2 * 24 h.
pub const ANSWER_BY: OffsetDateTime = datetime!(2026-03-12 10:00 UTC);
/// When the fixture referral was received.
pub const RECEIVED_AT: OffsetDateTime = datetime!(2026-03-10 11:00 UTC);
/// When the fixture referral was accepted.
pub const ACCEPTED_AT: OffsetDateTime = datetime!(2026-03-10 11:30 UTC);
/// `ACCEPTED_AT` + 7 days.
pub const TAKE_CHARGE_BY: OffsetDateTime = datetime!(2026-03-17 11:30 UTC);
/// When the later fixture transitions happened (in care, on hold, ...).
pub const LATER: OffsetDateTime = datetime!(2026-03-10 11:45 UTC);
/// "Now" for most tests: after every fixture event, before every fixture deadline.
pub const NOW: OffsetDateTime = datetime!(2026-03-10 12:00 UTC);
/// Until when the fixture consent is valid.
pub const VALID_UNTIL: OffsetDateTime = datetime!(2026-06-10 00:00 UTC);

pub const REFERRER: &str = "cas-agrigento";
pub const RECEIVER: &str = "cav-differenza-donna";
/// Another anti-violence centre: a redirect target, a second receiver of the same type.
pub const OTHER_CAV: &str = "cav-palermo";
/// An organisation that is party to nothing in the fixtures.
pub const THIRD: &str = "asl-roma-1";

/// The fixture case's facility (in AG), and another in RM.
pub const FACILITY: &str = "cas-agrigento";
pub const ROME_FACILITY: &str = "cas-roma-1";

pub const REFERRAL: &str = "ref-1";
pub const CONSENT: &str = "consent-1";

pub fn org(raw: &str) -> OrganisationId {
    OrganisationId::parse(raw).expect("valid organisation id")
}

pub fn rid(raw: &str) -> ReferralId {
    ReferralId::parse(raw).expect("valid referral id")
}

pub fn cid(raw: &str) -> ConsentId {
    ConsentId::parse(raw).expect("valid consent id")
}

pub fn code(raw: &str) -> Code {
    Code::parse(raw).expect("valid code")
}

pub fn language(raw: &str) -> Language {
    Language::parse(raw).expect("valid language")
}

pub fn place(province: &str, facility: &str) -> Place {
    Place {
        province: Province::parse(province).expect("valid province"),
        facility_id: FacilityId::parse(facility).expect("valid facility id"),
    }
}

/// The fixture case: in `FACILITY` (AG), GBV confirmed and TRAFFICKING
/// suspected, MENTAL_HEALTH ruled out, of high urgency since `URGENCY_SINCE`,
/// an adult (as assessed), open.
pub fn case() -> CaseFacts {
    CaseFacts {
        place: Some(place("AG", FACILITY)),
        categories: [
            (Category::Gbv, CategoryStatus::Confirmed),
            (Category::Trafficking, CategoryStatus::Suspected),
            (Category::MentalHealth, CategoryStatus::RuledOut),
        ]
        .into_iter()
        .collect(),
        urgency: CaseUrgency::default().raised(Urgency::High),
        urgency_since: Some(URGENCY_SINCE),
        age_band: AgeBand::Adult,
        age_assessed: true,
        closed: None,
    }
}

/// The directory's entry of a fixture organisation: the anti-violence
/// centres offer `anti_violence_centre` and `shelter`, the third party a
/// health service, the referrer SAI places; all active.
pub fn profile(organisation: &str) -> OrganisationProfile {
    let service_types = match organisation {
        RECEIVER | OTHER_CAV => vec![ServiceType::AntiViolenceCentre, ServiceType::Shelter],
        THIRD => vec![ServiceType::HealthService],
        _ => vec![ServiceType::Sai],
    };
    OrganisationProfile {
        organisation_id: org(organisation),
        name: case_referral::OrganisationName::parse("Centro").expect("name"),
        service_types,
        provinces: vec![Province::parse("AG").expect("province")],
        languages: vec![],
        accessibility: vec![],
        opening_hours: case_referral::OpeningHours::parse("").expect("hours"),
        intake_channel: None,
        availability: case_referral::Availability::Available,
        active: true,
    }
}

/// The context as the service builds it for `command` on `state`: the
/// directory entry of the organisation the command refers to or sends to.
pub fn with_directory(mut context: Context, state: &State, command: &Command) -> Context {
    context.receiver = match command {
        Command::CreateReferral { receiver, .. } => Some(profile(receiver.as_str())),
        Command::Send { referral_id } => state
            .referrals
            .get(referral_id)
            .map(|r| profile(r.receiver.as_str())),
        _ => context.receiver,
    };
    context
}

pub fn scopes(list: &[DataScope]) -> BTreeSet<DataScope> {
    list.iter().copied().collect()
}

pub fn all_scopes() -> BTreeSet<DataScope> {
    scopes(DataScope::ALL)
}

/// The full minimum dataset: every scope is required.
pub fn dataset() -> Dataset {
    Dataset {
        categories: vec![Category::Gbv],
        urgency: Some(Urgency::High),
        languages: vec![language("tir")],
        communication_needs: vec![code("female_interpreter")],
        safety_instructions: vec![code("call_only_in_the_morning")],
    }
}

pub fn consent_basis(scopes: BTreeSet<DataScope>, valid_until: OffsetDateTime) -> Basis {
    Basis::Consent {
        purpose: code("gbv_support"),
        scopes,
        valid_until,
        grantor: Grantor::Person,
    }
}

pub fn exception_basis() -> Basis {
    Basis::Exception {
        reason: ExceptionReason::RiskToLife,
        authority: code("juvenile_court_palermo"),
    }
}

pub fn consent_given(consent_id: &str, recipient: Recipient, basis: Basis) -> Event {
    Event::ConsentGiven {
        consent_id: cid(consent_id),
        recipient,
        basis,
        given_at: GIVEN_AT,
        age_band: AgeBand::Adult,
    }
}

/// A consent to `RECEIVER` covering every scope until `VALID_UNTIL`.
pub fn consent_to_receiver(consent_id: &str) -> Event {
    consent_given(
        consent_id,
        Recipient::Organisation(org(RECEIVER)),
        consent_basis(all_scopes(), VALID_UNTIL),
    )
}

pub fn drafted(referral_id: &str, consent_id: &str) -> Event {
    drafted_with(referral_id, consent_id, RECEIVER, dataset())
}

pub fn drafted_with(
    referral_id: &str,
    consent_id: &str,
    receiver: &str,
    dataset: Dataset,
) -> Event {
    Event::ReferralDrafted {
        referral_id: rid(referral_id),
        referrer: org(REFERRER),
        receiver: org(receiver),
        service_type: ServiceType::AntiViolenceCentre,
        consent_id: cid(consent_id),
        dataset: Some(dataset),
        place: Some(place("AG", FACILITY)),
        rules_version: 1,
    }
}

pub fn sent(referral_id: &str) -> Event {
    Event::ReferralSent {
        referral_id: rid(referral_id),
        sent_at: SENT_AT,
        acknowledge_by: ACK_BY,
        answer_by: ANSWER_BY,
        urgency: Some(Urgency::High),
        policy_version: 1,
    }
}

/// The events that bring a referral on `consent_id` from nothing to `target`.
pub fn path_to(referral_id: &str, consent_id: &str, target: ReferralState) -> Vec<Event> {
    use ReferralState as S;
    let id = || rid(referral_id);
    let draft = vec![drafted(referral_id, consent_id)];
    let sent_ = [draft.clone(), vec![sent(referral_id)]].concat();
    let received = [
        sent_.clone(),
        vec![Event::ReferralReceived {
            referral_id: id(),
            at: RECEIVED_AT,
        }],
    ]
    .concat();
    let accepted = [
        received.clone(),
        vec![Event::ReferralAccepted {
            referral_id: id(),
            at: ACCEPTED_AT,
            take_charge_by: TAKE_CHARGE_BY,
        }],
    ]
    .concat();
    let in_care = [
        accepted.clone(),
        vec![Event::TakenIntoCare {
            referral_id: id(),
            at: LATER,
        }],
    ]
    .concat();
    let then = |before: &[Event], event: Event| [before.to_vec(), vec![event]].concat();
    match target {
        S::Draft => draft,
        S::Sent => sent_,
        S::Received => received,
        S::Accepted => accepted,
        S::Declined => then(
            &received,
            Event::ReferralDeclined {
                referral_id: id(),
                at: LATER,
                reason: DeclineReason::NoCapacity,
                redirect_to: None,
            },
        ),
        S::Redirected => then(
            &received,
            Event::ReferralDeclined {
                referral_id: id(),
                at: LATER,
                reason: DeclineReason::OutOfScope,
                redirect_to: Some(org(OTHER_CAV)),
            },
        ),
        S::InCare => in_care,
        S::OnHold => then(
            &in_care,
            Event::PutOnHold {
                referral_id: id(),
                at: LATER,
            },
        ),
        S::Completed => then(
            &in_care,
            Event::ReferralCompleted {
                referral_id: id(),
                at: LATER,
                outcome: CareOutcome::GoalsMet,
            },
        ),
        S::Cancelled => then(
            &sent_,
            Event::ReferralCancelled {
                referral_id: id(),
                at: LATER,
                reason: CancelReason::ReferrerDecision,
            },
        ),
        S::Revoked => [
            sent_,
            vec![
                Event::ConsentWithdrawn {
                    consent_id: cid(consent_id),
                    withdrawn_at: LATER,
                },
                Event::ReferralRevoked {
                    referral_id: id(),
                    at: LATER,
                    consent_id: cid(consent_id),
                },
            ],
        ]
        .concat(),
        S::Expired => [
            sent_,
            vec![
                Event::DeadlineMissed {
                    referral_id: id(),
                    kind: DeadlineKind::Answer,
                    due_at: ANSWER_BY,
                    detected_at: ANSWER_BY,
                },
                Event::ReferralExpired {
                    referral_id: id(),
                    at: ANSWER_BY,
                },
            ],
        ]
        .concat(),
        S::Failed => then(
            &in_care,
            Event::ReferralFailed {
                referral_id: id(),
                at: LATER,
                reason: Some(FailureReason::LostContact),
            },
        ),
    }
}

/// The fixture: consent `CONSENT` to `RECEIVER`, and referral `REFERRAL` in `target`.
pub fn referral_in(target: ReferralState) -> Vec<Event> {
    [
        vec![consent_to_receiver(CONSENT)],
        path_to(REFERRAL, CONSENT, target),
    ]
    .concat()
}

pub fn given(events: &[Event]) -> State {
    State::from_events(events)
}

/// The fixture context: the fixture case, rules version 1, the default
/// policies; no directory entry (`when` gives the one the command needs
/// from the fixture directory, as the service does).
pub fn context(actor: Actor, now: OffsetDateTime) -> Context {
    Context {
        now,
        actor,
        case: case(),
        receiver: None,
        rules_version: 1,
        deadlines: DeadlinePolicy::default(),
        minors: MinorsPolicy::default(),
    }
}

pub fn by(organisation: &str, now: OffsetDateTime) -> Context {
    context(Actor::Organisation(org(organisation)), now)
}

pub fn system(now: OffsetDateTime) -> Context {
    context(Actor::System, now)
}

/// Decides `command`; a context without a directory entry gets the one the
/// command needs from the fixture directory ([`with_directory`]).
pub fn when(
    state: &State,
    command: Command,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
    if context.receiver.is_none() {
        let context = with_directory(context.clone(), state, &command);
        return decide(state, command, &context);
    }
    decide(state, command, context)
}

/// Applies the accepted events to `state`, as the service does after `decide`.
pub fn apply(state: State, events: &[Event]) -> State {
    events.iter().fold(state, State::evolve)
}

pub fn state_of(state: &State, referral_id: &str) -> ReferralState {
    state
        .referrals
        .get(&rid(referral_id))
        .expect("the referral exists")
        .state
}

/// Asserts that the result is `Invalid` on exactly `field`.
#[track_caller]
pub fn assert_invalid(result: Result<Vec<Event>, ReferralError>, expected_field: &str) {
    match result {
        Err(ReferralError::Invalid { field, reason }) => {
            assert_eq!(field, expected_field, "wrong field (reason: {reason})");
            assert!(!reason.is_empty(), "an Invalid error must give a reason");
        }
        other => panic!("expected Invalid {{ field: {expected_field:?} }}, got {other:?}"),
    }
}

pub fn create(referral_id: &str, consent_id: &str, send: bool) -> Command {
    create_with(referral_id, consent_id, RECEIVER, dataset(), send)
}

pub fn create_with(
    referral_id: &str,
    consent_id: &str,
    receiver: &str,
    dataset: Dataset,
    send: bool,
) -> Command {
    Command::CreateReferral {
        referral_id: rid(referral_id),
        receiver: org(receiver),
        service_type: ServiceType::AntiViolenceCentre,
        consent_id: cid(consent_id),
        dataset,
        send,
    }
}

pub fn give(consent_id: &str, recipient: Recipient, basis: Basis) -> Command {
    Command::GiveConsent {
        consent_id: cid(consent_id),
        recipient,
        basis,
        given_at: NOW,
    }
}

pub fn mark(referral_id: &str, kind: DeadlineKind) -> Command {
    Command::MarkDeadlineMissed {
        referral_id: rid(referral_id),
        kind,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Send,
    Receive,
    Accept,
    Decline,
    TakeCharge,
    Hold,
    Resume,
    Complete,
    Cancel,
    MarkFailed,
}

impl Kind {
    pub const ALL: &'static [Kind] = &[
        Kind::Send,
        Kind::Receive,
        Kind::Accept,
        Kind::Decline,
        Kind::TakeCharge,
        Kind::Hold,
        Kind::Resume,
        Kind::Complete,
        Kind::Cancel,
        Kind::MarkFailed,
    ];

    pub fn command(self, referral_id: &str) -> Command {
        let referral_id = rid(referral_id);
        match self {
            Kind::Send => Command::Send { referral_id },
            Kind::Receive => Command::Receive { referral_id },
            Kind::Accept => Command::Accept { referral_id },
            Kind::Decline => Command::Decline {
                referral_id,
                reason: DeclineReason::NoCapacity,
                redirect_to: None,
            },
            Kind::TakeCharge => Command::TakeCharge { referral_id },
            Kind::Hold => Command::Hold { referral_id },
            Kind::Resume => Command::Resume { referral_id },
            Kind::Complete => Command::Complete {
                referral_id,
                outcome: CareOutcome::GoalsMet,
            },
            Kind::Cancel => Command::Cancel {
                referral_id,
                reason: CancelReason::ReferrerDecision,
            },
            Kind::MarkFailed => Command::MarkFailed {
                referral_id,
                reason: Some(FailureReason::LostContact),
            },
        }
    }

    /// The organisation entitled to make the transition (MarkFailed: either, here the receiver).
    pub fn party(self) -> &'static str {
        match self {
            Kind::Send | Kind::Cancel => REFERRER,
            _ => RECEIVER,
        }
    }

    /// The allowed transitions, from the domain brief: (from, to).
    pub fn allowed(self) -> &'static [(ReferralState, ReferralState)] {
        use ReferralState as S;
        match self {
            Kind::Send => &[(S::Draft, S::Sent)],
            Kind::Receive => &[(S::Sent, S::Received)],
            Kind::Accept => &[(S::Sent, S::Accepted), (S::Received, S::Accepted)],
            Kind::Decline => &[(S::Sent, S::Declined), (S::Received, S::Declined)],
            Kind::TakeCharge => &[(S::Accepted, S::InCare)],
            Kind::Hold => &[(S::InCare, S::OnHold)],
            Kind::Resume => &[(S::OnHold, S::InCare)],
            Kind::Complete => &[(S::InCare, S::Completed)],
            Kind::Cancel => &[
                (S::Draft, S::Cancelled),
                (S::Sent, S::Cancelled),
                (S::Received, S::Cancelled),
                // Not from accepted: once accepted the referral is the receiver's,
                // so an accept and a cancel racing have exactly one winner.
            ],
            Kind::MarkFailed => &[
                (S::Accepted, S::Failed),
                (S::InCare, S::Failed),
                (S::OnHold, S::Failed),
            ],
        }
    }

    /// The exact events of the transition from `from` at `now` (default policy, a case of high urgency).
    pub fn expected_events(self, from: ReferralState, now: OffsetDateTime) -> Vec<Event> {
        let referral_id = rid(REFERRAL);
        let at = now;
        match self {
            Kind::Send => vec![Event::ReferralSent {
                referral_id,
                sent_at: now,
                acknowledge_by: now + Duration::hours(24),
                answer_by: now + Duration::hours(48),
                urgency: Some(Urgency::High),
                policy_version: 1,
            }],
            Kind::Receive => vec![Event::ReferralReceived { referral_id, at }],
            Kind::Accept => {
                let accepted = Event::ReferralAccepted {
                    referral_id: referral_id.clone(),
                    at,
                    take_charge_by: now + Duration::days(7),
                };
                if from == ReferralState::Sent {
                    vec![Event::ReferralReceived { referral_id, at }, accepted]
                } else {
                    vec![accepted]
                }
            }
            Kind::Decline => {
                let declined = Event::ReferralDeclined {
                    referral_id: referral_id.clone(),
                    at,
                    reason: DeclineReason::NoCapacity,
                    redirect_to: None,
                };
                if from == ReferralState::Sent {
                    vec![Event::ReferralReceived { referral_id, at }, declined]
                } else {
                    vec![declined]
                }
            }
            Kind::TakeCharge => vec![Event::TakenIntoCare { referral_id, at }],
            Kind::Hold => vec![Event::PutOnHold { referral_id, at }],
            Kind::Resume => vec![Event::Resumed { referral_id, at }],
            Kind::Complete => vec![Event::ReferralCompleted {
                referral_id,
                at,
                outcome: CareOutcome::GoalsMet,
            }],
            Kind::Cancel => vec![Event::ReferralCancelled {
                referral_id,
                at,
                reason: CancelReason::ReferrerDecision,
            }],
            Kind::MarkFailed => vec![Event::ReferralFailed {
                referral_id,
                at,
                reason: Some(FailureReason::LostContact),
            }],
        }
    }
}

/// The outcome of a command as a snapshot reads it: each event's pretty Debug,
/// or the refusal.
pub fn render(result: Result<Vec<Event>, ReferralError>) -> String {
    match result {
        Ok(events) => events
            .iter()
            .map(|event| format!("{event:#?}"))
            .collect::<Vec<_>>()
            .join("\n"),
        Err(error) => format!("refused: {error:?}"),
    }
}
