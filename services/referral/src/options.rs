//! The referral service's own options (`[options]` in its configuration file,
//! `APPRODO_REFERRAL__OPTIONS__*` in the environment): the deadlines to
//! acknowledge, answer and take charge of referrals, with the policy's
//! version (defaults from the domain brief; each prefecture may set its own),
//! who may consent for a minor by age, how long a receiver keeps access to a
//! dataset after completing its referral, and how many inbox watches each
//! organisation may have open at once.

use case_referral::{DeadlinePolicy, MinorsPolicy};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ReferralOptions {
    pub deadlines: ReferralDeadlines,
    pub minors: Minors,
    /// How long, after completing a referral, its receiver may still open the
    /// dataset (to close its records); then its access ends.
    pub dataset_grace_after_completion_hours: u32,
    /// How many `WatchInbox` streams one organisation may have open at once
    /// on one instance of the service; one more answers RESOURCE_EXHAUSTED.
    pub max_watches_per_organisation: usize,
}

impl Default for ReferralOptions {
    fn default() -> Self {
        ReferralOptions {
            deadlines: ReferralDeadlines::default(),
            minors: Minors::default(),
            dataset_grace_after_completion_hours: 72,
            max_watches_per_organisation: 4,
        }
    }
}

impl ReferralOptions {
    pub fn dataset_grace(&self) -> time::Duration {
        time::Duration::hours(i64::from(self.dataset_grace_after_completion_hours))
    }
}

/// Who may consent for a minor, by the case's age band (`[options.minors]`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Minors {
    /// A minor consents alone from the band whose youngest age is at least
    /// this (15: the 16-17 band).
    pub consent_from_age: u8,
    /// A guardian's consent needs the child's assent unless every age of the
    /// band is under this (6: not for the 0-5 band).
    pub assent_from_age: u8,
}

impl Default for Minors {
    fn default() -> Self {
        let policy = MinorsPolicy::default();
        Minors {
            consent_from_age: policy.consent_from_age,
            assent_from_age: policy.assent_from_age,
        }
    }
}

impl Minors {
    /// The domain's policy from these options.
    pub fn policy(&self) -> MinorsPolicy {
        MinorsPolicy {
            consent_from_age: self.consent_from_age,
            assent_from_age: self.assent_from_age,
        }
    }
}

/// Deadlines to answer a referral, by urgency, and to take charge after accepting it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ReferralDeadlines {
    /// The policy's version, recorded on every referral sent under it:
    /// change it with any of the figures below.
    pub version: u32,
    pub acknowledge_immediate_hours: u32,
    pub acknowledge_high_hours: u32,
    pub acknowledge_standard_hours: u32,
    /// The answer (accept or decline) is due this many acknowledgement windows after sending;
    /// a referral still unanswered then expires.
    pub answer_windows: u32,
    pub take_charge_days: u32,
}

impl Default for ReferralDeadlines {
    fn default() -> Self {
        ReferralDeadlines {
            version: 1,
            acknowledge_immediate_hours: 4,
            acknowledge_high_hours: 24,
            acknowledge_standard_hours: 72,
            answer_windows: 2,
            take_charge_days: 7,
        }
    }
}

impl ReferralDeadlines {
    /// The domain's policy from these options.
    pub fn policy(&self) -> DeadlinePolicy {
        let hours = |h: u32| time::Duration::hours(i64::from(h));
        DeadlinePolicy {
            version: self.version,
            acknowledge_immediate: hours(self.acknowledge_immediate_hours),
            acknowledge_high: hours(self.acknowledge_high_hours),
            acknowledge_standard: hours(self.acknowledge_standard_hours),
            answer_windows: i32::try_from(self.answer_windows.max(1)).unwrap_or(i32::MAX),
            take_charge: time::Duration::days(i64::from(self.take_charge_days)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_deadlines_replace_the_defaults() {
        let config = service_runtime::ServiceConfig {
            options: "[deadlines]\nversion = 2\nacknowledge_immediate_hours = 1\nacknowledge_standard_hours = 48\nanswer_windows = 3\ntake_charge_days = 5\n"
                .parse()
                .expect("toml"),
            ..Default::default()
        };
        let options: ReferralOptions = config.options().expect("options");
        let policy = options.deadlines.policy();
        assert_eq!(
            policy.acknowledge_within(pathway::Urgency::Immediate),
            time::Duration::hours(1)
        );
        assert_eq!(
            policy.acknowledge_within(pathway::Urgency::High),
            time::Duration::hours(24),
            "unset: the default"
        );
        assert_eq!(
            policy.acknowledge_within(pathway::Urgency::Standard),
            time::Duration::hours(48)
        );
        assert_eq!(policy.answer_windows, 3);
        assert_eq!(policy.take_charge, time::Duration::days(5));
        assert_eq!(policy.version, 2);
        assert_eq!(
            ReferralDeadlines::default().policy(),
            DeadlinePolicy::default()
        );
    }

    #[test]
    fn consent_and_assent_ages_are_configurable() {
        assert_eq!(
            ReferralOptions::default().minors.policy(),
            MinorsPolicy::default()
        );
        let config = service_runtime::ServiceConfig {
            options: "[minors]\nconsent_from_age = 14\n".parse().expect("toml"),
            ..Default::default()
        };
        let options: ReferralOptions = config.options().expect("options");
        assert_eq!(
            options.minors.policy(),
            MinorsPolicy {
                consent_from_age: 14,
                assent_from_age: 6
            }
        );
    }

    /// The local deployment's file lists the options with their defaults.
    #[test]
    fn the_local_configuration_shows_the_defaults() {
        let file: toml::Table = include_str!("../../../deploy/local/referral.toml")
            .parse()
            .expect("toml");
        let config = service_runtime::ServiceConfig {
            options: file
                .get("options")
                .and_then(toml::Value::as_table)
                .cloned()
                .expect("[options]"),
            ..Default::default()
        };
        let options: ReferralOptions = config.options().expect("options");
        assert_eq!(options, ReferralOptions::default());
    }

    #[test]
    fn the_limit_of_open_watches_is_configurable() {
        assert_eq!(ReferralOptions::default().max_watches_per_organisation, 4);
        let config = service_runtime::ServiceConfig {
            options: "max_watches_per_organisation = 2\n".parse().expect("toml"),
            ..Default::default()
        };
        let options: ReferralOptions = config.options().expect("options");
        assert_eq!(options.max_watches_per_organisation, 2);
    }

    #[test]
    fn an_unknown_option_is_refused_by_name() {
        let config = service_runtime::ServiceConfig {
            options: "[deadlines]\ntake_charge_weeks = 1\n"
                .parse()
                .expect("toml"),
            ..Default::default()
        };
        let refused = config
            .options::<ReferralOptions>()
            .expect_err("unknown key");
        assert!(
            refused.to_string().contains("take_charge_weeks"),
            "{refused}"
        );
    }
}
