//! What the referral service needs to know about a case: the shared fold of
//! screening's events (`case_facts::CaseFacts`, one crate for every service
//! that reads them), and how the referral service reads those facts: where
//! the case is for the caller's jurisdiction, and the facts as the referral
//! domain decides with them.

use case_referral::{Code, FacilityId, Place, Province};
use pathway::{AgeBand, Category, CategoryStatus};

pub use case_facts::{CaseFacts, Recorded};

/// The referral service's reading of a case's facts.
pub trait ReferralFacts {
    /// Where the case is, for the caller's jurisdiction.
    fn whereabouts(&self) -> service_runtime::Whereabouts;
    /// Where the case is, as the domain reads it (`None` if either code is
    /// not valid, which the screening service never records).
    fn place(&self) -> Option<Place>;
    /// The facts as the referral domain decides with them. Codes the
    /// vocabulary does not know are left out; an empty age band is unknown.
    fn domain(&self) -> case_referral::CaseFacts;
}

impl ReferralFacts for CaseFacts {
    fn whereabouts(&self) -> service_runtime::Whereabouts {
        service_runtime::Whereabouts::at(&self.province, &self.facility_id)
    }

    fn place(&self) -> Option<Place> {
        Some(Place {
            province: Province::parse(&self.province).ok()?,
            facility_id: FacilityId::parse(&self.facility_id).ok()?,
        })
    }

    fn domain(&self) -> case_referral::CaseFacts {
        let categories = self
            .categories
            .iter()
            .filter_map(|(category, status)| {
                Some((
                    Category::from_code(category).ok()?,
                    CategoryStatus::from_code(status).ok()?,
                ))
            })
            .collect();
        case_referral::CaseFacts {
            place: self.place(),
            categories,
            urgency: self.case_urgency(),
            urgency_since: self.urgency_since,
            age_band: AgeBand::from_code(&self.age_band).unwrap_or(AgeBand::Unknown),
            age_assessed: self.age_assessed,
            // A closure whose reason is not a code still closes the case.
            closed: self.closed.as_ref().map(|reason| {
                Code::parse(reason).unwrap_or_else(|_| Code::parse("other").expect("a code"))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::screening::v1 as screening;
    use time::OffsetDateTime;
    use time::macros::datetime;

    fn at(sequence: u64, occurred_at: OffsetDateTime) -> Recorded {
        Recorded {
            sequence,
            occurred_at: Some(occurred_at),
        }
    }

    fn apply<M: prost::Name>(facts: &mut Option<CaseFacts>, recorded: Recorded, message: M) {
        let event_type = case_log_jetstream::contract::event_type::<M>();
        CaseFacts::apply(facts, recorded, &event_type, &message.encode_to_vec());
    }

    #[test]
    fn age_band_closure_and_placements_are_followed() {
        let now = datetime!(2026-06-20 10:00 UTC);
        let mut facts = None;
        apply(
            &mut facts,
            at(1, now),
            screening::CaseOpened {
                province: "AG".to_owned(),
                facility_id: "hotspot-lampedusa".to_owned(),
                ..Default::default()
            },
        );
        let domain = |facts: &Option<CaseFacts>| facts.as_ref().expect("opened").domain();
        assert_eq!(domain(&facts).age_band, AgeBand::Unknown, "empty: unknown");
        assert!(!domain(&facts).age_assessed, "declared at opening");
        apply(
            &mut facts,
            at(2, now),
            screening::AgeAssessed {
                age_band: "14-15".to_owned(),
                ..Default::default()
            },
        );
        assert_eq!(domain(&facts).age_band, AgeBand::From14To15);
        assert!(domain(&facts).age_assessed);
        assert!(domain(&facts).is_minor());
        let placed = |facility: &str, province: &str| screening::CasePlaced {
            facility_id: facility.to_owned(),
            province: province.to_owned(),
            ..Default::default()
        };
        apply(&mut facts, at(3, now), placed("hotspot-lampedusa", "AG"));
        assert_eq!(facts.as_ref().map(|f| f.placement), Some(0), "not a move");
        apply(&mut facts, at(4, now), placed("cas-roma-1", "RM"));
        assert_eq!(facts.as_ref().map(|f| f.placement), Some(4));
        assert_eq!(
            domain(&facts).place.map(|p| p.province.to_string()),
            Some("RM".to_owned())
        );
        assert!(!domain(&facts).is_closed());
        apply(
            &mut facts,
            at(5, now),
            screening::CaseClosed {
                reason: "transferred_abroad".to_owned(),
                ..Default::default()
            },
        );
        assert_eq!(
            domain(&facts).closed.map(|c| c.to_string()),
            Some("transferred_abroad".to_owned())
        );
    }
}
