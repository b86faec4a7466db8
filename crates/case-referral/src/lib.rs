//! The referral record of a case: the consent ledger and every referral of the
//! case, one aggregate so that a withdrawal and the revocations it causes are
//! one atomic commit. Pure: time, the acting organisation and the facts about
//! the case arrive in the [`Context`].
//!
//! Lifecycle (HL7 FHIR Task): draft -> sent -> received -> accepted | declined
//! -> in_care <-> on_hold -> completed; cancelled (referrer), revoked (consent
//! withdrawn), expired (no answer), failed (lost to follow-up), redirected
//! (declined with a suggestion). Only the receiver moves a referral through the
//! receiver's states; only the referrer sends and cancels.

pub mod model;
pub mod pathway_rules;

use std::collections::{BTreeMap, BTreeSet};

use pathway::{Category, Urgency};
use time::{Duration, OffsetDateTime};

pub use model::*;

/// Deadlines to answer and to take charge, by urgency (configurable; defaults
/// from the domain brief: 4 h, 24 h, 72 h; taking charge within 7 days).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlinePolicy {
    pub acknowledge_immediate: Duration,
    pub acknowledge_high: Duration,
    pub acknowledge_standard: Duration,
    /// The answer (accept or decline) is due this many acknowledgement windows after sending.
    pub answer_windows: i32,
    pub take_charge: Duration,
}

impl Default for DeadlinePolicy {
    fn default() -> Self {
        DeadlinePolicy {
            acknowledge_immediate: Duration::hours(4),
            acknowledge_high: Duration::hours(24),
            acknowledge_standard: Duration::hours(72),
            answer_windows: 2,
            take_charge: Duration::days(7),
        }
    }
}

impl DeadlinePolicy {
    pub fn acknowledge_within(&self, urgency: Urgency) -> Duration {
        match urgency {
            Urgency::Immediate => self.acknowledge_immediate,
            Urgency::High => self.acknowledge_high,
            Urgency::Standard => self.acknowledge_standard,
        }
    }
}

/// Who is acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Organisation(OrganisationId),
    /// The service itself (deadlines).
    System,
}

/// What `decide` needs to know about the world, read by the service beforehand.
#[derive(Debug, Clone)]
pub struct Context {
    pub now: OffsetDateTime,
    pub actor: Actor,
    /// The case has a minor category not ruled out (from screening).
    pub case_concerns_a_minor: bool,
    pub deadlines: DeadlinePolicy,
}

/// To whom a consent or an exception lets the case be referred.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    Organisation(OrganisationId),
    ServiceType(ServiceType),
}

/// Who gave a consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grantor {
    /// The person; for a minor, only once of the configured consent age.
    Person { of_consent_age: bool },
    /// The parent or guardian (tutore), with or without the child's assent.
    Guardian { child_assent: bool },
}

impl Grantor {
    /// For a minor: the guardian with the child's assent, or the child of consent age.
    pub fn valid_for_a_minor(self) -> bool {
        match self {
            Grantor::Person { of_consent_age } => of_consent_age,
            Grantor::Guardian { child_assent } => child_assent,
        }
    }
}

/// The legal basis of a referral: a consent, or an exception with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Basis {
    Consent {
        purpose: Code,
        scopes: BTreeSet<DataScope>,
        valid_until: OffsetDateTime,
        grantor: Grantor,
    },
    Exception {
        reason: ExceptionReason,
        /// The authority who decided (code, for example `juvenile_court_palermo`).
        authority: Code,
    },
}

/// The minimum dataset a referral carries, frozen when it is sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dataset {
    pub categories: Vec<Category>,
    pub urgency: Option<Urgency>,
    pub languages: Vec<Language>,
    pub communication_needs: Vec<Code>,
    pub safety_instructions: Vec<Code>,
}

