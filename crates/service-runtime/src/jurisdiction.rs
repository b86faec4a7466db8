//! Where a caller may act and read: a reception operator on the cases in its
//! own facility (its organisation id is the facility's id), a prefecture and
//! the police on the cases of their province, a receiving service on the cases
//! referred to it. Analysts and administrators have no place; the authorisation
//! table decides which RPCs they reach. A case is where it was last placed, or
//! where it opened (each service learns that from the screening events); to
//! whom it is referred comes from the referral record. The one rule is
//! [`Jurisdiction::check`]: the kernel applies it to every command, and read
//! handlers to what they read.

use crate::{Caller, OrganisationType, ServiceError};

/// Where a case is now, and to whom it is referred.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Whereabouts {
    pub province: String,
    pub facility_id: String,
    /// Organisations the case is referred to, as the command or read at hand
    /// counts them (screening: open referrals; referral: every referral sent).
    pub referred_to: Vec<String>,
}

impl Whereabouts {
    /// A case in a facility of a province, referred to nobody (yet known).
    pub fn at(province: impl Into<String>, facility_id: impl Into<String>) -> Whereabouts {
        Whereabouts {
            province: province.into(),
            facility_id: facility_id.into(),
            referred_to: Vec::new(),
        }
    }

    /// The same place, with the organisations the case is referred to.
    pub fn referred_to(mut self, organisations: impl IntoIterator<Item = String>) -> Whereabouts {
        self.referred_to = organisations.into_iter().collect();
        self
    }
}

/// The cases a caller may act on and read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Jurisdiction {
    /// A reception operator: its facility (its organisation id), in the
    /// province its token names (a facility is in one province: a case the
    /// operator claims in another province is not its own).
    Facility {
        facility: String,
        province: Option<String>,
    },
    Province(String),
    /// A receiving service: the cases referred to it.
    Receiver(String),
    /// Not limited by place (the authorisation table limits the RPCs).
    Unplaced,
}

impl Jurisdiction {
    pub fn of(caller: &Caller) -> Jurisdiction {
        use OrganisationType::*;
        match caller.organisation_type {
            ReceptionOperator => Jurisdiction::Facility {
                facility: caller.organisation_id.clone(),
                province: caller.province.clone(),
            },
            // A prefecture or police caller without a province covers none.
            Prefecture | Police => {
                Jurisdiction::Province(caller.province.clone().unwrap_or_default())
            }
            ReceivingService => Jurisdiction::Receiver(caller.organisation_id.clone()),
            Analyst | Administrator => Jurisdiction::Unplaced,
        }
    }

    pub fn covers(&self, at: &Whereabouts) -> bool {
        match self {
            Jurisdiction::Facility { facility, province } => {
                *facility == at.facility_id
                    && province.as_ref().is_none_or(|own| *own == at.province)
            }
            Jurisdiction::Province(own) => !own.is_empty() && *own == at.province,
            Jurisdiction::Receiver(own) => at.referred_to.contains(own),
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
                Jurisdiction::Facility { .. } => "this case is outside the caller's facility",
                Jurisdiction::Receiver(_) => "this case is not referred to the caller",
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
            expires_at: i64::MAX,
        }
    }

    fn at(province: &str, facility: &str) -> Whereabouts {
        Whereabouts::at(province, facility)
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
        assert!(
            !operator.covers(&at("RM", "cas-1")),
            "its facility claimed in another province"
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
        let centre = Jurisdiction::of(&caller(
            OrganisationType::ReceivingService,
            "cav-roma",
            Some("RM"),
        ));
        assert!(!centre.covers(&at("RM", "cas-9")), "never referred");
        assert!(centre.covers(&at("AG", "cas-1").referred_to(["cav-roma".to_owned()])));
        assert!(!centre.covers(&at("RM", "cas-9").referred_to(["cav-milano".to_owned()])));
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
