//! The screening service's own options (`[options]` in its configuration
//! file, `APPRODO_SCREENING__OPTIONS__*` in the environment): which
//! organisations are anti-trafficking bodies, the only ones whose formal
//! identification of a victim of trafficking is recorded. Whether a caller is
//! one is read from its verified token's organisation, never from a request.

use serde::Deserialize;
use service_runtime::{Caller, ServiceError};

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ScreeningOptions {
    /// Organisation ids (as in their tokens) of the anti-trafficking bodies
    /// competent to identify victims of trafficking formally. None by default:
    /// each deployment names its own.
    pub anti_trafficking_bodies: Vec<String>,
}

impl ScreeningOptions {
    /// Refuses options that cannot name an organisation (ids only, no typos
    /// that silently match nobody).
    pub fn checked(self) -> Result<ScreeningOptions, service_runtime::config::ConfigError> {
        for (i, id) in self.anti_trafficking_bodies.iter().enumerate() {
            if !pathway::is_id_token(id) {
                return Err(service_runtime::config::ConfigError::Invalid(format!(
                    "[options] anti_trafficking_bodies[{i}] must be an organisation id of [a-z0-9-]"
                )));
            }
        }
        Ok(self)
    }

    /// Refuses a caller whose verified organisation is not a configured
    /// anti-trafficking body.
    pub fn check_anti_trafficking_body(&self, caller: &Caller) -> Result<(), ServiceError> {
        if self
            .anti_trafficking_bodies
            .contains(&caller.organisation_id)
        {
            Ok(())
        } else {
            Err(ServiceError::PermissionDenied(
                "only a configured anti-trafficking body records a formal identification"
                    .to_owned(),
            ))
        }
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
        };
        assert!(malformed.checked().is_err());
    }
}