impl Dataset {
    /// The scopes a consent must cover for this dataset.
    pub fn required_scopes(&self) -> BTreeSet<DataScope> {
        let mut scopes = BTreeSet::new();
        if !self.categories.is_empty() {
            scopes.insert(DataScope::Categories);
        }
        if self.urgency.is_some() {
            scopes.insert(DataScope::Urgency);
        }
        if !self.languages.is_empty() || !self.communication_needs.is_empty() {
            scopes.insert(DataScope::Communication);
        }
        if !self.safety_instructions.is_empty() {
            scopes.insert(DataScope::SafetyInstructions);
        }
        scopes
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    GiveConsent {
        consent_id: ConsentId,
        recipient: Recipient,
        basis: Basis,
        given_at: OffsetDateTime,
    },
    WithdrawConsent {
        consent_id: ConsentId,
    },
    CreateReferral {
        referral_id: ReferralId,
        receiver: OrganisationId,
        service_type: ServiceType,
        consent_id: ConsentId,
        dataset: Dataset,
        /// Send at once instead of keeping a draft.
        send: bool,
    },
    Send {
        referral_id: ReferralId,
    },
    Receive {
        referral_id: ReferralId,
    },
    Accept {
        referral_id: ReferralId,
    },
    Decline {
        referral_id: ReferralId,
        reason: DeclineReason,
        redirect_to: Option<OrganisationId>,
    },
    TakeCharge {
        referral_id: ReferralId,
    },
    Hold {
        referral_id: ReferralId,
    },
    Resume {
        referral_id: ReferralId,
    },
    Complete {
        referral_id: ReferralId,
        outcome: CareOutcome,
    },
    Cancel {
        referral_id: ReferralId,
    },
    MarkFailed {
        referral_id: ReferralId,
    },
    /// From the deadline watcher.
    MarkDeadlineMissed {
        referral_id: ReferralId,
        kind: DeadlineKind,
    },
    /// Record that an organisation (the receiver, the referrer, an authority)
    /// read the minimum dataset of these referrals: the access log.
    RecordDatasetRead {
        referral_ids: Vec<ReferralId>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    ConsentGiven {
        consent_id: ConsentId,
        recipient: Recipient,
        basis: Basis,
        given_at: OffsetDateTime,
    },
    ConsentWithdrawn {
        consent_id: ConsentId,
        withdrawn_at: OffsetDateTime,
    },
    ReferralDrafted {
        referral_id: ReferralId,
        referrer: OrganisationId,
        receiver: OrganisationId,
        service_type: ServiceType,
        consent_id: ConsentId,
        /// `None` when read back after the person's data was erased: the
        /// dataset was sealed with their key and cannot be opened any more.
        dataset: Option<Dataset>,
    },
    ReferralSent {
        referral_id: ReferralId,
        sent_at: OffsetDateTime,
        acknowledge_by: OffsetDateTime,
        answer_by: OffsetDateTime,
    },
    ReferralReceived {
        referral_id: ReferralId,
        at: OffsetDateTime,
    },
    ReferralAccepted {
        referral_id: ReferralId,
        at: OffsetDateTime,
        take_charge_by: OffsetDateTime,
    },
    ReferralDeclined {
        referral_id: ReferralId,
        at: OffsetDateTime,
        reason: DeclineReason,
        redirect_to: Option<OrganisationId>,
    },
    TakenIntoCare {
        referral_id: ReferralId,
        at: OffsetDateTime,
    },
    PutOnHold {
        referral_id: ReferralId,
        at: OffsetDateTime,
    },
    Resumed {
        referral_id: ReferralId,
        at: OffsetDateTime,
    },
    ReferralCompleted {
        referral_id: ReferralId,
        at: OffsetDateTime,
        outcome: CareOutcome,
    },
    ReferralCancelled {
        referral_id: ReferralId,
        at: OffsetDateTime,
    },
    ReferralRevoked {
        referral_id: ReferralId,
        at: OffsetDateTime,
        consent_id: ConsentId,
    },
    ReferralExpired {
        referral_id: ReferralId,
        at: OffsetDateTime,
    },
    ReferralFailed {
        referral_id: ReferralId,
        at: OffsetDateTime,
    },
    /// A missed deadline, escalated to the prefecture of the case's province.
    DeadlineMissed {
        referral_id: ReferralId,
        kind: DeadlineKind,
        due_at: OffsetDateTime,
        detected_at: OffsetDateTime,
    },
    /// The access log: the receiver read these referrals' minimum dataset.
    DatasetRead {
        referral_ids: Vec<ReferralId>,
        read_at: OffsetDateTime,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferralError {
    /// The command's content is not acceptable (INVALID_ARGUMENT).
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: &'static str },
    #[error("referral not found")]
    ReferralNotFound,
    #[error("consent not found")]
    ConsentNotFound,
    #[error("id already used in this case")]
    AlreadyExists,
    #[error("no valid consent or exception covers this referral")]
    NoValidConsent,
    #[error(
        "a minor's consent needs the guardian with the child's assent, or the child of consent age"
    )]
    MinorConsentRequired,
    #[error("consent already withdrawn")]
    AlreadyWithdrawn,
    #[error("transition not allowed from {0}")]
    TransitionNotAllowed(&'static str),
    #[error("only the receiving organisation may do this")]
    NotTheReceiver,
    #[error("only the referring organisation may do this")]
    NotTheReferrer,
    #[error("the deadline has not passed, or was met or already marked")]
    DeadlineNotMissed,
    #[error(
        "only the service's deadline watcher marks deadlines; consents are recorded by organisations"
    )]
    NotAllowedForActor,
    #[error("the person's personal data is erased: the referral's dataset cannot be sent")]
    PersonalDataErased,
}

fn invalid(field: impl Into<String>, reason: &'static str) -> ReferralError {
    ReferralError::Invalid {
        field: field.into(),
        reason,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentEntry {
    pub recipient: Recipient,
    pub basis: Basis,
    pub given_at: OffsetDateTime,
    pub withdrawn_at: Option<OffsetDateTime>,
}

impl ConsentEntry {
    /// Whether this entry lets a referral with `dataset` go to `receiver` of `service_type` at `now`.
    pub fn covers(
        &self,
        receiver: &OrganisationId,
        service_type: ServiceType,
        dataset: &Dataset,
        now: OffsetDateTime,
    ) -> bool {
        let recipient_matches = match &self.recipient {
            Recipient::Organisation(org) => org == receiver,
            Recipient::ServiceType(t) => *t == service_type,
        };
        let basis_valid = match &self.basis {
            Basis::Consent {
                scopes,
                valid_until,
                ..
            } => *valid_until > now && dataset.required_scopes().is_subset(scopes),
            Basis::Exception { .. } => true,
        };
        self.withdrawn_at.is_none() && recipient_matches && basis_valid
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referral {
    pub referrer: OrganisationId,
    pub receiver: OrganisationId,
    pub service_type: ServiceType,
    pub consent_id: ConsentId,
    /// `None` once the person's data is erased.
    pub dataset: Option<Dataset>,
    pub state: ReferralState,
    pub acknowledge_by: Option<OffsetDateTime>,
    pub answer_by: Option<OffsetDateTime>,
    pub take_charge_by: Option<OffsetDateTime>,
    pub missed: BTreeSet<DeadlineKind>,
}

/// The case's consents and referrals as decided so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub consents: BTreeMap<ConsentId, ConsentEntry>,
    pub referrals: BTreeMap<ReferralId, Referral>,
}

impl State {
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> State {
        events
            .into_iter()
            .fold(State::default(), |state, event| state.evolve(event))
    }

    pub fn evolve(mut self, event: &Event) -> State {
        let mut set = |id: &ReferralId, state: ReferralState| {
            if let Some(referral) = self.referrals.get_mut(id) {
                referral.state = state;
            }
        };
        match event {
            Event::ConsentGiven {
                consent_id,
                recipient,
                basis,
                given_at,
            } => {
                self.consents.insert(
                    consent_id.clone(),
                    ConsentEntry {
                        recipient: recipient.clone(),
                        basis: basis.clone(),
                        given_at: *given_at,
                        withdrawn_at: None,
                    },
                );
            }
            Event::ConsentWithdrawn {
                consent_id,
                withdrawn_at,
            } => {
                if let Some(entry) = self.consents.get_mut(consent_id) {
                    entry.withdrawn_at = Some(*withdrawn_at);
                }
            }
            Event::ReferralDrafted {
                referral_id,
                referrer,
                receiver,
                service_type,
                consent_id,
                dataset,
            } => {
                self.referrals.insert(
                    referral_id.clone(),
                    Referral {
                        referrer: referrer.clone(),
                        receiver: receiver.clone(),
                        service_type: *service_type,
                        consent_id: consent_id.clone(),
                        dataset: dataset.clone(),
                        state: ReferralState::Draft,
                        acknowledge_by: None,
                        answer_by: None,
                        take_charge_by: None,
                        missed: BTreeSet::new(),
                    },
                );
            }
            Event::ReferralSent {
                referral_id,
                acknowledge_by,
                answer_by,
                ..
            } => {
                if let Some(referral) = self.referrals.get_mut(referral_id) {
                    referral.state = ReferralState::Sent;
                    referral.acknowledge_by = Some(*acknowledge_by);
                    referral.answer_by = Some(*answer_by);
                }
            }
            Event::ReferralReceived { referral_id, .. } => {
                set(referral_id, ReferralState::Received)
            }
            Event::ReferralAccepted {
                referral_id,
                take_charge_by,
                ..
            } => {
                if let Some(referral) = self.referrals.get_mut(referral_id) {
                    referral.state = ReferralState::Accepted;
                    referral.take_charge_by = Some(*take_charge_by);
                }
            }
            Event::ReferralDeclined {
                referral_id,
                redirect_to,
                ..
            } => {
                let state = if redirect_to.is_some() {
                    ReferralState::Redirected
                } else {
                    ReferralState::Declined
                };
                set(referral_id, state);
            }
            Event::TakenIntoCare { referral_id, .. } | Event::Resumed { referral_id, .. } => {
                set(referral_id, ReferralState::InCare)
            }
            Event::PutOnHold { referral_id, .. } => set(referral_id, ReferralState::OnHold),
            Event::ReferralCompleted { referral_id, .. } => {
                set(referral_id, ReferralState::Completed)
            }
            Event::ReferralCancelled { referral_id, .. } => {
                set(referral_id, ReferralState::Cancelled)
            }
            Event::ReferralRevoked { referral_id, .. } => set(referral_id, ReferralState::Revoked),
            Event::ReferralExpired { referral_id, .. } => set(referral_id, ReferralState::Expired),
            Event::ReferralFailed { referral_id, .. } => set(referral_id, ReferralState::Failed),
            Event::DatasetRead { .. } => {}
            Event::DeadlineMissed {
                referral_id, kind, ..
            } => {
                if let Some(referral) = self.referrals.get_mut(referral_id) {
                    referral.missed.insert(*kind);
                }
            }
        }
        self
    }
}

/// Who may make a transition.
enum Party {
    Referrer,
    Receiver,
    Either,
}

fn check_party(referral: &Referral, actor: &Actor, party: Party) -> Result<(), ReferralError> {
    // The service itself only marks deadlines; every transition is a party's.
    let Actor::Organisation(org) = actor else {
        return Err(match party {
            Party::Referrer => ReferralError::NotTheReferrer,
            Party::Receiver | Party::Either => ReferralError::NotTheReceiver,
        });
    };
    match party {
        Party::Receiver if *org != referral.receiver => Err(ReferralError::NotTheReceiver),
        Party::Referrer if *org != referral.referrer => Err(ReferralError::NotTheReferrer),
        Party::Either if *org != referral.receiver && *org != referral.referrer => {
            Err(ReferralError::NotTheReceiver)
        }
        _ => Ok(()),
    }
}

fn transition(
    state: &State,
    referral_id: &ReferralId,
    actor: &Actor,
    party: Party,
    from: &[ReferralState],
) -> Result<Referral, ReferralError> {
    let referral = state
        .referrals
        .get(referral_id)
        .ok_or(ReferralError::ReferralNotFound)?;
    check_party(referral, actor, party)?;
    if !from.contains(&referral.state) {
        return Err(ReferralError::TransitionNotAllowed(referral.state.code()));
    }
    Ok(referral.clone())
}

/// The single decision function of the referral record.
pub fn decide(
    state: &State,
    command: Command,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
    use ReferralState as S;
    let now = context.now;
    let actor = &context.actor;
    match command {
        Command::GiveConsent {
            consent_id,
            recipient,
            basis,
            given_at,
        } => {
            if *actor == Actor::System {
                return Err(ReferralError::NotAllowedForActor);
            }
            if state.consents.contains_key(&consent_id) {
                return Err(ReferralError::AlreadyExists);
            }
            if given_at > now {
                return Err(invalid("given_at", "is in the future"));
            }
            if let Basis::Consent {
                scopes,
                valid_until,
                grantor,
                ..
            } = &basis
            {
                if scopes.is_empty() {
                    return Err(invalid("scopes", "a consent must name what may be shared"));
                }
                if *valid_until <= now {
                    return Err(invalid("valid_until", "is not in the future"));
                }
                if context.case_concerns_a_minor && !grantor.valid_for_a_minor() {
                    return Err(ReferralError::MinorConsentRequired);
                }
            }
            Ok(vec![Event::ConsentGiven {
                consent_id,
                recipient,
                basis,
                given_at,
            }])
        }
        Command::WithdrawConsent { consent_id } => {
            if *actor == Actor::System {
                return Err(ReferralError::NotAllowedForActor);
            }
            let entry = state
                .consents
                .get(&consent_id)
                .ok_or(ReferralError::ConsentNotFound)?;
            if entry.withdrawn_at.is_some() {
                return Err(ReferralError::AlreadyWithdrawn);
            }
            let mut events = vec![Event::ConsentWithdrawn {
                consent_id: consent_id.clone(),
                withdrawn_at: now,
            }];
            for (referral_id, referral) in &state.referrals {
                if referral.consent_id == consent_id && !referral.state.is_terminal() {
                    events.push(Event::ReferralRevoked {
                        referral_id: referral_id.clone(),
                        at: now,
                        consent_id: consent_id.clone(),
                    });
                }
            }
            Ok(events)
        }
        Command::CreateReferral {
            referral_id,
            receiver,
            service_type,
            consent_id,
            dataset,
            send,
        } => {
            let Actor::Organisation(referrer) = actor else {
                return Err(ReferralError::NotTheReferrer);
            };
            if state.referrals.contains_key(&referral_id) {
                return Err(ReferralError::AlreadyExists);
            }
            if *referrer == receiver {
                return Err(invalid(
                    "receiver_organisation_id",
                    "cannot refer to oneself",
                ));
            }
            if dataset.categories.is_empty() {
                return Err(invalid(
                    "dataset.categories",
                    "a referral names at least one category",
                ));
            }
            if !state.consents.contains_key(&consent_id) {
                return Err(ReferralError::ConsentNotFound);
            }
            let mut events = vec![Event::ReferralDrafted {
                referral_id: referral_id.clone(),
                referrer: referrer.clone(),
                receiver,
                service_type,
                consent_id,
                dataset: Some(dataset),
            }];
            if send {
                let drafted = State::from_events([]).evolve(&events[0]);
                let merged = State {
                    consents: state.consents.clone(),
                    referrals: drafted.referrals,
                };
                events.extend(send_events(&merged, &referral_id, context)?);
            }
            Ok(events)
        }
        Command::Send { referral_id } => {
            transition(state, &referral_id, actor, Party::Referrer, &[S::Draft])?;
            send_events(state, &referral_id, context)
        }
        Command::Receive { referral_id } => {
            let referral = transition(state, &referral_id, actor, Party::Receiver, &[S::Sent])?;
            let mut events = late(&referral, &referral_id, DeadlineKind::Acknowledgement, now);
            events.push(Event::ReferralReceived {
                referral_id,
                at: now,
            });
            Ok(events)
        }
        Command::Accept { referral_id } => {
            transition(
                state,
                &referral_id,
                actor,
                Party::Receiver,
                &[S::Sent, S::Received],
            )?;
            let mut events = answer_events(&state.referrals[&referral_id], &referral_id, now);
            events.push(Event::ReferralAccepted {
                referral_id,
                at: now,
                take_charge_by: now + context.deadlines.take_charge,
            });
            Ok(events)
        }
        Command::Decline {
            referral_id,
            reason,
            redirect_to,
        } => {
            let referral = transition(
                state,
                &referral_id,
                actor,
                Party::Receiver,
                &[S::Sent, S::Received],
            )?;
            if redirect_to
                .as_ref()
                .is_some_and(|to| *to == referral.receiver)
            {
                return Err(invalid(
                    "redirect_to_organisation_id",
                    "cannot redirect to the same organisation",
                ));
            }
            let mut events = answer_events(&referral, &referral_id, now);
            events.push(Event::ReferralDeclined {
                referral_id,
                at: now,
                reason,
                redirect_to,
            });
            Ok(events)
        }
        Command::TakeCharge { referral_id } => {
            let referral = transition(state, &referral_id, actor, Party::Receiver, &[S::Accepted])?;
            let mut events = late(&referral, &referral_id, DeadlineKind::TakingCharge, now);
            events.push(Event::TakenIntoCare {
                referral_id,
                at: now,
            });
            Ok(events)
        }
        Command::Hold { referral_id } => {
            transition(state, &referral_id, actor, Party::Receiver, &[S::InCare])?;
            Ok(vec![Event::PutOnHold {
                referral_id,
                at: now,
            }])
        }
        Command::Resume { referral_id } => {
            transition(state, &referral_id, actor, Party::Receiver, &[S::OnHold])?;
            Ok(vec![Event::Resumed {
                referral_id,
                at: now,
            }])
        }
        Command::Complete {
            referral_id,
            outcome,
        } => {
            transition(state, &referral_id, actor, Party::Receiver, &[S::InCare])?;
            Ok(vec![Event::ReferralCompleted {
                referral_id,
                at: now,
                outcome,
            }])
        }
        Command::Cancel { referral_id } => {
            // Once the receiver has accepted, the referral is theirs to carry on:
            // the referrer can no longer cancel it (so an accept and a cancel
            // racing on the same referral have exactly one winner).
            transition(
                state,
                &referral_id,
                actor,
                Party::Referrer,
                &[S::Draft, S::Sent, S::Received],
            )?;
            Ok(vec![Event::ReferralCancelled {
                referral_id,
                at: now,
            }])
        }
        Command::MarkFailed { referral_id } => {
            transition(
                state,
                &referral_id,
                actor,
                Party::Either,
                &[S::Accepted, S::InCare, S::OnHold],
            )?;
            Ok(vec![Event::ReferralFailed {
                referral_id,
                at: now,
            }])
        }
        Command::RecordDatasetRead { referral_ids } => {
            if referral_ids.is_empty() {
                return Err(invalid(
                    "referral_ids",
                    "a read names at least one referral",
                ));
            }
            // Who may read is the service's to decide; every read by an
            // organisation is recorded, and the system never reads.
            if !matches!(actor, Actor::Organisation(_)) {
                return Err(ReferralError::NotAllowedForActor);
            }
            if referral_ids
                .iter()
                .any(|id| !state.referrals.contains_key(id))
            {
                return Err(ReferralError::ReferralNotFound);
            }
            Ok(vec![Event::DatasetRead {
                referral_ids,
                read_at: now,
            }])
        }
        Command::MarkDeadlineMissed { referral_id, kind } => {
            if *actor != Actor::System {
                return Err(ReferralError::NotAllowedForActor);
            }
            let referral = state
                .referrals
                .get(&referral_id)
                .ok_or(ReferralError::ReferralNotFound)?;
            let Some(due_at) = due(referral, kind) else {
                return Err(ReferralError::DeadlineNotMissed);
            };
            if due_at > now {
                return Err(ReferralError::DeadlineNotMissed);
            }
            let mut events = vec![Event::DeadlineMissed {
                referral_id: referral_id.clone(),
                kind,
                due_at,
                detected_at: now,
            }];
            if kind == DeadlineKind::Answer {
                events.push(Event::ReferralExpired {
                    referral_id,
                    at: now,
                });
            }
            Ok(events)
        }
    }
}

/// A deadline that passed unmarked before a late action: recorded in the same
/// commit, so that a missed deadline is never silent.
fn late(
    referral: &Referral,
    referral_id: &ReferralId,
    kind: DeadlineKind,
    now: OffsetDateTime,
) -> Vec<Event> {
    match due(referral, kind) {
        Some(due_at) if due_at <= now => vec![Event::DeadlineMissed {
            referral_id: referral_id.clone(),
            kind,
            due_at,
            detected_at: now,
        }],
        _ => Vec::new(),
    }
}

/// What precedes an answer (accept or decline): the receipt when the receiver
/// answers straight from `sent`, and any deadline it answers after.
fn answer_events(referral: &Referral, referral_id: &ReferralId, now: OffsetDateTime) -> Vec<Event> {
    let mut events = Vec::new();
    if referral.state == ReferralState::Sent {
        events.extend(late(
            referral,
            referral_id,
            DeadlineKind::Acknowledgement,
            now,
        ));
        events.push(Event::ReferralReceived {
            referral_id: referral_id.clone(),
            at: now,
        });
    }
    events.extend(late(referral, referral_id, DeadlineKind::Answer, now));
    events
}

fn send_events(
    state: &State,
    referral_id: &ReferralId,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
    let referral = state
        .referrals
        .get(referral_id)
        .ok_or(ReferralError::ReferralNotFound)?;
    let entry = state
        .consents
        .get(&referral.consent_id)
        .ok_or(ReferralError::ConsentNotFound)?;
    let dataset = referral
        .dataset
        .as_ref()
        .ok_or(ReferralError::PersonalDataErased)?;
    if !entry.covers(
        &referral.receiver,
        referral.service_type,
        dataset,
        context.now,
    ) {
        return Err(ReferralError::NoValidConsent);
    }
    // The case may have been found to concern a minor after the consent was given.
    if let Basis::Consent { grantor, .. } = &entry.basis
        && context.case_concerns_a_minor
        && !grantor.valid_for_a_minor()
    {
        return Err(ReferralError::MinorConsentRequired);
    }
    let urgency = dataset.urgency.unwrap_or(Urgency::Standard);
    let window = context.deadlines.acknowledge_within(urgency);
    Ok(vec![Event::ReferralSent {
        referral_id: referral_id.clone(),
        sent_at: context.now,
        acknowledge_by: context.now + window,
        answer_by: context.now + window * context.deadlines.answer_windows,
    }])
}

/// When a deadline of a referral falls due, if it is still open and not yet marked.
fn due(referral: &Referral, kind: DeadlineKind) -> Option<OffsetDateTime> {
    if referral.missed.contains(&kind) {
        return None;
    }
    match kind {
        DeadlineKind::Acknowledgement if referral.state == ReferralState::Sent => {
            referral.acknowledge_by
        }
        DeadlineKind::Answer
            if matches!(
                referral.state,
                ReferralState::Sent | ReferralState::Received
            ) =>
        {
            referral.answer_by
        }
        DeadlineKind::TakingCharge if referral.state == ReferralState::Accepted => {
            referral.take_charge_by
        }
        _ => None,
    }
}

/// Every deadline that has passed unmet and unmarked: what the watcher must try.
pub fn missed_deadlines(state: &State, now: OffsetDateTime) -> Vec<(ReferralId, DeadlineKind)> {
    let mut missed = Vec::new();
    for (id, referral) in &state.referrals {
        for kind in DeadlineKind::ALL {
            if due(referral, *kind).is_some_and(|at| at <= now) {
                missed.push((id.clone(), *kind));
            }
        }
    }
    missed
}
