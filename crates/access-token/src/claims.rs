//! What a token says about its bearer: the claims and the closed set of
//! organisation types.

use serde::{Deserialize, Serialize};

/// The kinds of organisation that use the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrganisationType {
    /// Hotspot, first reception (CPA, CAS), SAI.
    ReceptionOperator,
    Prefecture,
    /// Questura, border police.
    Police,
    /// Anti-violence centre, shelter, anti-trafficking project, health or social service.
    ReceivingService,
    /// Prefecture, ministry or monitoring body analysts: pseudonymised data only.
    Analyst,
    /// Keeps the directory of receiving organisations.
    Administrator,
}

impl OrganisationType {
    pub const ALL: [OrganisationType; 6] = [
        OrganisationType::ReceptionOperator,
        OrganisationType::Prefecture,
        OrganisationType::Police,
        OrganisationType::ReceivingService,
        OrganisationType::Analyst,
        OrganisationType::Administrator,
    ];

    pub fn code(self) -> &'static str {
        match self {
            OrganisationType::ReceptionOperator => "reception_operator",
            OrganisationType::Prefecture => "prefecture",
            OrganisationType::Police => "police",
            OrganisationType::ReceivingService => "receiving_service",
            OrganisationType::Analyst => "analyst",
            OrganisationType::Administrator => "administrator",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.code() == code)
    }
}

/// The claims of an Approdo token. `aud`, `iat` and `exp` are required; `nbf`
/// is optional. Times are Unix seconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    /// The services the token is for: one string or an array (RFC 7519).
    #[serde(with = "one_or_many")]
    pub aud: Vec<String>,
    pub org: String,
    pub org_type: OrganisationType,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub province: Option<String>,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub exp: i64,
}

/// When a token is valid: issued at `issued_at`, usable from `not_before` (if
/// set), until `expires_at` (exclusive). Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub issued_at: i64,
    pub not_before: Option<i64>,
    pub expires_at: i64,
}

impl Validity {
    /// Issued at `issued_at`, valid for `lifetime_secs`.
    pub fn starting(issued_at: i64, lifetime_secs: i64) -> Self {
        Validity {
            issued_at,
            not_before: None,
            expires_at: issued_at.saturating_add(lifetime_secs),
        }
    }

    /// Issued now (the system clock), valid for `lifetime_secs`.
    pub fn from_now(lifetime_secs: i64) -> Self {
        Validity::starting(now_unix(), lifetime_secs)
    }
}

/// The system clock in Unix seconds (0 before 1970).
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `aud` as one string or an array of strings; written as one string when
/// there is one.
mod one_or_many {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }

    pub fn serialize<S: Serializer>(values: &[String], serializer: S) -> Result<S::Ok, S::Error> {
        match values {
            [one] => one.serialize(serializer),
            many => many.serialize(serializer),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<String>, D::Error> {
        Ok(match OneOrMany::deserialize(deserializer)? {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_organisation_type_round_trips_through_its_code() {
        for org_type in OrganisationType::ALL {
            assert_eq!(OrganisationType::from_code(org_type.code()), Some(org_type));
        }
        assert_eq!(OrganisationType::from_code("mayor"), None);
    }

    #[test]
    fn the_audience_reads_as_one_string_or_an_array() {
        let claims = |aud: &str| {
            serde_json::from_str::<Claims>(&format!(
                r#"{{"iss":"i","sub":"s","aud":{aud},"org":"o","org_type":"police","iat":1,"exp":2}}"#
            ))
            .map(|c| c.aud)
        };
        assert_eq!(claims(r#""approdo""#).expect("one"), ["approdo"]);
        assert_eq!(claims(r#"["a","b"]"#).expect("many"), ["a", "b"]);
        assert!(claims("7").is_err());
        let one = serde_json::to_value(Claims {
            iss: "i".into(),
            sub: "s".into(),
            aud: vec!["approdo".into()],
            org: "o".into(),
            org_type: OrganisationType::Police,
            roles: vec![],
            province: None,
            iat: 1,
            nbf: None,
            exp: 2,
        })
        .expect("json");
        assert_eq!(one["aud"], "approdo");
        assert!(one.get("nbf").is_none());
    }
}
