//! The screening service's own options (`[options]` in its configuration
//! file, `APPRODO_SCREENING__OPTIONS__*` in the environment): which
//! organisations are the anti-trafficking bodies (the only ones whose formal
//! identification of a victim of trafficking is recorded) and the competent
//! authorities for age assessments and for appointing guardians (the juvenile
//! court, or those the configuration names; none by default), and how long a
//! transferred person may go unfound at the new facility before they are lost
//! to follow-up. Whether a caller is one of them is read from its verified
//! token's organisation, never from a request.

use serde::Deserialize;
use service_runtime::config::ConfigError;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ScreeningOptions {
    /// Organisation ids (as in their tokens) of the anti-trafficking bodies
    /// competent to identify victims of trafficking formally.
    pub anti_trafficking_bodies: Vec<String>,
    /// Organisation ids that may record an age assessment (`RecordAgeAssessment`).
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
            anti_trafficking_bodies: Vec::new(),
            age_assessment_authorities: Vec::new(),
            guardianship_authorities: Vec::new(),
            lost_to_follow_up_after_hours: 72,
        }
    }
}

impl ScreeningOptions {
    /// Refuses options that cannot work: an organisation list entry that is
    /// not an organisation id (a typo would silently match nobody), a
    /// transfer found in no time.
    pub fn checked(self) -> Result<ScreeningOptions, ConfigError> {
        for (list, ids) in [
            ("anti_trafficking_bodies", &self.anti_trafficking_bodies),
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

    #[test]
    fn anti_trafficking_bodies_are_configured_and_none_by_default() {
        assert!(
            ScreeningOptions::default()
                .anti_trafficking_bodies
                .is_empty()
        );
        let config = service_runtime::ServiceConfig {
            options: "anti_trafficking_bodies = [\"progetto-anti-tratta-ag\"]\n"
                .parse()
                .expect("toml"),
            ..Default::default()
        };
        let options = config
            .options::<ScreeningOptions>()
            .expect("options")
            .checked()
            .expect("ids");
        assert_eq!(options.anti_trafficking_bodies, ["progetto-anti-tratta-ag"]);
    }

    #[test]
    fn an_unknown_option_or_a_malformed_id_is_refused() {
        let config = service_runtime::ServiceConfig {
            options: "anti_trafficking_body = [\"x\"]\n".parse().expect("toml"),
            ..Default::default()
        };
        let refused = config.options::<ScreeningOptions>().expect_err("unknown");
        assert!(
            refused.to_string().contains("anti_trafficking_body"),
            "{refused}"
        );
        let malformed = ScreeningOptions {
            anti_trafficking_bodies: vec!["Progetto Anti Tratta".to_owned()],
            ..ScreeningOptions::default()
        };
        assert!(malformed.checked().is_err());
    }

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
        // The defaults, but the juvenile courts of the synthetic landing as
        // the local authorities for age assessments and guardians.
        let courts = vec![
            "tribunale-minorenni-palermo".to_owned(),
            "tribunale-minorenni-roma".to_owned(),
        ];
        assert_eq!(
            options,
            ScreeningOptions {
                age_assessment_authorities: courts.clone(),
                guardianship_authorities: courts,
                ..ScreeningOptions::default()
            }
        );
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
