//! What the referral service needs to know about a case, read from the
//! screening service's events in the shared log: its province, its categories
//! and their status, its urgency. Ids and codes only.

use std::collections::BTreeMap;

use case_log_jetstream::RecordedCommit;
use case_log_jetstream::contract::is;
use contracts::screening::v1 as screening;
use pathway::CategoryStatus;
use pathway::{Category, Urgency};
use prost::Message;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFacts {
    pub province: String,
    /// The facility the person is in now (where the case opened or was last placed).
    #[serde(default)]
    pub facility_id: String,
    /// Category code -> "suspected", "confirmed" or "ruled_out".
    pub categories: BTreeMap<String, String>,
    /// The most urgent urgency seen.
    pub urgency: String,
}

impl CaseFacts {
    /// Folds the screening history of a case; `None` if the case was never opened.
    pub fn from_history(history: &[RecordedCommit]) -> Option<CaseFacts> {
        let mut facts: Option<CaseFacts> = None;
        for commit in history {
            for event in &commit.commit.events {
                CaseFacts::apply(&mut facts, &event.event_type, &event.payload);
            }
        }
        facts
    }

    /// Applies one screening event (unknown or undecodable ones change nothing:
    /// the screening service's own projection is where they fail loudly).
    pub fn apply(facts: &mut Option<CaseFacts>, event_type: &str, payload: &[u8]) {
        match event_type {
            t if is::<screening::CaseOpened>(t) => {
                if let Ok(e) = screening::CaseOpened::decode(payload) {
                    *facts = Some(CaseFacts {
                        province: e.province,
                        facility_id: e.facility_id,
                        ..CaseFacts::default()
                    });
                }
            }
            t if is::<screening::CasePlaced>(t) => {
                if let (Some(f), Ok(e)) = (facts.as_mut(), screening::CasePlaced::decode(payload)) {
                    f.province = e.province;
                    f.facility_id = e.facility_id;
                }
            }
            t if is::<screening::PreliminaryCheckRecorded>(t) => {
                if let (Some(f), Ok(e)) = (
                    facts.as_mut(),
                    screening::PreliminaryCheckRecorded::decode(payload),
                ) {
                    for s in &e.suspected {
                        f.suspect(&s.category);
                    }
                    f.raise(&e.urgency);
                }
            }
            t if is::<screening::VulnerabilitySignalRaised>(t) => {
                if let (Some(f), Ok(e)) = (
                    facts.as_mut(),
                    screening::VulnerabilitySignalRaised::decode(payload),
                ) {
                    if let Some(s) = &e.suspected {
                        f.suspect(&s.category);
                    }
                    f.raise(&e.urgency);
                }
            }
            t if is::<screening::AssessmentRecorded>(t) => {
                if let (Some(f), Ok(e)) = (
                    facts.as_mut(),
                    screening::AssessmentRecorded::decode(payload),
                ) {
                    for o in &e.outcomes {
                        f.categories.insert(o.category.clone(), o.status.clone());
                    }
                }
            }
            _ => {}
        }
    }

    fn suspect(&mut self, category: &str) {
        let status = self
            .categories
            .entry(category.to_owned())
            .or_insert_with(|| CategoryStatus::Suspected.code().to_owned());
        if status == CategoryStatus::RuledOut.code() {
            *status = CategoryStatus::Suspected.code().to_owned();
        }
    }

    fn raise(&mut self, urgency: &str) {
        let Ok(new) = Urgency::from_code(urgency) else {
            return;
        };
        match Urgency::from_code(&self.urgency) {
            Ok(current) if current <= new => {}
            _ => self.urgency = new.code().to_owned(),
        }
    }

    /// Categories suspected or confirmed.
    pub fn live_categories(&self) -> Vec<Category> {
        self.categories
            .iter()
            .filter(|(_, status)| *status != CategoryStatus::RuledOut.code())
            .filter_map(|(code, _)| Category::from_code(code).ok())
            .collect()
    }

    /// Where the case is, for the caller's jurisdiction.
    pub fn whereabouts(&self) -> service_runtime::Whereabouts {
        service_runtime::Whereabouts::at(&self.province, &self.facility_id)
    }

    pub fn concerns_a_minor(&self) -> bool {
        self.live_categories()
            .into_iter()
            .any(Category::concerns_a_minor)
    }
}
