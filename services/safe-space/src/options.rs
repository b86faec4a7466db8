//! The safe-space service's own options (`[options]` in its configuration
//! file, `APPRODO_SAFE_SPACE__OPTIONS__*` in the environment): how long a
//! reservation holds, and how the service retries an allocator command that
//! lost its race with another instance (the kernel gives up after 8 lost
//! races; the service tries again with the same request id, so a caller
//! never sees the contention).

use safe_space_allocation::AllocationPolicy;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct SafeSpaceOptions {
    /// How long a reservation holds before the watcher expires it.
    pub hold_hours: u32,
    /// How many times the service runs an allocator command again after the
    /// kernel gave up on lost races (each with the same request id).
    pub conflict_retries: u32,
    /// The longest pause before such a retry (jittered, growing up to this).
    pub conflict_backoff_max_ms: u64,
    /// How many `WatchAvailability` streams one organisation may hold open
    /// at once on one instance.
    pub max_watches_per_organisation: usize,
}

impl Default for SafeSpaceOptions {
    fn default() -> Self {
        SafeSpaceOptions {
            hold_hours: 24,
            conflict_retries: 40,
            conflict_backoff_max_ms: 200,
            max_watches_per_organisation: 4,
        }
    }
}

impl SafeSpaceOptions {
    pub fn policy(&self) -> AllocationPolicy {
        AllocationPolicy {
            hold: time::Duration::hours(i64::from(self.hold_hours)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_hold_24_hours() {
        let options = SafeSpaceOptions::default();
        assert_eq!(options.policy().hold, time::Duration::hours(24));
    }

    #[test]
    fn unknown_option_is_refused() {
        let parsed: Result<SafeSpaceOptions, _> = toml::from_str("hold_hourz = 3");
        assert!(parsed.is_err());
        let parsed: SafeSpaceOptions = toml::from_str("hold_hours = 3").expect("valid");
        assert_eq!(parsed.hold_hours, 3);
    }

    /// The local deployment's file lists the options with their defaults.
    #[test]
    fn the_local_configuration_shows_the_defaults() {
        let file: toml::Table = include_str!("../../../deploy/local/safe-space.toml")
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
        let options: SafeSpaceOptions = config.options().expect("options");
        assert_eq!(options, SafeSpaceOptions::default());
    }
}
