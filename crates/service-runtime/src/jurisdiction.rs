//! Where a caller may act and read: a reception operator on the cases in its
//! own facility (its organisation id is the facility's id), a prefecture and
//! the police on the cases of their province. Analysts, administrators and
//! receiving services have no place; the authorisation table decides which
//! RPCs they reach. A case is where it was last placed, or where it opened
//! (each service learns that from the screening events).

use crate::{Caller, OrganisationType, ServiceError};

/// Where a case is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Whereabouts {
    pub province: String,
    pub facility_id: String,
}

/// The cases a caller may act on and read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Jurisdiction {
    Facility(String),
    Province(String),
    /// Not limited by place (the authorisation table limits the RPCs).
    Unplaced,
}

impl Jurisdiction {
    pub fn of(caller: &Caller) -> Jurisdiction {
        use OrganisationType::*;
        match caller.organisation_type {
            ReceptionOperator => Jurisdiction::Facility(caller.organisation_id.clone()),
            // A prefecture or police caller without a province covers none.
            Prefecture | Police => {
                Jurisdiction::Province(caller.province.clone().unwrap_or_default())
            }
            Analyst | Administrator | ReceivingService => Jurisdiction::Unplaced,
        }
    }

    pub fn covers(&self, at: &Whereabouts) -> bool {
        match self {
            Jurisdiction::Facility(own) => *own == at.facility_id,
            Jurisdiction::Province(own) => !own.is_empty() && *own == at.province,
            Jurisdiction::Unplaced => true,
        }
    }

    /// `PERMISSION_DENIED` unless the case at `at` is the caller's.
    pub fn check(&self, at: &Whereabouts) -> Result<(), ServiceError> {
        if self.covers(at) {
            return Ok(());
        }
        Err(ServiceError::PermissionDenied(
            match self {
                Jurisdiction::Facility(_) => "this case is outside the caller's facility",
                _ => "this case is outside the caller's province",
            }
            .to_owned(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(org_type: OrganisationType, organisation: &str, province: Option<&str>) -> Caller {
        Caller {
            subject: "s".to_owned(),
            organisation_id: organisation.to_owned(),
            organisation_type: org_type,
            roles: Vec::new(),
            province: province.map(str::to_owned),
        }
    }

    fn at(province: &str, facility: &str) -> Whereabouts {
        Whereabouts {
            province: province.to_owned(),
            facility_id: facility.to_owned(),
        }
    }

    #[test]
    fn operators_cover_their_facility_prefectures_and_police_their_province() {
        let operator = Jurisdiction::of(&caller(
            OrganisationType::ReceptionOperator,
            "cas-1",
            Some("AG"),
        ));
        assert!(operator.covers(&at("AG", "cas-1")));
        assert!(
            !operator.covers(&at("AG", "cas-2")),
            "same province, other facility"
        );
        let prefecture = Jurisdiction::of(&caller(
            OrganisationType::Prefecture,
            "prefettura-ag",
            Some("AG"),
        ));
        assert!(prefecture.covers(&at("AG", "cas-2")));
        assert!(!prefecture.covers(&at("RM", "cas-9")));
        let police = Jurisdiction::of(&caller(OrganisationType::Police, "questura-ag", None));
        assert!(
            !police.covers(&at("", "cas-1")),
            "no province covers nothing"
        );
        let analyst = Jurisdiction::of(&caller(OrganisationType::Analyst, "istat", None));
        assert!(analyst.covers(&at("RM", "cas-9")));
        assert_eq!(
            operator
                .check(&at("AG", "cas-2"))
                .map_err(|e| e.to_string()),
            Err("this case is outside the caller's facility".to_owned())
        );
    }
}
