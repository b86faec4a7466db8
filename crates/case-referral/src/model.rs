//! Value objects of the referral record: ids, service types, data scopes,
//! referral states and who may act.

use pathway::vocabulary;

/// Why a value could not be built; names the rule, never the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub &'static str);

fn is_token(raw: &str) -> bool {
    !raw.is_empty()
        && raw.len() <= 64
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
                if is_token(raw) {
                    Ok($name(raw.to_owned()))
                } else {
                    Err(InvalidValue("must be 1 to 64 characters of [a-z0-9-]"))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A referral within a case.
    ReferralId
);
id_type!(
    /// An organisation: a referrer (reception operator, prefecture) or a receiving service.
    OrganisationId
);
id_type!(
    /// A consent or a recorded exception in the case's ledger.
    ConsentId
);

/// A short code: a purpose, a safety instruction, an authority (`[a-z0-9_]{1,64}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code(String);

impl Code {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let valid = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if valid {
            Ok(Code(raw.to_owned()))
        } else {
            Err(InvalidValue("must be 1 to 64 characters of [a-z0-9_]"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An ISO 639 language code (`en`, `fr`, `tir`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Language(String);

impl Language {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        if (2..=3).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_lowercase()) {
            Ok(Language(raw.to_owned()))
        } else {
            Err(InvalidValue("must be an ISO 639 code"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

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
