//! Value objects of the screening record: ids and codes that are valid by
//! construction, so that `decide` never re-checks them.

use pathway::vocabulary;

pub use pathway::{Code, InvalidValue, Province};

fn token(raw: &str, max: usize, allowed: impl Fn(u8) -> bool) -> bool {
    !raw.is_empty() && raw.len() <= max && raw.bytes().all(allowed)
}

pathway::validated_string!(
    /// Pseudonymous case id: lowercase letters, digits and `-`, at most 64 (a UUID in practice).
    CaseId, "must be 1 to 64 characters of [a-z0-9-]",
    |raw| token(raw, 64, |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
);
pathway::validated_string!(
    /// A reception facility's id.
    FacilityId, "must be 1 to 64 characters of [a-z0-9-]",
    |raw| token(raw, 64, |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
);
pathway::validated_string!(
    /// A place of arrival or screening (`LAMPEDUSA`, `POZZALLO_HOTSPOT`).
    PlaceCode, "must be 1 to 64 characters of [A-Z0-9_]",
    |raw| token(raw, 64, |b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
);

vocabulary!(
    /// How two people whose cases are linked are related.
    Relation, "relation", {
    Parent = "parent",
    Child = "child",
    Sibling = "sibling",
    Spouse = "spouse",
    OtherRelative = "other_relative",
});

vocabulary!(
    /// The kind of place a person is placed in.
    FacilityKind, "facility kind", {
    Hotspot = "hotspot",
    FirstReception = "first_reception",
    Cas = "cas",
    Sai = "sai",
    Shelter = "shelter",
    /// Pre-removal detention (CPR): restricted for vulnerable people.
    Detention = "detention",
});

vocabulary!(
    /// Whether a case is still followed.
    CaseStatus, "case status", {
    Open = "open",
    Closed = "closed",
});

vocabulary!(
    /// Why a case was closed.
    CloseReason, "close reason", {
    TransferredAbroad = "transferred_abroad",
    LeftReception = "left_reception",
    ProtectionGranted = "protection_granted",
    Removed = "removed",
    Deceased = "deceased",
    Duplicate = "duplicate",
    Other = "other",
});

vocabulary!(
    /// Where a category that has a formal identification (TRAFFICKING) stands.
    Identification, "identification", {
    /// Confirmed by an assessment, not yet formally identified.
    Presumed = "presumed",
    /// Formally identified by the competent body (an anti-trafficking body).
    FormallyIdentified = "formally_identified",
});

vocabulary!(
    /// What an assessment concludes about a category.
    Outcome, "outcome", {
    Confirmed = "confirmed",
    RuledOut = "ruled_out",
});

impl Outcome {
    pub fn status(self) -> pathway::CategoryStatus {
        match self {
            Outcome::Confirmed => pathway::CategoryStatus::Confirmed,
            Outcome::RuledOut => pathway::CategoryStatus::RuledOut,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_codes_accept_only_their_alphabet() {
        assert!(CaseId::parse("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b").is_ok());
        assert!(CaseId::parse("Case 1").is_err());
        assert!(Province::parse("RM").is_ok());
        for bad in ["rm", "R", "ROM", "R1"] {
            assert!(Province::parse(bad).is_err(), "{bad}");
        }
        assert!(PlaceCode::parse("LAMPEDUSA").is_ok());
        assert!(PlaceCode::parse("lampedusa").is_err());
        assert!(Code::parse("visible_injury").is_ok());
        assert!(Code::parse(&"a".repeat(65)).is_err());
        assert!(Code::parse("").is_err());
    }
}

vocabulary!(
    /// Why a person's personal data is erased.
    ErasureReason, "erasure reason", {
    PersonRequest = "person_request",
    RetentionExpired = "retention_expired",
    AuthorityOrder = "authority_order",
});

vocabulary!(
    /// Why identifying data is read (recorded in the access log).
    ReadPurpose, "purpose", {
    ContactPerson = "contact_person",
    Transfer = "transfer",
    LegalObligation = "legal_obligation",
    Safeguarding = "safeguarding",
});

// Minors, detention and follow-up (issue 11): closed lists, never free text.

pathway::validated_string!(
    /// A follow-up of a case: a UUID derived from the case and the scheduling request.
    FollowUpId, "must be 1 to 64 characters of [a-z0-9-]",
    |raw| token(raw, 64, |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
);

vocabulary!(
    /// Why a person is detained: the grounds of Reception Conditions Directive
    /// (EU) 2024/1346 Art. 10(4), as codes.
    DetentionJustification, "detention justification", {
    IdentityVerification = "identity_verification",
    ApplicationElements = "application_elements",
    BorderProcedure = "border_procedure",
    ReturnProcedure = "return_procedure",
    RiskOfAbsconding = "risk_of_absconding",
    PublicOrder = "public_order",
    NationalSecurity = "national_security",
});

vocabulary!(
    /// Which authority ordered a detention, when the recording organisation is
    /// not the one that decided (the police chief orders, a judge validates).
    DetentionAuthority, "detention authority", {
    PoliceChief = "police_chief",
    Prefect = "prefect",
    JusticeOfThePeace = "justice_of_the_peace",
    Court = "court",
});

vocabulary!(
    /// Who the guardian (tutore) of a minor is, by kind: never a name.
    GuardianKind, "guardian kind", {
    /// A volunteer guardian from the juvenile court's list (L. 47/2017 art. 11).
    VolunteerGuardian = "volunteer_guardian",
    SocialServices = "social_services",
    /// The head of the reception facility, provisionally.
    FacilityHead = "facility_head",
    Relative = "relative",
});

vocabulary!(
    /// What a follow-up is for.
    FollowUpPurpose, "follow-up purpose", {
    /// That the person arrived where they were transferred.
    ArrivalCheck = "arrival_check",
    Wellbeing = "wellbeing",
    Reassessment = "reassessment",
    ReferralFollowUp = "referral_follow_up",
    GuardianContact = "guardian_contact",
});

vocabulary!(
    /// What a follow-up found.
    FollowUpOutcome, "follow-up outcome", {
    /// The person was seen: after a transfer, this confirms their arrival.
    Found = "found",
    NotFound = "not_found",
    /// The person did not want the contact.
    Declined = "declined",
    /// Escalated to the prefecture's table.
    Escalated = "escalated",
});
