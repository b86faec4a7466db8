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

/// The claims of an Approdo token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub org: String,
    pub org_type: OrganisationType,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub province: Option<String>,
    pub exp: i64,
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
}
