//! The screening service's own options (`[options]` in its configuration
//! file, `APPRODO_SCREENING__OPTIONS__*` in the environment): which
//! organisations are the competent authorities for age assessments and for
//! appointing guardians (the juvenile court, or those the configuration names;
//! none by default), and how long a transferred person may go unfound at the
//! new facility before they are lost to follow-up.

use serde::Deserialize;
use service_runtime::config::ConfigError;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ScreeningOptions {
    /// Organisation ids (as their tokens name them) that may record an age
    /// assessment (`RecordAgeAssessment`).
    pub age_assessment_authorities: Vec<String>,
    /// Organisation ids that may record a guardian's appointment (`AppointGuardian`).
    pub guardianship_authorities: Vec<String>,
    /// Hours after a transfer within which the new facility must find the
    /// person (a follow-up `found`), or the watcher records `LostToFollowUp`.
    pub lost_to_follow_up_after_hours: u32,
}

impl Default for ScreeningOptions {
    fn default() -> Self {
        ScreeningOptions {
            age_assessment_authorities: Vec::new(),
            guardianship_authorities: Vec::new(),
            lost_to_follow_up_after_hours: 72,
        }
    }
}

impl ScreeningOptions {
    /// Refuses options that cannot work: an authority that is not an
    /// organisation id (a typo would silently match nobody), a transfer found
    /// in no time.
    pub fn checked(self) -> Result<ScreeningOptions, ConfigError> {
        for (list, ids) in [
            (
                "age_assessment_authorities",
                &self.age_assessment_authorities,
            ),
            ("guardianship_authorities", &self.guardianship_authorities),
        ] {
            if let Some(i) = ids.iter().position(|id| !pathway::is_id_token(id)) {
                return Err(ConfigError::Invalid(format!(
                    "[options] {list}[{i}] must be an organisation id of [a-z0-9-]"
                )));
            }
        }
        if self.lost_to_follow_up_after_hours == 0 {
            return Err(ConfigError::Invalid(
                "[options] lost_to_follow_up_after_hours must be at least 1".to_owned(),
            ));
        }
        Ok(self)
    }

    pub fn lost_to_follow_up_after(&self) -> time::Duration {
        time::Duration::hours(i64::from(self.lost_to_follow_up_after_hours))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(toml: &str) -> Result<ScreeningOptions, ConfigError> {
        service_runtime::ServiceConfig {
            options: toml.parse().expect("toml"),
            ..Default::default()
        }
        .options::<ScreeningOptions>()
        .and_then(ScreeningOptions::checked)
    }

    #[test]
    fn defaults_name_no_authority_and_72_hours() {
        let defaults = options("").expect("defaults");
        assert_eq!(defaults, ScreeningOptions::default());
        assert!(defaults.age_assessment_authorities.is_empty());
        assert_eq!(
            defaults.lost_to_follow_up_after(),
            time::Duration::hours(72)
        );
    }

    #[test]
    fn the_local_deployments_options_are_valid() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../deploy/local/screening.toml");
        let config: service_runtime::ServiceConfig =
            service_runtime::config::load("screening", Some(&path)).expect("local configuration");
        let options = config
            .options::<ScreeningOptions>()
            .and_then(ScreeningOptions::checked)
            .expect("options");
        assert_eq!(options, ScreeningOptions::default());
    }

    #[test]
    fn configured_authorities_and_hours_replace_the_defaults() {
        let configured = options(
            "age_assessment_authorities = [\"tribunale-minorenni-pa\"]\n\
             guardianship_authorities = [\"tribunale-minorenni-pa\", \"giudice-tutelare-ag\"]\n\
             lost_to_follow_up_after_hours = 48\n",
        )
        .expect("options");
        assert_eq!(
            configured.age_assessment_authorities,
            ["tribunale-minorenni-pa"]
        );
        assert_eq!(configured.guardianship_authorities.len(), 2);
        assert_eq!(
            configured.lost_to_follow_up_after(),
            time::Duration::hours(48)
        );
    }

    #[test]
    fn zero_hours_unknown_options_and_malformed_ids_are_refused() {
        let zero = options("lost_to_follow_up_after_hours = 0\n").expect_err("zero");
        assert!(zero.to_string().contains("lost_to_follow_up_after_hours"));
        let unknown = options("age_assessors = []\n").expect_err("unknown");
        assert!(unknown.to_string().contains("age_assessors"), "{unknown}");
        let malformed = options("guardianship_authorities = [\"Tribunale per i minorenni\"]\n")
            .expect_err("not an id");
        assert!(
            malformed
                .to_string()
                .contains("guardianship_authorities[0]")
        );
    }
}
