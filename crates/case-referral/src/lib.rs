//! The referral record of a case: the consent ledger and every referral of the
//! case, one aggregate so that a withdrawal and the revocations it causes are
//! one atomic commit. Pure: time, the acting organisation, the facts screening
//! recorded about the case ([`CaseFacts`]) and the receiver's directory entry
//! arrive in the [`Context`].
//!
//! Lifecycle (HL7 FHIR Task): draft -> sent -> received -> accepted | declined
//! -> in_care <-> on_hold -> completed; cancelled (referrer, or the service for
//! a closed case), revoked (consent withdrawn before care), expired (no
//! answer), failed (lost to follow-up), redirected (declined with a
//! suggestion). Only the receiver moves a referral through the receiver's
//! states; only the referrer sends and cancels; only the service itself marks
//! deadlines and reacts to the case (closure, transfer, a risen urgency:
//! [`due_commands`]). Deadlines follow the case's urgency, never the dataset's.
//!
//! Beside the case's record, the crate holds the organisation directory
//! ([`directory`], one aggregate per organisation), the publication of pathway
//! rules ([`pathway_rules`]) and the ranking of receivers to suggest
//! ([`suggestions`]).

pub mod case;
pub mod dataset_reads;
mod decide;
pub mod directory;
pub mod model;
pub mod pathway_rules;
pub mod suggestions;

use std::collections::{BTreeMap, BTreeSet};

use pathway::{AgeBand, Category, Urgency};
use time::{Duration, OffsetDateTime};

pub use case::{CaseFacts, MinorsPolicy, Place};
pub use decide::{Due, closure_reaction_due, decide, due_commands, tightening_due, transfer_due};
pub use directory::OrganisationProfile;
pub use model::*;

/// Deadlines to answer and to take charge, by urgency (configurable; defaults
/// from the domain brief: 4 h, 24 h, 72 h; taking charge within 7 days),
/// with the version recorded on every referral sent under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlinePolicy {
    /// Which policy this is (configuration): recorded on `ReferralSent`.
    pub version: u32,
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
            version: 1,
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

    /// The acknowledgement and answer deadlines of a referral of `urgency`
    /// whose windows run from `from`.
    pub fn deadlines(
        &self,
        urgency: Urgency,
        from: OffsetDateTime,
    ) -> (OffsetDateTime, OffsetDateTime) {
        let window = self.acknowledge_within(urgency);
        (from + window, from + window * self.answer_windows)
    }
}

/// Who is acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Organisation(OrganisationId),
    /// The service itself (deadlines, reactions to what screening recorded).
    System,
}

/// What `decide` needs to know about the world, read by the service beforehand.
#[derive(Debug, Clone)]
pub struct Context {
    pub now: OffsetDateTime,
    pub actor: Actor,
    /// What screening recorded about the case.
    pub case: CaseFacts,
    /// The directory's entry of the organisation a referral is created for or
    /// sent to, as the directory holds it now (`None` when the command sends
    /// nothing, or the organisation is not in the directory).
    pub receiver: Option<OrganisationProfile>,
    /// The version of the pathway rules in force (recorded on a new referral).
    pub rules_version: u32,
    pub deadlines: DeadlinePolicy,
    pub minors: MinorsPolicy,
}

/// To whom a consent or an exception lets the case be referred.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    Organisation(OrganisationId),
    ServiceType(ServiceType),
}

/// Who gave a consent. Whether the person may consent alone is decided from
/// the case's age band, never from what the caller asserts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grantor {
    /// The person; for a minor, only from the configured consent age.
    Person,
    /// The parent or guardian (tutore), with or without the child's assent.
    Guardian { child_assent: bool },
}

