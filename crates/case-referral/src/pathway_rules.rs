//! Pathway rules: which service types to refer to for which categories.
//! Versioned configuration; these are the defaults of the domain brief.
//! Publishing new rules is an aggregate of its own (one for the whole system),
//! whose state is the last version published.

use pathway::Category;

use crate::ServiceType;

/// A set of rules with its version (recorded with every suggestion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathwayRules {
    pub version: u32,
    pub rules: Vec<(Category, Vec<ServiceType>)>,
}

/// Why a set of rules cannot be published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRules {
    #[error("category {0} has no rule: every category must lead somewhere")]
    Missing(&'static str),
    #[error("category {0} has two rules")]
    Duplicate(&'static str),
    #[error("the rule for {0} names no service type")]
    Empty(&'static str),
}

impl PathwayRules {
    /// Checks a new set of rules: one non-empty rule per category, no more.
    pub fn new(
        version: u32,
        rules: Vec<(Category, Vec<ServiceType>)>,
    ) -> Result<PathwayRules, InvalidRules> {
        for (i, (category, services)) in rules.iter().enumerate() {
            if rules[..i].iter().any(|(c, _)| c == category) {
                return Err(InvalidRules::Duplicate(category.code()));
            }
            if services.is_empty() {
                return Err(InvalidRules::Empty(category.code()));
            }
        }
        if let Some(missing) = Category::ALL
            .iter()
            .find(|c| !rules.iter().any(|(r, _)| r == *c))
        {
            return Err(InvalidRules::Missing(missing.code()));
        }
        Ok(PathwayRules { version, rules })
    }

    /// The service types for `categories`, in rule order, without repeats.
    pub fn service_types_for(&self, categories: &[Category]) -> Vec<ServiceType> {
        let mut types = Vec::new();
        for (category, services) in &self.rules {
            if categories.contains(category) {
                for service in services {
                    if !types.contains(service) {
                        types.push(*service);
                    }
                }
            }
        }
        types
    }
}

impl Default for PathwayRules {
    fn default() -> Self {
        use Category as C;
        use ServiceType as S;
        let gender_based = vec![S::AntiViolenceCentre, S::Shelter, S::HealthService];
        let health = vec![S::HealthService, S::Sai];
        PathwayRules {
            version: 1,
            rules: vec![
                (C::Gbv, gender_based.clone()),
                (C::Fgm, gender_based.clone()),
                (C::ForcedMarriage, gender_based.clone()),
                (C::HateViolence, gender_based),
                (C::Trafficking, vec![S::AntiTrafficking]),
                (
                    C::UnaccompaniedMinor,
                    vec![S::JuvenileCourt, S::Sai, S::SocialServices],
                ),
                (
                    C::AgeDisputed,
                    vec![S::JuvenileCourt, S::Sai, S::SocialServices],
                ),
                (C::Minor, vec![S::SocialServices]),
                (C::Torture, vec![S::MentalHealth]),
                (C::MentalHealth, vec![S::MentalHealth]),
                (C::SeriousIllness, health.clone()),
                (C::Pregnant, health.clone()),
                (C::Disability, health.clone()),
                (C::Elderly, health),
                (C::SingleParent, vec![S::SocialServices, S::Sai]),
                (C::Lgbtiq, vec![S::LgbtiqSupport, S::Sai]),
                (C::Other, vec![S::SocialServices]),
            ],
        }
    }
}

/// The version of the built-in rules, in force until rules are published.
pub const BUILT_IN_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Publish these rules as the next version.
    Publish {
        rules: Vec<(Category, Vec<ServiceType>)>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Published { version: u32, rules: PathwayRules },
}

/// The publications so far: the last version published, or the built-in one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub version: u32,
}

impl Default for State {
    fn default() -> Self {
        State {
            version: BUILT_IN_VERSION,
        }
    }
}

impl State {
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> State {
        pathway::replay(events, State::evolve)
    }

    pub fn evolve(mut self, event: &Event) -> State {
        match event {
            Event::Published { version, .. } => self.version = *version,
        }
        self
    }
}

/// The decision function of the publications: each one is the next version.
pub fn decide(state: &State, command: Command) -> Result<Vec<Event>, InvalidRules> {
    match command {
        Command::Publish { rules } => {
            let version = state.version + 1;
            let rules = PathwayRules::new(version, rules)?;
            Ok(vec![Event::Published { version, rules }])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_rules_must_cover_every_category_once_and_lead_somewhere() {
        let defaults = PathwayRules::default();
        assert_eq!(
            PathwayRules::new(2, defaults.rules.clone()).map(|r| r.version),
            Ok(2)
        );
        let mut missing = defaults.rules.clone();
        missing.retain(|(c, _)| *c != Category::Trafficking);
        assert_eq!(
            PathwayRules::new(2, missing),
            Err(InvalidRules::Missing("TRAFFICKING"))
        );
        let mut twice = defaults.rules.clone();
        twice.push((Category::Gbv, vec![ServiceType::Shelter]));
        assert_eq!(
            PathwayRules::new(2, twice),
            Err(InvalidRules::Duplicate("GBV"))
        );
        let mut empty = defaults.rules;
        empty[0].1.clear();
        assert_eq!(PathwayRules::new(2, empty), Err(InvalidRules::Empty("GBV")));
    }

    #[test]
    fn every_category_has_a_rule_and_gbv_goes_to_an_anti_violence_centre_first() {
        let rules = PathwayRules::default();
        for category in Category::ALL {
            assert!(
                !rules.service_types_for(&[*category]).is_empty(),
                "{category}"
            );
        }
        assert_eq!(
            rules.service_types_for(&[Category::Gbv])[0],
            ServiceType::AntiViolenceCentre
        );
        assert_eq!(
            rules.service_types_for(&[Category::Trafficking]),
            [ServiceType::AntiTrafficking]
        );
        let both = rules.service_types_for(&[Category::Gbv, Category::Fgm]);
        assert_eq!(both.len(), 3, "no repeats: {both:?}");
    }
}
