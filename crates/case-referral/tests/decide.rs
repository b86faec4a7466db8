//! Domain tests of the referral record: given events, when a command by an actor, then events or an error.

use std::collections::{BTreeMap, BTreeSet};

use case_referral::{
    Actor, Basis, CareOutcome, Code, Command, ConsentId, Context, DataScope, Dataset, DeadlineKind,
    DeadlinePolicy, DeclineReason, Event, ExceptionReason, Grantor, Language, OrganisationId,
    Recipient, ReferralError, ReferralId, ReferralState, ServiceType, State, decide,
    missed_deadlines,
};
use pathway::{Category, Urgency};
use proptest::prelude::*;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

// ---------------------------------------------------------------------------
// Fixtures: fixed times, never the system clock.
// ---------------------------------------------------------------------------

/// When the consent of the fixtures was given.
const GIVEN_AT: OffsetDateTime = datetime!(2026-03-10 09:00 UTC);
/// When the fixture referral was sent.
const SENT_AT: OffsetDateTime = datetime!(2026-03-10 10:00 UTC);
/// `SENT_AT` + 24 h: the fixture dataset is of high urgency.
const ACK_BY: OffsetDateTime = datetime!(2026-03-11 10:00 UTC);
/// `SENT_AT` + 2 * 24 h.
const ANSWER_BY: OffsetDateTime = datetime!(2026-03-12 10:00 UTC);
/// When the fixture referral was received.
const RECEIVED_AT: OffsetDateTime = datetime!(2026-03-10 11:00 UTC);
/// When the fixture referral was accepted.
const ACCEPTED_AT: OffsetDateTime = datetime!(2026-03-10 11:30 UTC);
/// `ACCEPTED_AT` + 7 days.
const TAKE_CHARGE_BY: OffsetDateTime = datetime!(2026-03-17 11:30 UTC);
/// When the later fixture transitions happened (in care, on hold, ...).
const LATER: OffsetDateTime = datetime!(2026-03-10 11:45 UTC);
/// "Now" for most tests: after every fixture event, before every fixture deadline.
const NOW: OffsetDateTime = datetime!(2026-03-10 12:00 UTC);
/// Until when the fixture consent is valid.
const VALID_UNTIL: OffsetDateTime = datetime!(2026-06-10 00:00 UTC);

const REFERRER: &str = "cas-agrigento";
const RECEIVER: &str = "cav-differenza-donna";
/// Another anti-violence centre: a redirect target, a second receiver of the same type.
const OTHER_CAV: &str = "cav-palermo";
/// An organisation that is party to nothing in the fixtures.
const THIRD: &str = "asl-roma-1";

const REFERRAL: &str = "ref-1";
const CONSENT: &str = "consent-1";

fn org(raw: &str) -> OrganisationId {
    OrganisationId::parse(raw).expect("valid organisation id")
}

fn rid(raw: &str) -> ReferralId {
    ReferralId::parse(raw).expect("valid referral id")
}

fn cid(raw: &str) -> ConsentId {
    ConsentId::parse(raw).expect("valid consent id")
}

fn code(raw: &str) -> Code {
    Code::parse(raw).expect("valid code")
}

fn language(raw: &str) -> Language {
    Language::parse(raw).expect("valid language")
}

fn scopes(list: &[DataScope]) -> BTreeSet<DataScope> {
    list.iter().copied().collect()
}

fn all_scopes() -> BTreeSet<DataScope> {
    scopes(DataScope::ALL)
}

/// The full minimum dataset: every scope is required.
fn dataset() -> Dataset {
    Dataset {
        categories: vec![Category::Gbv],
        urgency: Some(Urgency::High),
        languages: vec![language("tir")],
        communication_needs: vec![code("female_interpreter")],
        safety_instructions: vec![code("call_only_in_the_morning")],
    }
}

fn consent_basis(scopes: BTreeSet<DataScope>, valid_until: OffsetDateTime) -> Basis {
    Basis::Consent {
        purpose: code("gbv_support"),
        scopes,
        valid_until,
        grantor: Grantor::Person {
            of_consent_age: true,
        },
    }
}

fn exception_basis() -> Basis {
    Basis::Exception {
        reason: ExceptionReason::RiskToLife,
        authority: code("juvenile_court_palermo"),
    }
}

fn consent_given(consent_id: &str, recipient: Recipient, basis: Basis) -> Event {
    Event::ConsentGiven {
        consent_id: cid(consent_id),
        recipient,
        basis,
        given_at: GIVEN_AT,
    }
}

/// A consent to `RECEIVER` covering every scope until `VALID_UNTIL`.
fn consent_to_receiver(consent_id: &str) -> Event {
    consent_given(
        consent_id,
        Recipient::Organisation(org(RECEIVER)),
        consent_basis(all_scopes(), VALID_UNTIL),
    )
}

fn drafted(referral_id: &str, consent_id: &str) -> Event {
    drafted_with(referral_id, consent_id, RECEIVER, dataset())
}

fn drafted_with(referral_id: &str, consent_id: &str, receiver: &str, dataset: Dataset) -> Event {
    Event::ReferralDrafted {
        referral_id: rid(referral_id),
        referrer: org(REFERRER),
        receiver: org(receiver),
        service_type: ServiceType::AntiViolenceCentre,
        consent_id: cid(consent_id),
        dataset: Some(dataset),
    }
}

fn sent(referral_id: &str) -> Event {
    Event::ReferralSent {
        referral_id: rid(referral_id),
        sent_at: SENT_AT,
        acknowledge_by: ACK_BY,
        answer_by: ANSWER_BY,
    }
}

/// The events that bring a referral on `consent_id` from nothing to `target`.
fn path_to(referral_id: &str, consent_id: &str, target: ReferralState) -> Vec<Event> {
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
            },
        ),
    }
}

/// The fixture: consent `CONSENT` to `RECEIVER`, and referral `REFERRAL` in `target`.
fn referral_in(target: ReferralState) -> Vec<Event> {
    [
        vec![consent_to_receiver(CONSENT)],
        path_to(REFERRAL, CONSENT, target),
    ]
    .concat()
}

fn given(events: &[Event]) -> State {
    State::from_events(events)
}

fn context(actor: Actor, now: OffsetDateTime) -> Context {
    Context {
        now,
        actor,
        case_concerns_a_minor: false,
        deadlines: DeadlinePolicy::default(),
    }
}

fn by(organisation: &str, now: OffsetDateTime) -> Context {
    context(Actor::Organisation(org(organisation)), now)
}

fn system(now: OffsetDateTime) -> Context {
    context(Actor::System, now)
}

fn when(state: &State, command: Command, context: &Context) -> Result<Vec<Event>, ReferralError> {
    decide(state, command, context)
}

/// Applies the accepted events to `state`, as the service does after `decide`.
fn apply(state: State, events: &[Event]) -> State {
    events.iter().fold(state, State::evolve)
}

fn state_of(state: &State, referral_id: &str) -> ReferralState {
    state
        .referrals
        .get(&rid(referral_id))
        .expect("the referral exists")
        .state
}

/// Asserts that the result is `Invalid` on exactly `field`.
#[track_caller]
fn assert_invalid(result: Result<Vec<Event>, ReferralError>, expected_field: &str) {
    match result {
        Err(ReferralError::Invalid { field, reason }) => {
            assert_eq!(field, expected_field, "wrong field (reason: {reason})");
            assert!(!reason.is_empty(), "an Invalid error must give a reason");
        }
        other => panic!("expected Invalid {{ field: {expected_field:?} }}, got {other:?}"),
    }
}

fn create(referral_id: &str, consent_id: &str, send: bool) -> Command {
    create_with(referral_id, consent_id, RECEIVER, dataset(), send)
}