impl Grantor {
    /// Whether this grantor's consent holds for the case as it is: anyone's
    /// for an adult; for a minor, the child's own from the consent age, or the
    /// guardian's with the child's assent (none needed for an infant).
    pub fn valid_for(self, case: &CaseFacts, policy: &MinorsPolicy) -> bool {
        if !case.is_minor() {
            return true;
        }
        match self {
            Grantor::Person => policy.may_consent_alone(case),
            Grantor::Guardian { child_assent } => {
                child_assent || !policy.assent_needed(case.age_band)
            }
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

    /// The first category the case does not have as suspected or confirmed
    /// (ruled out, or never recorded), with its index: a dataset carries only
    /// what the case has.
    pub fn category_not_on(&self, case: &CaseFacts) -> Option<(usize, Category)> {
        self.categories
            .iter()
            .copied()
            .enumerate()
            .find(|(_, category)| !case.has(*category))
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
    /// The person refused to consent: recorded, blocks nothing else.
    RefuseConsent {
        consent_id: ConsentId,
        recipient: Recipient,
        purpose: Code,
        refused_at: OffsetDateTime,
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
        reason: CancelReason,
    },
    MarkFailed {
        referral_id: ReferralId,
        /// `None`: not stated (requests from before reasons existed).
        reason: Option<FailureReason>,
    },
    /// From the watcher: a deadline passed unmet.
    MarkDeadlineMissed {
        referral_id: ReferralId,
        kind: DeadlineKind,
    },
    /// From the watcher: the case's urgency rose above the one the
    /// referral's deadlines follow.
    TightenDeadlines {
        referral_id: ReferralId,
    },
    /// From the watcher: the case was closed.
    ReactToCaseClosure {
        referral_id: ReferralId,
    },
    /// From the watcher: the case was placed elsewhere.
    FollowCaseTransfer {
        referral_id: ReferralId,
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
        /// The person's age band the grantor was judged on (unknown in events
        /// recorded before it was).
        age_band: AgeBand,
    },
    ConsentWithdrawn {
        consent_id: ConsentId,
        withdrawn_at: OffsetDateTime,
    },
    ConsentRefused {
        consent_id: ConsentId,
        recipient: Recipient,
        purpose: Code,
        refused_at: OffsetDateTime,
    },
    /// The consent of a referral already in care was withdrawn: the care goes
    /// on, the receiver loses the dataset.
    ConsentWithdrawnDuringCare {
        referral_id: ReferralId,
        consent_id: ConsentId,
        at: OffsetDateTime,
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
        /// Where the case was (`None` in events recorded before it was).
        place: Option<Place>,
        /// The pathway rules in force (0 in events recorded before it was).
        rules_version: u32,
    },
    ReferralSent {
        referral_id: ReferralId,
        sent_at: OffsetDateTime,
        acknowledge_by: OffsetDateTime,
        answer_by: OffsetDateTime,
        /// The case's urgency the deadlines follow (`None` in events recorded
        /// before it was).
        urgency: Option<Urgency>,
        /// The deadline policy's version (0 in events recorded before it was).
        policy_version: u32,
    },
    /// The case's urgency rose: the open deadlines come earlier, never later.
    DeadlinesTightened {
        referral_id: ReferralId,
        urgency: Urgency,
        acknowledge_by: OffsetDateTime,
        answer_by: OffsetDateTime,
        at: OffsetDateTime,
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
        reason: CancelReason,
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
        reason: Option<FailureReason>,
    },
    /// The case of a referral in care was closed: its receiver is told.
    CaseClosureNotified {
        referral_id: ReferralId,
        /// The screening closure reason code.
        reason: Code,
        at: OffsetDateTime,
    },
    /// The case was placed elsewhere: the referral follows it.
    ReferralCaseTransferred {
        referral_id: ReferralId,
        place: Place,
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
        "a minor's consent needs the child of consent age, or the guardian with the child's assent where the age band requires it"
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
        "only the service itself marks deadlines and reacts to the case; consents are recorded by organisations"
    )]
    NotAllowedForActor,
    #[error("the person's personal data is erased: the referral's dataset cannot be sent")]
    PersonalDataErased,
    #[error(
        "the receiver is not an active organisation of the directory offering this service type"
    )]
    ReceiverDoesNotOffer,
    #[error("the dataset names a category the case does not have as suspected or confirmed")]
    CategoryNotOnCase,
    #[error("the case is closed")]
    CaseClosed,
    #[error("nothing to react to: the case did not change for this referral")]
    NothingToReactTo,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentEntry {
    pub recipient: Recipient,
    pub basis: Basis,
    pub given_at: OffsetDateTime,
    pub withdrawn_at: Option<OffsetDateTime>,
}

impl ConsentEntry {
    /// Whether this entry lets a referral with `dataset` of `service_type` go
    /// to `receiver` (its directory entry now) at `now`. A consent to a
    /// service type covers only receivers the directory registers with that
    /// type, and only for that type.
    pub fn covers(
        &self,
        receiver: &OrganisationProfile,
        service_type: ServiceType,
        dataset: &Dataset,
        now: OffsetDateTime,
    ) -> bool {
        let recipient_matches = match &self.recipient {
            Recipient::Organisation(org) => *org == receiver.organisation_id,
            Recipient::ServiceType(t) => *t == service_type && receiver.service_types.contains(t),
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

/// A refusal to consent, recorded in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusalEntry {
    pub recipient: Recipient,
    pub purpose: Code,
    pub refused_at: OffsetDateTime,
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
    /// Where the case is as the referral knows it (`None`: drafted before
    /// referrals recorded it).
    pub place: Option<Place>,
    pub sent_at: Option<OffsetDateTime>,
    /// The urgency the deadlines follow (rises with the case, never falls).
    pub urgency: Option<Urgency>,
    pub acknowledge_by: Option<OffsetDateTime>,
    pub answer_by: Option<OffsetDateTime>,
    pub take_charge_by: Option<OffsetDateTime>,
    pub missed: BTreeSet<DeadlineKind>,
    /// Its receiver was told that the case was closed.
    pub closure_notified: bool,
    /// The consent it was shared under was withdrawn while in care.
    pub consent_withdrawn: bool,
}

/// The case's consents and referrals as decided so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub consents: BTreeMap<ConsentId, ConsentEntry>,
    pub refusals: BTreeMap<ConsentId, RefusalEntry>,
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

    /// Whether a ledger id is taken (by a consent, an exception or a refusal).
    pub fn ledger_has(&self, id: &ConsentId) -> bool {
        self.consents.contains_key(id) || self.refusals.contains_key(id)
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
                ..
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
            Event::ConsentRefused {
                consent_id,
                recipient,
                purpose,
                refused_at,
            } => {
                self.refusals.insert(
                    consent_id.clone(),
                    RefusalEntry {
                        recipient: recipient.clone(),
                        purpose: purpose.clone(),
                        refused_at: *refused_at,
                    },
                );
            }
            Event::ConsentWithdrawnDuringCare { referral_id, .. } => {
                if let Some(referral) = self.referrals.get_mut(referral_id) {
                    referral.consent_withdrawn = true;
                }
            }
            Event::ReferralDrafted {
                referral_id,
                referrer,
                receiver,
                service_type,
                consent_id,
                dataset,
                place,
                ..
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
                        place: place.clone(),
                        sent_at: None,
                        urgency: None,
                        acknowledge_by: None,
                        answer_by: None,
                        take_charge_by: None,
                        missed: BTreeSet::new(),
                        closure_notified: false,
                        consent_withdrawn: false,
                    },
                );
            }
            Event::ReferralSent {
                referral_id,
                sent_at,
                acknowledge_by,
                answer_by,
                urgency,
                ..
            } => {
                if let Some(referral) = self.referrals.get_mut(referral_id) {
                    referral.state = ReferralState::Sent;
                    referral.sent_at = Some(*sent_at);
                    referral.urgency = *urgency;
                    referral.acknowledge_by = Some(*acknowledge_by);
                    referral.answer_by = Some(*answer_by);
                }
            }
            Event::DeadlinesTightened {
                referral_id,
                urgency,
                acknowledge_by,
                answer_by,
                ..
            } => {
                if let Some(referral) = self.referrals.get_mut(referral_id) {
                    referral.urgency = Some(*urgency);
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
            Event::CaseClosureNotified { referral_id, .. } => {
                if let Some(referral) = self.referrals.get_mut(referral_id) {
                    referral.closure_notified = true;
                }
            }
            Event::ReferralCaseTransferred {
                referral_id, place, ..
            } => {
                if let Some(referral) = self.referrals.get_mut(referral_id) {
                    referral.place = Some(place.clone());
                }
            }
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
