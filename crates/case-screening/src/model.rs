//! Value objects of the screening record: ids and codes that are valid by
//! construction, so that `decide` never re-checks them.

use pathway::vocabulary;

/// Why a value could not be built; names the rule, never the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub &'static str);

fn token(raw: &str, max: usize, allowed: impl Fn(u8) -> bool) -> bool {
    !raw.is_empty() && raw.len() <= max && raw.bytes().all(allowed)
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $rule:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
                let check: fn(&str) -> bool = $check;
                if check(raw) { Ok($name(raw.to_owned())) } else { Err(InvalidValue($rule)) }
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
    /// Pseudonymous case id: lowercase letters, digits and `-`, at most 64 (a UUID in practice).
    CaseId, "must be 1 to 64 characters of [a-z0-9-]",
    |raw| token(raw, 64, |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
);
id_type!(
    /// A reception facility's id.
    FacilityId, "must be 1 to 64 characters of [a-z0-9-]",
    |raw| token(raw, 64, |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
);
id_type!(
    /// Province (prefecture) code: two capital letters, as on Italian number plates (`AG`, `RM`).
    Province, "must be two capital letters",
    |raw| raw.len() == 2 && raw.bytes().all(|b| b.is_ascii_uppercase())
);
id_type!(
    /// A place of arrival or screening (`LAMPEDUSA`, `POZZALLO_HOTSPOT`).
    PlaceCode, "must be 1 to 64 characters of [A-Z0-9_]",
    |raw| token(raw, 64, |b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
);
id_type!(
    /// A short code: an indicator seen, a health flag, a role (`visible_injury`, `psychologist`).
    Code, "must be 1 to 64 characters of [a-z0-9_]",
    |raw| token(raw, 64, |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
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
