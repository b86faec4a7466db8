//! The referral service's own options (`[options]` in its configuration file,
//! `APPRODO_REFERRAL__OPTIONS__*` in the environment): the deadlines to
//! acknowledge, answer and take charge of referrals (defaults from the domain
//! brief; each prefecture may set its own), and how long a receiver keeps
//! access to a dataset after completing its referral, and how many inbox
//! watches each organisation may have open at once.

use case_referral::DeadlinePolicy;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ReferralOptions {
    pub deadlines: ReferralDeadlines,
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

/// Deadlines to answer a referral, by urgency, and to take charge after accepting it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ReferralDeadlines {
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
            options: "[deadlines]\nacknowledge_immediate_hours = 1\nacknowledge_standard_hours = 48\nanswer_windows = 3\ntake_charge_days = 5\n"
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
        assert_eq!(
            ReferralDeadlines::default().policy(),
            DeadlinePolicy::default()
        );
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
