//! Value objects of the referral record: ids, service types, data scopes,
//! referral states and who may act, and the fields of an organisation's
//! profile in the directory.

use pathway::vocabulary;

pub use pathway::{Code, InvalidValue, Province};

pathway::validated_string!(
    /// A referral within a case.
    ReferralId, "must be 1 to 64 characters of [a-z0-9-]", pathway::is_id_token
);
pathway::validated_string!(
    /// An organisation: a referrer (reception operator, prefecture) or a receiving service.
    OrganisationId, "must be 1 to 64 characters of [a-z0-9-]", pathway::is_id_token
);
pathway::validated_string!(
    /// A consent, a recorded exception or a refusal in the case's ledger.
    ConsentId, "must be 1 to 64 characters of [a-z0-9-]", pathway::is_id_token
);
pathway::validated_string!(
    /// A reception facility, as the screening service registered it.
    FacilityId, "must be 1 to 64 characters of [a-z0-9-]", pathway::is_id_token
);

/// Free text with no control characters, at most `max` characters.
fn plain_text(raw: &str, max: usize) -> bool {
    raw.chars().count() <= max && !raw.chars().any(char::is_control)
}

pathway::validated_string!(
    /// An organisation's public name: an institution, never a person.
    OrganisationName, "must be 1 to 200 characters without control characters",
    |raw| !raw.trim().is_empty() && plain_text(raw, 200)
);
pathway::validated_string!(
    /// When an organisation can be reached (`Mon-Fri 9-18; helpline 24/7`); may be empty.
    OpeningHours, "at most 200 characters without control characters",
    |raw| plain_text(raw, 200)
);

vocabulary!(
    /// Whether an organisation can take new referrals now.
    Availability, "availability", {
    Available = "available",
    Limited = "limited",
    /// Full organisations are never suggested.
    Full = "full",
});

pub use pathway::Language;

vocabulary!(
    /// The kinds of receiving service.
    ServiceType, "service type", {
    AntiViolenceCentre = "anti_violence_centre",
    Shelter = "shelter",
    AntiTrafficking = "anti_trafficking",
    MentalHealth = "mental_health",
    HealthService = "health_service",
    JuvenileCourt = "juvenile_court",
    SocialServices = "social_services",
    Sai = "sai",
    LgbtiqSupport = "lgbtiq_support",
});

vocabulary!(
    /// What a consent lets a referral carry to the receiver (the minimum dataset).
    DataScope, "data scope", {
    /// The vulnerability categories that motivate the referral.
    Categories = "categories",
    Urgency = "urgency",
    /// Languages spoken and communication needs (interpreter, sign language).
    Communication = "communication",
    /// How to contact the person safely.
    SafetyInstructions = "safety_instructions",
});

vocabulary!(
    /// Legal reasons to refer without consent, recorded with the deciding authority.
    ExceptionReason, "exception reason", {
    RiskToLife = "risk_to_life",
    ChildProtection = "child_protection",
    MandatoryReporting = "mandatory_reporting",
});

vocabulary!(
    /// Why a receiver declines.
    DeclineReason, "decline reason", {
    NoCapacity = "no_capacity",
    OutOfScope = "out_of_scope",
    PersonRefused = "person_refused",
    Unsafe = "unsafe",
    Other = "other",
});

vocabulary!(
    /// Why a referral was cancelled. Only the referral service itself cancels
    /// for a closed case; a referrer gives one of the others.
    CancelReason, "cancel reason", {
    /// The referrer decided (also what a cancellation recorded without a reason reads as).
    ReferrerDecision = "referrer_decision",
    /// The case was closed (departure, death, removal...): by the service.
    CaseClosed = "case_closed",
    /// Another referral of the case does the same.
    Duplicate = "duplicate",
    Other = "other",
});

impl CancelReason {
    /// What a referrer may give: every reason but a closed case, which the service records.
    pub fn by_a_referrer(self) -> bool {
        self != CancelReason::CaseClosed
    }
}

vocabulary!(
    /// Why the person was lost to follow-up.
    FailureReason, "failure reason", {
    LostContact = "lost_contact",
    MovedAway = "moved_away",
    Other = "other",
});

vocabulary!(
    /// How a referral ended in care.
    CareOutcome, "care outcome", {
    GoalsMet = "goals_met",
    TransferredToOtherService = "transferred_to_other_service",
    PersonWithdrew = "person_withdrew",
    Other = "other",
});

vocabulary!(
    /// The referral lifecycle, aligned with HL7 FHIR Task states.
    ReferralState, "referral state", {
    Draft = "draft",
    Sent = "sent",
    Received = "received",
    Accepted = "accepted",
    Declined = "declined",
    InCare = "in_care",
    OnHold = "on_hold",
    Completed = "completed",
    Cancelled = "cancelled",
    Revoked = "revoked",
    Expired = "expired",
    Failed = "failed",
    Redirected = "redirected",
});

impl ReferralState {
    /// A state no transition leaves.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ReferralState::Declined
                | ReferralState::Completed
                | ReferralState::Cancelled
                | ReferralState::Revoked
                | ReferralState::Expired
                | ReferralState::Failed
                | ReferralState::Redirected
        )
    }
}

vocabulary!(
    /// Which deadline an escalation is about.
    DeadlineKind, "deadline", {
    /// The receiver did not acknowledge in time (4 h, 24 h, 72 h by urgency).
    Acknowledgement = "acknowledgement",
    /// The receiver acknowledged but neither accepted nor declined in time.
    Answer = "answer",
    /// Accepted, but not taken into care within 7 days.
    TakingCharge = "taking_charge",
});
