//! The monitoring service's own options (`[options]` in its configuration
//! file, `APPRODO_MONITORING__OPTIONS__*` in the environment): the
//! population of each province (for places per 10,000 inhabitants,
//! indicator 9) and the size of an export's chunks.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct MonitoringOptions {
    /// Inhabitants per province code (`[options.population]`, `AG = 415000`).
    /// A province missing here has no rate of places per 10,000 inhabitants.
    pub population: BTreeMap<String, u64>,
    /// The most bytes of a file one streamed message carries.
    pub export_chunk_bytes: usize,
}

impl Default for MonitoringOptions {
    fn default() -> Self {
        MonitoringOptions {
            population: BTreeMap::new(),
            export_chunk_bytes: 64 * 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn population_is_read_per_province_and_defaults_stay() {
        let options: MonitoringOptions =
            toml::from_str("[population]\nAG = 415000\nRM = 4200000\n").expect("options");
        assert_eq!(options.population.get("AG"), Some(&415_000));
        assert_eq!(options.export_chunk_bytes, 64 * 1024);
        assert!(toml::from_str::<MonitoringOptions>("unknown = 1").is_err());
    }
}