fn create_with(
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

fn give(consent_id: &str, recipient: Recipient, basis: Basis) -> Command {
    Command::GiveConsent {
        consent_id: cid(consent_id),
        recipient,
        basis,
        given_at: NOW,
    }
}

fn mark(referral_id: &str, kind: DeadlineKind) -> Command {
    Command::MarkDeadlineMissed {
        referral_id: rid(referral_id),
        kind,
    }
}

// ---------------------------------------------------------------------------
// The fixtures themselves.
// ---------------------------------------------------------------------------

#[test]
fn every_fixture_reaches_its_state() {
    for target in ReferralState::ALL {
        let state = given(&referral_in(*target));
        assert_eq!(state_of(&state, REFERRAL), *target, "fixture for {target}");
    }
    assert_eq!(ReferralState::ALL.len(), 13);
    let terminal: Vec<_> = ReferralState::ALL
        .iter()
        .filter(|s| s.is_terminal())
        .map(|s| s.code())
        .collect();
    assert_eq!(
        terminal,
        [
            "declined",
            "completed",
            "cancelled",
            "revoked",
            "expired",
            "failed",
            "redirected"
        ]
    );
}

// ---------------------------------------------------------------------------
// The lifecycle, table-driven over every command and every state.
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
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
    const ALL: &'static [Kind] = &[
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

    fn command(self, referral_id: &str) -> Command {
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
            Kind::Cancel => Command::Cancel { referral_id },
            Kind::MarkFailed => Command::MarkFailed { referral_id },
        }
    }

    /// The organisation entitled to make the transition (MarkFailed: either, here the receiver).
    fn party(self) -> &'static str {
        match self {
            Kind::Send | Kind::Cancel => REFERRER,
            _ => RECEIVER,
        }
    }

    /// The allowed transitions, from the domain brief: (from, to).
    fn allowed(self) -> &'static [(ReferralState, ReferralState)] {
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

    /// The exact events of the transition from `from` at `now` (default policy, high urgency).
    fn expected_events(self, from: ReferralState, now: OffsetDateTime) -> Vec<Event> {
        let referral_id = rid(REFERRAL);
        let at = now;
        match self {
            Kind::Send => vec![Event::ReferralSent {
                referral_id,
                sent_at: now,
                acknowledge_by: now + Duration::hours(24),
                answer_by: now + Duration::hours(48),
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
            Kind::Cancel => vec![Event::ReferralCancelled { referral_id, at }],
            Kind::MarkFailed => vec![Event::ReferralFailed { referral_id, at }],
        }
    }
}

#[test]
fn the_transition_table_has_sixteen_transitions() {
    let count: usize = Kind::ALL.iter().map(|kind| kind.allowed().len()).sum();
    assert_eq!(count, 16);
    // No transition leaves a terminal state.
    for kind in Kind::ALL {
        for (from, _) in kind.allowed() {
            assert!(!from.is_terminal(), "{kind:?} from {from}");
        }
    }
}

#[test]
fn every_allowed_transition_emits_exactly_its_events_and_reaches_its_state() {
    for kind in Kind::ALL {
        for (from, to) in kind.allowed() {
            let state = given(&referral_in(*from));
            let result = when(&state, kind.command(REFERRAL), &by(kind.party(), NOW));
            let expected = kind.expected_events(*from, NOW);
            assert_eq!(result, Ok(expected.clone()), "{kind:?} from {from}");
            let after = apply(state, &expected);
            assert_eq!(state_of(&after, REFERRAL), *to, "{kind:?} from {from}");
        }
    }
}

#[test]
fn every_transition_not_in_the_table_is_refused_with_the_current_state_code() {
    let mut refused = 0;
    for kind in Kind::ALL {
        for from in ReferralState::ALL {
            if kind.allowed().iter().any(|(allowed, _)| allowed == from) {
                continue;
            }
            let state = given(&referral_in(*from));
            assert_eq!(
                when(&state, kind.command(REFERRAL), &by(kind.party(), NOW)),
                Err(ReferralError::TransitionNotAllowed(from.code())),
                "{kind:?} from {from}"
            );
            refused += 1;
        }
    }
    assert_eq!(refused, 10 * 13 - 16);
}

#[test]
fn every_terminal_state_refuses_every_lifecycle_command_by_either_party() {
    for from in ReferralState::ALL.iter().filter(|s| s.is_terminal()) {
        let state = given(&referral_in(*from));
        for kind in Kind::ALL {
            for party in [REFERRER, RECEIVER] {
                let result = when(&state, kind.command(REFERRAL), &by(party, NOW));
                assert!(
                    result.is_err(),
                    "{kind:?} by {party} from {from}: {result:?}"
                );
            }
        }
    }
}

#[test]
fn every_lifecycle_command_on_an_unknown_referral_is_referral_not_found() {
    let state = given(&referral_in(ReferralState::Sent));
    for kind in Kind::ALL {
        assert_eq!(
            when(&state, kind.command("ref-unknown"), &by(kind.party(), NOW)),
            Err(ReferralError::ReferralNotFound),
            "{kind:?}"
        );
    }
    assert_eq!(
        when(
            &state,
            mark("ref-unknown", DeadlineKind::Answer),
            &system(ANSWER_BY)
        ),
        Err(ReferralError::ReferralNotFound)
    );
}

// ---------------------------------------------------------------------------
// Who may make a transition.
// ---------------------------------------------------------------------------

#[test]
fn receiver_only_commands_by_the_referrer_or_a_third_organisation_are_not_the_receiver() {
    for kind in Kind::ALL {
        if matches!(kind, Kind::Send | Kind::Cancel | Kind::MarkFailed) {
            continue;
        }
        for (from, _) in kind.allowed() {
            let state = given(&referral_in(*from));
            for intruder in [REFERRER, THIRD, OTHER_CAV] {
                assert_eq!(
                    when(&state, kind.command(REFERRAL), &by(intruder, NOW)),
                    Err(ReferralError::NotTheReceiver),
                    "{kind:?} by {intruder} from {from}"
                );
            }
        }
    }
}

#[test]
fn send_and_cancel_by_the_receiver_or_a_third_organisation_are_not_the_referrer() {
    for kind in [Kind::Send, Kind::Cancel] {
        for (from, _) in kind.allowed() {
            let state = given(&referral_in(*from));
            for intruder in [RECEIVER, THIRD] {
                assert_eq!(
                    when(&state, kind.command(REFERRAL), &by(intruder, NOW)),
                    Err(ReferralError::NotTheReferrer),
                    "{kind:?} by {intruder} from {from}"
                );
            }
        }
    }
}

#[test]
fn mark_failed_by_either_party_is_accepted_and_by_a_third_party_refused() {
    for (from, _) in Kind::MarkFailed.allowed() {
        let state = given(&referral_in(*from));
        for party in [REFERRER, RECEIVER] {
            assert_eq!(
                when(&state, Kind::MarkFailed.command(REFERRAL), &by(party, NOW)),
                Ok(vec![Event::ReferralFailed {
                    referral_id: rid(REFERRAL),
                    at: NOW
                }]),
                "by {party} from {from}"
            );
        }
        let result = when(&state, Kind::MarkFailed.command(REFERRAL), &by(THIRD, NOW));
        assert!(
            matches!(
                result,
                Err(ReferralError::NotTheReceiver | ReferralError::NotTheReferrer)
            ),
            "by a third party from {from}: {result:?}"
        );
    }
}

#[test]
fn create_referral_by_the_system_is_refused() {
    let state = given(&[consent_to_receiver(CONSENT)]);
    for send in [false, true] {
        assert_eq!(
            when(&state, create(REFERRAL, CONSENT, send), &system(NOW)),
            Err(ReferralError::NotTheReferrer)
        );
    }
}

#[test]
fn the_referrer_is_whoever_created_the_referral() {
    // The third organisation creates its own referral: it is now the referrer of it.
    let state = given(&[consent_to_receiver(CONSENT)]);
    let events = when(&state, create(REFERRAL, CONSENT, false), &by(THIRD, NOW))
        .expect("a referral by any organisation");
    let state = apply(state, &events);
    assert_eq!(
        state.referrals[&rid(REFERRAL)].referrer,
        org(THIRD),
        "{events:?}"
    );
    assert_eq!(
        when(&state, Kind::Send.command(REFERRAL), &by(REFERRER, NOW)),
        Err(ReferralError::NotTheReferrer)
    );
    assert!(when(&state, Kind::Send.command(REFERRAL), &by(THIRD, NOW)).is_ok());
}

// ---------------------------------------------------------------------------
// CreateReferral and Send.
// ---------------------------------------------------------------------------

#[test]
fn create_without_sending_records_only_a_draft() {
    let state = given(&[consent_to_receiver(CONSENT)]);
    let events = when(&state, create(REFERRAL, CONSENT, false), &by(REFERRER, NOW));
    assert_eq!(events, Ok(vec![drafted(REFERRAL, CONSENT)]));
    let state = apply(state, &events.expect("accepted"));
    let referral = &state.referrals[&rid(REFERRAL)];
    assert_eq!(referral.state, ReferralState::Draft);
    assert_eq!(referral.acknowledge_by, None);
    assert_eq!(referral.answer_by, None);
}

#[test]
fn a_draft_whose_dataset_was_erased_cannot_be_sent_but_can_be_cancelled() {
    let erased = Event::ReferralDrafted {
        referral_id: rid(REFERRAL),
        referrer: org(REFERRER),
        receiver: org(RECEIVER),
        service_type: ServiceType::AntiViolenceCentre,
        consent_id: cid(CONSENT),
        dataset: None,
    };
    let state = given(&[consent_to_receiver(CONSENT), erased]);
    assert_eq!(
        when(&state, Kind::Send.command(REFERRAL), &by(REFERRER, NOW)),
        Err(ReferralError::PersonalDataErased)
    );
    assert!(when(&state, Kind::Cancel.command(REFERRAL), &by(REFERRER, NOW)).is_ok());
}

#[test]
fn create_and_send_records_the_draft_then_the_sending() {
    let state = given(&[consent_to_receiver(CONSENT)]);
    let events = when(&state, create(REFERRAL, CONSENT, true), &by(REFERRER, NOW));
    assert_eq!(
        events,
        Ok(vec![
            drafted(REFERRAL, CONSENT),
            Event::ReferralSent {
                referral_id: rid(REFERRAL),
                sent_at: NOW,
                acknowledge_by: NOW + Duration::hours(24),
                answer_by: NOW + Duration::hours(48),
            },
        ])
    );
    let state = apply(state, &events.expect("accepted"));
    assert_eq!(state_of(&state, REFERRAL), ReferralState::Sent);
}

#[test]
fn create_with_an_id_already_used_is_already_exists() {
    let state = given(&referral_in(ReferralState::Completed));
    assert_eq!(
        when(&state, create(REFERRAL, CONSENT, false), &by(REFERRER, NOW)),
        Err(ReferralError::AlreadyExists)
    );
}

#[test]
fn create_to_oneself_is_invalid() {
    let state = given(&[consent_to_receiver(CONSENT)]);
    assert_invalid(
        when(
            &state,
            create_with(REFERRAL, CONSENT, REFERRER, dataset(), false),
            &by(REFERRER, NOW),
        ),
        "receiver_organisation_id",
    );
}

#[test]
fn create_without_categories_is_invalid() {
    let state = given(&[consent_to_receiver(CONSENT)]);
    let empty = Dataset {
        categories: vec![],
        ..dataset()
    };
    assert_invalid(
        when(
            &state,
            create_with(REFERRAL, CONSENT, RECEIVER, empty, false),
            &by(REFERRER, NOW),
        ),
        "dataset.categories",
    );
}

#[test]
fn create_with_a_consent_not_in_the_ledger_is_consent_not_found_sent_or_not() {
    let state = given(&[consent_to_receiver(CONSENT)]);
    for send in [false, true] {
        assert_eq!(
            when(
                &state,
                create(REFERRAL, "consent-unknown", send),
                &by(REFERRER, NOW)
            ),
            Err(ReferralError::ConsentNotFound),
            "send: {send}"
        );
    }
}

/// Both ways of sending, from an empty referral list plus `ledger`: returns each result.
fn send_both_ways(
    ledger: &[Event],
    receiver: &str,
    dataset: Dataset,
    consent_id: &str,
    now: OffsetDateTime,
) -> [Result<Vec<Event>, ReferralError>; 2] {
    let state = given(ledger);
    let at_once = when(
        &state,
        create_with(REFERRAL, consent_id, receiver, dataset.clone(), true),
        &by(REFERRER, now),
    );
    let draft = given(
        &[
            ledger.to_vec(),
            vec![drafted_with(REFERRAL, consent_id, receiver, dataset)],
        ]
        .concat(),
    );
    let later = when(&draft, Kind::Send.command(REFERRAL), &by(REFERRER, now));
    [at_once, later]
}

#[track_caller]
fn assert_no_valid_consent(results: [Result<Vec<Event>, ReferralError>; 2]) {
    let [at_once, later] = results;
    assert_eq!(
        at_once,
        Err(ReferralError::NoValidConsent),
        "CreateReferral {{ send: true }}"
    );
    assert_eq!(later, Err(ReferralError::NoValidConsent), "Send");
}

#[track_caller]
fn assert_sent(results: [Result<Vec<Event>, ReferralError>; 2]) {
    let [at_once, later] = results;
    let at_once = at_once.expect("CreateReferral { send: true } accepted");
    assert!(
        matches!(
            at_once.as_slice(),
            [Event::ReferralDrafted { .. }, Event::ReferralSent { .. }]
        ),
        "{at_once:?}"
    );
    let later = later.expect("Send accepted");
    assert!(
        matches!(later.as_slice(), [Event::ReferralSent { .. }]),
        "{later:?}"
    );
}

#[test]
fn sending_with_a_valid_consent_to_the_receiver_is_accepted() {
    assert_sent(send_both_ways(
        &[consent_to_receiver(CONSENT)],
        RECEIVER,
        dataset(),
        CONSENT,
        NOW,
    ));
}

#[test]
fn sending_with_a_consent_to_another_organisation_is_no_valid_consent() {
    let ledger = [consent_given(
        CONSENT,
        Recipient::Organisation(org(OTHER_CAV)),
        consent_basis(all_scopes(), VALID_UNTIL),
    )];
    assert_no_valid_consent(send_both_ways(&ledger, RECEIVER, dataset(), CONSENT, NOW));
}

#[test]
fn sending_with_an_expired_consent_is_no_valid_consent() {
    let ledger = [consent_given(
        CONSENT,
        Recipient::Organisation(org(RECEIVER)),
        consent_basis(all_scopes(), NOW),
    )];
    // Expires exactly now: no longer valid.
    assert_no_valid_consent(send_both_ways(&ledger, RECEIVER, dataset(), CONSENT, NOW));
    // Expired an hour ago.
    assert_no_valid_consent(send_both_ways(
        &ledger,
        RECEIVER,
        dataset(),
        CONSENT,
        NOW + Duration::hours(1),
    ));
    // One second before expiry it is still valid.
    assert_sent(send_both_ways(
        &ledger,
        RECEIVER,
        dataset(),
        CONSENT,
        NOW - Duration::seconds(1),
    ));
}

#[test]
fn sending_with_a_withdrawn_consent_is_no_valid_consent() {
    let ledger = [
        consent_to_receiver(CONSENT),
        Event::ConsentWithdrawn {
            consent_id: cid(CONSENT),
            withdrawn_at: LATER,
        },
    ];
    assert_no_valid_consent(send_both_ways(&ledger, RECEIVER, dataset(), CONSENT, NOW));
}

#[test]
fn sending_data_outside_the_consented_scopes_is_no_valid_consent() {
    use DataScope as D;
    let cases: [(&str, Dataset, Vec<DataScope>); 4] = [
        (
            "safety instructions",
            dataset(),
            vec![D::Categories, D::Urgency, D::Communication],
        ),
        (
            "urgency",
            dataset(),
            vec![D::Categories, D::Communication, D::SafetyInstructions],
        ),
        (
            "categories",
            dataset(),
            vec![D::Urgency, D::Communication, D::SafetyInstructions],
        ),
        (
            "communication needs without languages",
            Dataset {
                languages: vec![],
                ..dataset()
            },
            vec![D::Categories, D::Urgency, D::SafetyInstructions],
        ),
    ];
    for (missing, data, consented) in cases {
        let ledger = [consent_given(
            CONSENT,
            Recipient::Organisation(org(RECEIVER)),
            consent_basis(scopes(&consented), VALID_UNTIL),
        )];
        let [at_once, later] = send_both_ways(&ledger, RECEIVER, data, CONSENT, NOW);
        assert_eq!(at_once, Err(ReferralError::NoValidConsent), "{missing}");
        assert_eq!(later, Err(ReferralError::NoValidConsent), "{missing}");
    }
}

#[test]
fn a_dataset_needing_only_the_consented_scopes_may_be_sent() {
    // Only categories: a consent to share only categories is enough.
    let minimal = Dataset {
        categories: vec![Category::Trafficking],
        ..Dataset::default()
    };
    assert_eq!(minimal.required_scopes(), scopes(&[DataScope::Categories]));
    let ledger = [consent_given(
        CONSENT,
        Recipient::Organisation(org(RECEIVER)),
        consent_basis(scopes(&[DataScope::Categories]), VALID_UNTIL),
    )];
    assert_sent(send_both_ways(&ledger, RECEIVER, minimal, CONSENT, NOW));
}

#[test]
fn required_scopes_follow_the_dataset() {
    assert_eq!(dataset().required_scopes(), all_scopes());
    assert_eq!(Dataset::default().required_scopes(), BTreeSet::new());
    let only_needs = Dataset {
        communication_needs: vec![code("sign_language")],
        ..Dataset::default()
    };
    assert_eq!(
        only_needs.required_scopes(),
        scopes(&[DataScope::Communication])
    );
}

#[test]
fn a_consent_for_a_service_type_covers_any_receiver_of_that_type_and_no_other_type() {
    let ledger = [consent_given(
        CONSENT,
        Recipient::ServiceType(ServiceType::AntiViolenceCentre),
        consent_basis(all_scopes(), VALID_UNTIL),
    )];
    for receiver in [RECEIVER, OTHER_CAV] {
        assert_sent(send_both_ways(&ledger, receiver, dataset(), CONSENT, NOW));
    }
    // A shelter is not an anti-violence centre.
    let state = given(&ledger);
    assert_eq!(
        when(
            &state,
            Command::CreateReferral {
                referral_id: rid(REFERRAL),
                receiver: org("casa-rifugio-roma"),
                service_type: ServiceType::Shelter,
                consent_id: cid(CONSENT),
                dataset: dataset(),
                send: true,
            },
            &by(REFERRER, NOW),
        ),
        Err(ReferralError::NoValidConsent)
    );
}

#[test]
fn an_exception_is_recorded_in_the_events_and_allows_sending_without_expiry() {
    let recipient = Recipient::Organisation(org(RECEIVER));
    let given_events = when(
        &State::default(),
        give(CONSENT, recipient.clone(), exception_basis()),
        &by(REFERRER, NOW),
    );
    let expected = Event::ConsentGiven {
        consent_id: cid(CONSENT),
        recipient,
        basis: exception_basis(),
        given_at: NOW,
    };
    assert_eq!(given_events, Ok(vec![expected.clone()]));
    assert!(matches!(
        &expected,
        Event::ConsentGiven {
            basis: Basis::Exception {
                reason: ExceptionReason::RiskToLife,
                ..
            },
            ..
        }
    ));
    // Years later, with every scope of data: still covered.
    let years_later = NOW + Duration::days(5 * 365);
    assert_sent(send_both_ways(
        &[expected],
        RECEIVER,
        dataset(),
        CONSENT,
        years_later,
    ));
}

#[test]
fn a_draft_may_be_kept_while_the_consent_does_not_cover_it_but_not_sent() {
    // Drafting checks only that the consent exists; sending checks that it covers.
    let ledger = [consent_given(
        CONSENT,
        Recipient::Organisation(org(OTHER_CAV)),
        consent_basis(all_scopes(), VALID_UNTIL),
    )];
    let state = given(&ledger);
    let events = when(&state, create(REFERRAL, CONSENT, false), &by(REFERRER, NOW))
        .expect("a draft is accepted");
    let state = apply(state, &events);
    assert_eq!(
        when(&state, Kind::Send.command(REFERRAL), &by(REFERRER, NOW)),
        Err(ReferralError::NoValidConsent)
    );
    assert_eq!(state_of(&state, REFERRAL), ReferralState::Draft);
}

// ---------------------------------------------------------------------------
// Accept and decline.
// ---------------------------------------------------------------------------

#[test]
fn accept_from_sent_records_the_receipt_then_the_acceptance_with_the_take_charge_deadline() {
    let state = given(&referral_in(ReferralState::Sent));
    let now = datetime!(2026-03-10 20:15 UTC);
    let events = when(&state, Kind::Accept.command(REFERRAL), &by(RECEIVER, now));
    assert_eq!(
        events,
        Ok(vec![
            Event::ReferralReceived {
                referral_id: rid(REFERRAL),
                at: now
            },
            Event::ReferralAccepted {
                referral_id: rid(REFERRAL),
                at: now,
                take_charge_by: datetime!(2026-03-17 20:15 UTC),
            },
        ])
    );
    let state = apply(state, &events.expect("accepted"));
    let referral = &state.referrals[&rid(REFERRAL)];
    assert_eq!(referral.state, ReferralState::Accepted);
    assert_eq!(
        referral.take_charge_by,
        Some(datetime!(2026-03-17 20:15 UTC))
    );
}

#[test]
fn accept_uses_the_take_charge_delay_of_the_policy() {
    let state = given(&referral_in(ReferralState::Received));
    let mut context = by(RECEIVER, NOW);
    context.deadlines.take_charge = Duration::days(2);
    assert_eq!(
        when(&state, Kind::Accept.command(REFERRAL), &context),
        Ok(vec![Event::ReferralAccepted {
            referral_id: rid(REFERRAL),
            at: NOW,
            take_charge_by: NOW + Duration::days(2),
        }])
    );
}

#[test]
fn decline_with_a_redirect_ends_redirected_and_without_declined() {
    for from in [ReferralState::Sent, ReferralState::Received] {
        let state = given(&referral_in(from));
        let redirect = Command::Decline {
            referral_id: rid(REFERRAL),
            reason: DeclineReason::OutOfScope,
            redirect_to: Some(org(OTHER_CAV)),
        };
        let events = when(&state, redirect, &by(RECEIVER, NOW));
        let mut expected = Vec::new();
        if from == ReferralState::Sent {
            // Answering straight from sent records the receipt too.
            expected.push(Event::ReferralReceived {
                referral_id: rid(REFERRAL),
                at: NOW,
            });
        }
        expected.push(Event::ReferralDeclined {
            referral_id: rid(REFERRAL),
            at: NOW,
            reason: DeclineReason::OutOfScope,
            redirect_to: Some(org(OTHER_CAV)),
        });
        assert_eq!(events, Ok(expected), "from {from}");
        let redirected = apply(state.clone(), &events.expect("accepted"));
        assert_eq!(state_of(&redirected, REFERRAL), ReferralState::Redirected);

        let decline = Command::Decline {
            referral_id: rid(REFERRAL),
            reason: DeclineReason::PersonRefused,
            redirect_to: None,
        };
        let events = when(&state, decline, &by(RECEIVER, NOW)).expect("accepted");
        assert_eq!(
            state_of(&apply(state, &events), REFERRAL),
            ReferralState::Declined
        );
    }
}

#[test]
fn decline_redirecting_to_the_same_receiver_is_invalid() {
    let state = given(&referral_in(ReferralState::Received));
    let command = Command::Decline {
        referral_id: rid(REFERRAL),
        reason: DeclineReason::NoCapacity,
        redirect_to: Some(org(RECEIVER)),
    };
    assert_invalid(
        when(&state, command, &by(RECEIVER, NOW)),
        "redirect_to_organisation_id",
    );
}

// ---------------------------------------------------------------------------
// GiveConsent.
// ---------------------------------------------------------------------------

#[test]
fn give_consent_records_it_and_the_ledger_holds_it() {
    let recipient = Recipient::Organisation(org(RECEIVER));
    let basis = consent_basis(all_scopes(), VALID_UNTIL);
    let events = when(
        &State::default(),
        Command::GiveConsent {
            consent_id: cid(CONSENT),
            recipient: recipient.clone(),
            basis: basis.clone(),
            given_at: GIVEN_AT,
        },
        &by(REFERRER, NOW),
    );
    assert_eq!(
        events,
        Ok(vec![Event::ConsentGiven {
            consent_id: cid(CONSENT),
            recipient: recipient.clone(),
            basis: basis.clone(),
            given_at: GIVEN_AT,
        }])
    );
    let state = apply(State::default(), &events.expect("accepted"));
    let entry = &state.consents[&cid(CONSENT)];
    assert_eq!(entry.recipient, recipient);
    assert_eq!(entry.basis, basis);
    assert_eq!(entry.given_at, GIVEN_AT);
    assert_eq!(entry.withdrawn_at, None);
}

#[test]
fn give_consent_given_in_the_future_is_invalid() {
    let command = Command::GiveConsent {
        consent_id: cid(CONSENT),
        recipient: Recipient::Organisation(org(RECEIVER)),
        basis: consent_basis(all_scopes(), VALID_UNTIL),
        given_at: NOW + Duration::seconds(1),
    };
    assert_invalid(
        when(&State::default(), command, &by(REFERRER, NOW)),
        "given_at",
    );
}

#[test]
fn give_consent_without_scopes_is_invalid() {
    let command = give(
        CONSENT,
        Recipient::Organisation(org(RECEIVER)),
        consent_basis(BTreeSet::new(), VALID_UNTIL),
    );
    assert_invalid(
        when(&State::default(), command, &by(REFERRER, NOW)),
        "scopes",
    );
}

#[test]
fn give_consent_valid_until_not_in_the_future_is_invalid() {
    for valid_until in [NOW, NOW - Duration::days(1)] {
        let command = give(
            CONSENT,
            Recipient::Organisation(org(RECEIVER)),
            consent_basis(all_scopes(), valid_until),
        );
        assert_invalid(
            when(&State::default(), command, &by(REFERRER, NOW)),
            "valid_until",
        );
    }
    // One second in the future is fine.
    let command = give(
        CONSENT,
        Recipient::Organisation(org(RECEIVER)),
        consent_basis(all_scopes(), NOW + Duration::seconds(1)),
    );
    assert!(when(&State::default(), command, &by(REFERRER, NOW)).is_ok());
}

#[test]
fn give_consent_with_an_id_already_in_the_ledger_is_already_exists() {
    let state = given(&[consent_to_receiver(CONSENT)]);
    for basis in [consent_basis(all_scopes(), VALID_UNTIL), exception_basis()] {
        assert_eq!(
            when(
                &state,
                give(CONSENT, Recipient::Organisation(org(OTHER_CAV)), basis),
                &by(REFERRER, NOW)
            ),
            Err(ReferralError::AlreadyExists)
        );
    }
    // Also once withdrawn: ids are never reused.
    let withdrawn = given(&[
        consent_to_receiver(CONSENT),
        Event::ConsentWithdrawn {
            consent_id: cid(CONSENT),
            withdrawn_at: LATER,
        },
    ]);
    assert_eq!(
        when(
            &withdrawn,
            give(
                CONSENT,
                Recipient::Organisation(org(RECEIVER)),
                consent_basis(all_scopes(), VALID_UNTIL)
            ),
            &by(REFERRER, NOW)
        ),
        Err(ReferralError::AlreadyExists)
    );
}

// ---------------------------------------------------------------------------
// Minors.
// ---------------------------------------------------------------------------

fn minor_context() -> Context {
    Context {
        case_concerns_a_minor: true,
        ..by(REFERRER, NOW)
    }
}

fn consent_by(grantor: Grantor) -> Command {
    give(
        CONSENT,
        Recipient::Organisation(org(RECEIVER)),
        Basis::Consent {
            purpose: code("child_protection_support"),
            scopes: all_scopes(),
            valid_until: VALID_UNTIL,
            grantor,
        },
    )
}

#[test]
fn a_minor_under_consent_age_or_a_guardian_without_the_child_assent_is_minor_consent_required() {
    for grantor in [
        Grantor::Person {
            of_consent_age: false,
        },
        Grantor::Guardian {
            child_assent: false,
        },
    ] {
        assert_eq!(
            when(&State::default(), consent_by(grantor), &minor_context()),
            Err(ReferralError::MinorConsentRequired),
            "{grantor:?}"
        );
    }
}

#[test]
fn a_guardian_with_the_child_assent_or_a_child_of_consent_age_may_consent_for_a_minor() {
    for grantor in [
        Grantor::Guardian { child_assent: true },
        Grantor::Person {
            of_consent_age: true,
        },
    ] {
        let events = when(&State::default(), consent_by(grantor), &minor_context())
            .expect("accepted for a minor");
        assert!(
            matches!(
                events.as_slice(),
                [Event::ConsentGiven {
                    basis: Basis::Consent { grantor: g, .. },
                    ..
                }] if *g == grantor
            ),
            "{events:?}"
        );
    }
}

#[test]
fn the_minor_rule_applies_only_when_the_case_concerns_a_minor() {
    for grantor in [
        Grantor::Person {
            of_consent_age: false,
        },
        Grantor::Guardian {
            child_assent: false,
        },
    ] {
        assert!(
            when(&State::default(), consent_by(grantor), &by(REFERRER, NOW)).is_ok(),
            "{grantor:?} on a case not concerning a minor"
        );
    }
}

#[test]
fn exceptions_are_not_subject_to_the_minor_rule() {
    let command = give(
        CONSENT,
        Recipient::ServiceType(ServiceType::JuvenileCourt),
        Basis::Exception {
            reason: ExceptionReason::ChildProtection,
            authority: code("juvenile_court_palermo"),
        },
    );
    let events = when(&State::default(), command, &minor_context()).expect("accepted");
    assert!(matches!(
        events.as_slice(),
        [Event::ConsentGiven {
            basis: Basis::Exception {
                reason: ExceptionReason::ChildProtection,
                ..
            },
            ..
        }]
    ));
}

// ---------------------------------------------------------------------------
// Withdrawal.
// ---------------------------------------------------------------------------

const CONSENT_A: &str = "consent-a";
const CONSENT_B: &str = "consent-b";

/// A referral id per state, for a consent prefix: `a-in-care`, `b-draft`...
fn id_for(prefix: &str, state: ReferralState) -> String {
    format!("{prefix}-{}", state.code().replace('_', "-"))
}

/// Consents A and B to the receiver; on A one referral in every state but revoked,
/// on B one in every non-terminal state. Drafted in reverse order of id.
fn two_consents_many_referrals() -> Vec<Event> {
    let mut events = vec![
        consent_to_receiver(CONSENT_A),
        consent_to_receiver(CONSENT_B),
    ];
    let mut referrals: Vec<(String, &str, ReferralState)> = Vec::new();
    for state in ReferralState::ALL {
        if *state != ReferralState::Revoked {
            referrals.push((id_for("a", *state), CONSENT_A, *state));
        }
        if !state.is_terminal() {
            referrals.push((id_for("b", *state), CONSENT_B, *state));
        }
    }
    referrals.sort_by(|x, y| y.0.cmp(&x.0));
    for (id, consent, state) in referrals {
        events.extend(path_to(&id, consent, state));
    }
    events
}

#[test]
fn withdrawal_revokes_every_open_referral_on_that_consent_in_id_order_and_no_other() {
    let state = given(&two_consents_many_referrals());
    assert_eq!(state.referrals.len(), 12 + 6);
    let events = when(
        &state,
        Command::WithdrawConsent {
            consent_id: cid(CONSENT_A),
        },
        &by(REFERRER, NOW),
    )
    .expect("accepted");

    let revoked = [
        "a-accepted",
        "a-draft",
        "a-in-care",
        "a-on-hold",
        "a-received",
        "a-sent",
    ];
    let mut expected = vec![Event::ConsentWithdrawn {
        consent_id: cid(CONSENT_A),
        withdrawn_at: NOW,
    }];
    expected.extend(revoked.iter().map(|id| Event::ReferralRevoked {
        referral_id: rid(id),
        at: NOW,
        consent_id: cid(CONSENT_A),
    }));
    assert_eq!(events, expected);

    let after = apply(state.clone(), &events);
    for (id, referral) in &after.referrals {
        let before = state.referrals[id].state;
        if revoked.contains(&id.as_str()) {
            assert_eq!(referral.state, ReferralState::Revoked, "{id}");
        } else {
            assert_eq!(referral.state, before, "{id} must be untouched");
        }
    }
    assert_eq!(after.consents[&cid(CONSENT_A)].withdrawn_at, Some(NOW));
    assert_eq!(after.consents[&cid(CONSENT_B)].withdrawn_at, None);
}

#[test]
fn withdrawal_with_no_open_referral_records_only_the_withdrawal() {
    let state = given(&referral_in(ReferralState::Completed));
    assert_eq!(
        when(
            &state,
            Command::WithdrawConsent {
                consent_id: cid(CONSENT)
            },
            &by(REFERRER, NOW)
        ),
        Ok(vec![Event::ConsentWithdrawn {
            consent_id: cid(CONSENT),
            withdrawn_at: NOW
        }])
    );
}

#[test]
fn withdrawing_twice_is_already_withdrawn() {
    let state = given(&referral_in(ReferralState::Sent));
    let withdraw = Command::WithdrawConsent {
        consent_id: cid(CONSENT),
    };
    let events = when(&state, withdraw.clone(), &by(REFERRER, NOW)).expect("first withdrawal");
    let state = apply(state, &events);
    assert_eq!(
        when(&state, withdraw, &by(REFERRER, NOW + Duration::hours(1))),
        Err(ReferralError::AlreadyWithdrawn)
    );
}

#[test]
fn withdrawing_an_unknown_consent_is_consent_not_found() {
    let state = given(&referral_in(ReferralState::Sent));
    assert_eq!(
        when(
            &state,
            Command::WithdrawConsent {
                consent_id: cid("consent-unknown")
            },
            &by(REFERRER, NOW)
        ),
        Err(ReferralError::ConsentNotFound)
    );
}

#[test]
fn after_withdrawal_no_new_referral_on_that_consent_may_be_sent() {
    let state = given(&referral_in(ReferralState::Revoked));
    assert_eq!(
        when(&state, create("ref-2", CONSENT, true), &by(REFERRER, NOW)),
        Err(ReferralError::NoValidConsent)
    );
}

// ---------------------------------------------------------------------------
// Deadlines.
// ---------------------------------------------------------------------------

#[test]
fn send_computes_the_deadlines_from_the_urgency() {
    let cases = [
        (Some(Urgency::Immediate), 4),
        (Some(Urgency::High), 24),
        (Some(Urgency::Standard), 72),
        (None, 72),
    ];
    for (urgency, hours) in cases {
        let data = Dataset {
            urgency,
            ..dataset()
        };
        let state = given(&[
            consent_to_receiver(CONSENT),
            drafted_with(REFERRAL, CONSENT, RECEIVER, data),
        ]);
        let events = when(&state, Kind::Send.command(REFERRAL), &by(REFERRER, NOW));
        assert_eq!(
            events,
            Ok(vec![Event::ReferralSent {
                referral_id: rid(REFERRAL),
                sent_at: NOW,
                acknowledge_by: NOW + Duration::hours(hours),
                answer_by: NOW + Duration::hours(2 * hours),
            }]),
            "{urgency:?}"
        );
        let state = apply(state, &events.expect("accepted"));
        let referral = &state.referrals[&rid(REFERRAL)];
        assert_eq!(referral.acknowledge_by, Some(NOW + Duration::hours(hours)));
        assert_eq!(referral.answer_by, Some(NOW + Duration::hours(2 * hours)));
    }
}

#[test]
fn send_uses_the_configured_policy() {
    let state = given(&[consent_to_receiver(CONSENT), drafted(REFERRAL, CONSENT)]);
    let mut context = by(REFERRER, NOW);
    context.deadlines = DeadlinePolicy {
        acknowledge_immediate: Duration::hours(1),
        acknowledge_high: Duration::hours(2),
        acknowledge_standard: Duration::hours(3),
        answer_windows: 3,
        take_charge: Duration::days(2),
    };
    assert_eq!(
        when(&state, Kind::Send.command(REFERRAL), &context),
        Ok(vec![Event::ReferralSent {
            referral_id: rid(REFERRAL),
            sent_at: NOW,
            acknowledge_by: NOW + Duration::hours(2),
            answer_by: NOW + Duration::hours(6),
        }])
    );
}

#[test]
fn the_default_policy_is_the_one_of_the_brief() {
    let policy = DeadlinePolicy::default();
    assert_eq!(
        policy.acknowledge_within(Urgency::Immediate),
        Duration::hours(4)
    );
    assert_eq!(
        policy.acknowledge_within(Urgency::High),
        Duration::hours(24)
    );
    assert_eq!(
        policy.acknowledge_within(Urgency::Standard),
        Duration::hours(72)
    );
    assert_eq!(policy.answer_windows, 2);
    assert_eq!(policy.take_charge, Duration::days(7));
}

#[test]
fn acknowledgement_is_missed_at_its_deadline_while_sent_and_only_once() {
    let state = given(&referral_in(ReferralState::Sent));
    assert_eq!(
        when(
            &state,
            mark(REFERRAL, DeadlineKind::Acknowledgement),
            &system(ACK_BY - Duration::seconds(1))
        ),
        Err(ReferralError::DeadlineNotMissed)
    );
    let events = when(
        &state,
        mark(REFERRAL, DeadlineKind::Acknowledgement),
        &system(ACK_BY),
    );
    assert_eq!(
        events,
        Ok(vec![Event::DeadlineMissed {
            referral_id: rid(REFERRAL),
            kind: DeadlineKind::Acknowledgement,
            due_at: ACK_BY,
            detected_at: ACK_BY,
        }])
    );
    let state = apply(state, &events.expect("accepted"));
    let referral = &state.referrals[&rid(REFERRAL)];
    assert_eq!(referral.state, ReferralState::Sent, "a miss is not a state");
    assert!(referral.missed.contains(&DeadlineKind::Acknowledgement));
    assert_eq!(
        when(
            &state,
            mark(REFERRAL, DeadlineKind::Acknowledgement),
            &system(ACK_BY + Duration::hours(1))
        ),
        Err(ReferralError::DeadlineNotMissed)
    );
    // The receiver may still acknowledge late.
    assert!(
        when(
            &state,
            Kind::Receive.command(REFERRAL),
            &by(RECEIVER, ACK_BY + Duration::hours(2))
        )
        .is_ok()
    );
}

#[test]
fn acknowledgement_is_not_missed_once_received_or_answered() {
    for from in ReferralState::ALL {
        if *from == ReferralState::Sent {
            continue;
        }
        let state = given(&referral_in(*from));
        assert_eq!(
            when(
                &state,
                mark(REFERRAL, DeadlineKind::Acknowledgement),
                &system(ACK_BY + Duration::days(30))
            ),
            Err(ReferralError::DeadlineNotMissed),
            "from {from}"
        );
    }
}

#[test]
fn answer_is_missed_while_sent_or_received_and_expires_the_referral() {
    for from in [ReferralState::Sent, ReferralState::Received] {
        let state = given(&referral_in(from));
        assert_eq!(
            when(
                &state,
                mark(REFERRAL, DeadlineKind::Answer),
                &system(ANSWER_BY - Duration::seconds(1))
            ),
            Err(ReferralError::DeadlineNotMissed),
            "before, from {from}"
        );
        let detected = ANSWER_BY + Duration::minutes(5);
        let events = when(
            &state,
            mark(REFERRAL, DeadlineKind::Answer),
            &system(detected),
        );
        assert_eq!(
            events,
            Ok(vec![
                Event::DeadlineMissed {
                    referral_id: rid(REFERRAL),
                    kind: DeadlineKind::Answer,
                    due_at: ANSWER_BY,
                    detected_at: detected,
                },
                Event::ReferralExpired {
                    referral_id: rid(REFERRAL),
                    at: detected,
                },
            ]),
            "from {from}"
        );
        let state = apply(state, &events.expect("accepted"));
        assert_eq!(state_of(&state, REFERRAL), ReferralState::Expired);
        assert_eq!(
            when(
                &state,
                mark(REFERRAL, DeadlineKind::Answer),
                &system(detected + Duration::hours(1))
            ),
            Err(ReferralError::DeadlineNotMissed),
            "again, from {from}"
        );
        // An expired referral can no longer be answered.
        assert_eq!(
            when(
                &state,
                Kind::Accept.command(REFERRAL),
                &by(RECEIVER, detected)
            ),
            Err(ReferralError::TransitionNotAllowed("expired"))
        );
    }
}

#[test]
fn answer_is_missed_exactly_at_its_deadline() {
    let state = given(&referral_in(ReferralState::Received));
    let events = when(
        &state,
        mark(REFERRAL, DeadlineKind::Answer),
        &system(ANSWER_BY),
    )
    .expect("due at answer_by");
    assert_eq!(events.len(), 2);
}

#[test]
fn answer_is_not_missed_once_answered() {
    for from in ReferralState::ALL {
        if matches!(from, ReferralState::Sent | ReferralState::Received) {
            continue;
        }
        let state = given(&referral_in(*from));
        assert_eq!(
            when(
                &state,
                mark(REFERRAL, DeadlineKind::Answer),
                &system(ANSWER_BY + Duration::days(30))
            ),
            Err(ReferralError::DeadlineNotMissed),
            "from {from}"
        );
    }
}

#[test]
fn taking_charge_is_missed_while_accepted_after_its_deadline_and_only_once() {
    let state = given(&referral_in(ReferralState::Accepted));
    assert_eq!(
        when(
            &state,
            mark(REFERRAL, DeadlineKind::TakingCharge),
            &system(TAKE_CHARGE_BY - Duration::seconds(1))
        ),
        Err(ReferralError::DeadlineNotMissed)
    );
    let events = when(
        &state,
        mark(REFERRAL, DeadlineKind::TakingCharge),
        &system(TAKE_CHARGE_BY),
    );
    assert_eq!(
        events,
        Ok(vec![Event::DeadlineMissed {
            referral_id: rid(REFERRAL),
            kind: DeadlineKind::TakingCharge,
            due_at: TAKE_CHARGE_BY,
            detected_at: TAKE_CHARGE_BY,
        }])
    );
    let state = apply(state, &events.expect("accepted"));
    assert_eq!(state_of(&state, REFERRAL), ReferralState::Accepted);
    assert_eq!(
        when(
            &state,
            mark(REFERRAL, DeadlineKind::TakingCharge),
            &system(TAKE_CHARGE_BY + Duration::days(1))
        ),
        Err(ReferralError::DeadlineNotMissed)
    );
    // Taking charge late is still possible; the miss stays recorded.
    let events = when(
        &state,
        Kind::TakeCharge.command(REFERRAL),
        &by(RECEIVER, TAKE_CHARGE_BY + Duration::days(2)),
    )
    .expect("late taking charge");
    let state = apply(state, &events);
    let referral = &state.referrals[&rid(REFERRAL)];
    assert_eq!(referral.state, ReferralState::InCare);
    assert!(referral.missed.contains(&DeadlineKind::TakingCharge));
}

#[test]
fn taking_charge_is_not_missed_outside_accepted() {
    for from in ReferralState::ALL {
        if *from == ReferralState::Accepted {
            continue;
        }
        let state = given(&referral_in(*from));
        assert_eq!(
            when(
                &state,
                mark(REFERRAL, DeadlineKind::TakingCharge),
                &system(TAKE_CHARGE_BY + Duration::days(30))
            ),
            Err(ReferralError::DeadlineNotMissed),
            "from {from}"
        );
    }
}

#[test]
fn acknowledgement_and_answer_may_both_be_missed_on_a_sent_referral_in_that_order() {
    let state = given(&referral_in(ReferralState::Sent));
    let ack = when(
        &state,
        mark(REFERRAL, DeadlineKind::Acknowledgement),
        &system(ANSWER_BY),
    )
    .expect("acknowledgement missed");
    let state = apply(state, &ack);
    let answer = when(
        &state,
        mark(REFERRAL, DeadlineKind::Answer),
        &system(ANSWER_BY),
    )
    .expect("answer missed");
    let state = apply(state, &answer);
    let referral = &state.referrals[&rid(REFERRAL)];
    assert_eq!(referral.state, ReferralState::Expired);
    assert_eq!(
        referral.missed,
        [DeadlineKind::Acknowledgement, DeadlineKind::Answer]
            .into_iter()
            .collect()
    );
}

#[test]
fn missed_deadlines_lists_exactly_the_due_pairs() {
    use ReferralState as S;
    let mut events = vec![consent_to_receiver(CONSENT)];
    for (id, target) in [
        ("r-draft", S::Draft),
        ("r-sent", S::Sent),
        ("r-received", S::Received),
        ("r-accepted", S::Accepted),
        ("r-in-care", S::InCare),
        ("r-expired", S::Expired),
        ("r-marked", S::Sent),
    ] {
        events.extend(path_to(id, CONSENT, target));
    }
    events.push(Event::DeadlineMissed {
        referral_id: rid("r-marked"),
        kind: DeadlineKind::Acknowledgement,
        due_at: ACK_BY,
        detected_at: ACK_BY,
    });
    let state = given(&events);
    let pairs = |list: &[(&str, DeadlineKind)]| -> Vec<(ReferralId, DeadlineKind)> {
        list.iter().map(|(id, kind)| (rid(id), *kind)).collect()
    };

    assert_eq!(missed_deadlines(&state, NOW), vec![]);
    assert_eq!(
        missed_deadlines(&state, ACK_BY - Duration::seconds(1)),
        vec![]
    );
    assert_eq!(
        missed_deadlines(&state, ACK_BY),
        pairs(&[("r-sent", DeadlineKind::Acknowledgement)])
    );
    assert_eq!(
        missed_deadlines(&state, ANSWER_BY),
        pairs(&[
            ("r-marked", DeadlineKind::Answer),
            ("r-received", DeadlineKind::Answer),
            ("r-sent", DeadlineKind::Acknowledgement),
            ("r-sent", DeadlineKind::Answer),
        ])
    );
    assert_eq!(
        missed_deadlines(&state, TAKE_CHARGE_BY),
        pairs(&[
            ("r-accepted", DeadlineKind::TakingCharge),
            ("r-marked", DeadlineKind::Answer),
            ("r-received", DeadlineKind::Answer),
            ("r-sent", DeadlineKind::Acknowledgement),
            ("r-sent", DeadlineKind::Answer),
        ])
    );

    // The watcher marks them all; nothing is left, and each was accepted.
    let mut state = state;
    for (referral_id, kind) in missed_deadlines(&state, TAKE_CHARGE_BY) {
        let events = when(
            &state,
            Command::MarkDeadlineMissed {
                referral_id: referral_id.clone(),
                kind,
            },
            &system(TAKE_CHARGE_BY),
        )
        .expect("a listed deadline can be marked");
        state = apply(state, &events);
    }
    assert_eq!(missed_deadlines(&state, TAKE_CHARGE_BY), vec![]);
    assert_eq!(
        missed_deadlines(&state, TAKE_CHARGE_BY + Duration::days(365)),
        vec![]
    );
    for id in ["r-marked", "r-received", "r-sent"] {
        assert_eq!(state_of(&state, id), ReferralState::Expired, "{id}");
    }
    assert_eq!(state_of(&state, "r-accepted"), ReferralState::Accepted);
}

// ---------------------------------------------------------------------------
// The accept/cancel race, as facts about states.
// ---------------------------------------------------------------------------

#[test]
fn accept_and_cancel_are_both_allowed_from_received_but_whichever_comes_second_is_refused() {
    let received = given(&referral_in(ReferralState::Received));
    let accept = when(
        &received,
        Kind::Accept.command(REFERRAL),
        &by(RECEIVER, NOW),
    )
    .expect("accept alone is allowed");
    let cancel = when(
        &received,
        Kind::Cancel.command(REFERRAL),
        &by(REFERRER, NOW),
    )
    .expect("cancel alone is allowed");

    // Accept first: the cancel loses.
    let accepted = apply(received.clone(), &accept);
    assert_eq!(
        when(
            &accepted,
            Kind::Cancel.command(REFERRAL),
            &by(REFERRER, NOW)
        ),
        Err(ReferralError::TransitionNotAllowed("accepted"))
    );
    // Cancel first: the accept loses.
    let cancelled = apply(received, &cancel);
    assert_eq!(
        when(
            &cancelled,
            Kind::Accept.command(REFERRAL),
            &by(RECEIVER, NOW)
        ),
        Err(ReferralError::TransitionNotAllowed("cancelled"))
    );

    // Taken into care, it is no more cancellable.
    let taken = when(
        &accepted,
        Kind::TakeCharge.command(REFERRAL),
        &by(RECEIVER, NOW),
    )
    .expect("taken into care");
    let in_care = apply(accepted, &taken);
    assert_eq!(
        when(&in_care, Kind::Cancel.command(REFERRAL), &by(REFERRER, NOW)),
        Err(ReferralError::TransitionNotAllowed("in_care"))
    );
}

// ---------------------------------------------------------------------------
// Property: random commands by random actors over a forward-moving clock.
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Review follow-ups: the service acts only on deadlines, late answers record
// the missed deadline, the minor rule holds at send.
// ---------------------------------------------------------------------------

#[test]
fn the_service_itself_may_only_mark_deadlines() {
    for from in [
        ReferralState::Sent,
        ReferralState::Received,
        ReferralState::Accepted,
    ] {
        let state = given(&referral_in(from));
        for command in [
            Command::Receive {
                referral_id: rid(REFERRAL),
            },
            Command::Accept {
                referral_id: rid(REFERRAL),
            },
            Command::Cancel {
                referral_id: rid(REFERRAL),
            },
            Command::TakeCharge {
                referral_id: rid(REFERRAL),
            },
            Command::MarkFailed {
                referral_id: rid(REFERRAL),
            },
        ] {
            let refused = decide(
                &state,
                command.clone(),
                &Context {
                    actor: Actor::System,
                    ..by(RECEIVER, NOW)
                },
            );
            assert!(
                matches!(
                    refused,
                    Err(ReferralError::NotTheReceiver | ReferralError::NotTheReferrer)
                ),
                "{command:?} from {from}: {refused:?}"
            );
        }
    }
    let state = given(&referral_in(ReferralState::Sent));
    let by_an_organisation = when(
        &state,
        Command::MarkDeadlineMissed {
            referral_id: rid(REFERRAL),
            kind: DeadlineKind::Answer,
        },
        &by(RECEIVER, NOW + Duration::days(30)),
    );
    assert_eq!(by_an_organisation, Err(ReferralError::NotAllowedForActor));
}

#[test]
fn a_late_acknowledgement_records_the_missed_deadline_in_its_commit() {
    let state = given(&referral_in(ReferralState::Sent));
    let late = NOW + Duration::hours(30);
    let events = when(
        &state,
        Command::Receive {
            referral_id: rid(REFERRAL),
        },
        &by(RECEIVER, late),
    )
    .expect("received");
    assert!(
        matches!(
            events.as_slice(),
            [
                Event::DeadlineMissed {
                    kind: DeadlineKind::Acknowledgement,
                    ..
                },
                Event::ReferralReceived { .. }
            ]
        ),
        "{events:?}"
    );
    let on_time = when(
        &state,
        Command::Receive {
            referral_id: rid(REFERRAL),
        },
        &by(RECEIVER, NOW + Duration::hours(1)),
    )
    .expect("received");
    assert!(matches!(
        on_time.as_slice(),
        [Event::ReferralReceived { .. }]
    ));
}

#[test]
fn a_late_answer_records_the_missed_deadlines_but_is_accepted() {
    let state = given(&referral_in(ReferralState::Sent));
    let late = NOW + Duration::hours(60);
    let events = when(
        &state,
        Command::Accept {
            referral_id: rid(REFERRAL),
        },
        &by(RECEIVER, late),
    )
    .expect("accepted");
    let kinds: Vec<DeadlineKind> = events
        .iter()
        .filter_map(|e| match e {
            Event::DeadlineMissed { kind, .. } => Some(*kind),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, [DeadlineKind::Acknowledgement, DeadlineKind::Answer]);
    assert!(matches!(
        events.last(),
        Some(Event::ReferralAccepted { .. })
    ));
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::ReferralExpired { .. }))
    );
}

