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
//!
//! Beside the case's record, the crate holds the organisation directory
//! ([`directory`], one aggregate per organisation), the publication of pathway
//! rules ([`pathway_rules`]) and the ranking of receivers to suggest
//! ([`suggestions`]).

pub mod dataset_reads;
mod decide;
pub mod directory;
pub mod model;
pub mod pathway_rules;
pub mod suggestions;

use std::collections::{BTreeMap, BTreeSet};

use pathway::{Category, Urgency};
use time::{Duration, OffsetDateTime};

pub use decide::{decide, missed_deadlines};
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
        pathway::replay(events, State::evolve)
    }

    /// The organisations the case was ever sent to: the receivers of its
    /// referrals past draft, open or ended (each acts on its own referrals only).
    pub fn receivers(&self) -> impl Iterator<Item = &OrganisationId> {
        self.referrals
            .values()
            .filter(|referral| referral.state != ReferralState::Draft)
            .map(|referral| &referral.receiver)
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