#[test]
fn an_adults_consent_does_not_cover_sending_once_the_case_concerns_a_minor() {
    let adults_consent = consent_given(
        CONSENT,
        Recipient::Organisation(org(RECEIVER)),
        Basis::Consent {
            purpose: code("gbv_support"),
            scopes: all_scopes(),
            valid_until: VALID_UNTIL,
            grantor: Grantor::Person {
                of_consent_age: false,
            },
        },
    );
    let state = given(&[adults_consent, drafted(REFERRAL, CONSENT)]);
    let send = Command::Send {
        referral_id: rid(REFERRAL),
    };
    assert!(
        when(&state, send.clone(), &by(REFERRER, NOW)).is_ok(),
        "an adult's own consent covers it"
    );
    let minor = Context {
        case_concerns_a_minor: true,
        ..by(REFERRER, NOW)
    };
    assert_eq!(
        when(&state, send, &minor),
        Err(ReferralError::MinorConsentRequired)
    );
}

#[test]
fn every_organisations_read_of_a_dataset_is_recorded_and_the_system_never_reads() {
    let state = given(&referral_in(ReferralState::Sent));
    let read = Command::RecordDatasetRead {
        referral_ids: vec![rid(REFERRAL)],
    };
    for reader in [RECEIVER, REFERRER, THIRD] {
        assert!(matches!(
            when(&state, read.clone(), &by(reader, NOW)).as_deref(),
            Ok([Event::DatasetRead { .. }])
        ));
    }
    assert_eq!(
        when(&state, read, &system(NOW)),
        Err(ReferralError::NotAllowedForActor)
    );
    assert_eq!(
        when(
            &state,
            Command::RecordDatasetRead {
                referral_ids: vec![rid("a2f5c6e0-0000-4000-8000-000000000099")],
            },
            &by(RECEIVER, NOW)
        ),
        Err(ReferralError::ReferralNotFound)
    );
    let none = Command::RecordDatasetRead {
        referral_ids: vec![],
    };
    assert!(matches!(
        when(&state, none, &by(RECEIVER, NOW)),
        Err(ReferralError::Invalid { .. })
    ));
}
