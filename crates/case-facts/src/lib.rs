//! The facts of a case, read from the screening service's events in the
//! shared log, the one fold every service that needs them uses (referral,
//! monitoring; safe-space next): where it is (province,
//! facility, and the placement that put it there), its categories and their
//! status, its current urgency (raised by checks and signals, set by
//! assessments, lower too: `pathway::CaseUrgency`) and since when, the
//! person's age band (and whether an assessment decided it), and whether it
//! was closed. Ids and codes only. The same
//! fold serves each command (from the log) and the projection.

use std::collections::BTreeMap;

use case_log_jetstream::RecordedCommit;
use case_log_jetstream::contract::is;
use contracts::screening::v1 as screening;
use pathway::{CaseUrgency, Category, CategoryStatus, Urgency};
use prost::Message;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFacts {
    pub province: String,
    /// The facility the person is in now (where the case opened or was last placed).
    #[serde(default)]
    pub facility_id: String,
    /// The log sequence of the placement that moved the case where it is (0:
    /// where it opened): names a transfer for the watcher's request ids.
    #[serde(default)]
    pub placement: u64,
    /// Category code -> "suspected", "confirmed" or "ruled_out".
    pub categories: BTreeMap<String, String>,
    /// The case's urgency now (empty while none was stated).
    pub urgency: String,
    /// When the case reached its current urgency (the service time of the
    /// screening commit that changed it).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub urgency_since: Option<OffsetDateTime>,
    /// From `CaseOpened`, replaced by `AgeAssessed` (empty: unknown).
    #[serde(default)]
    pub age_band: String,
    /// The band is an `AgeAssessed`'s (the competent authority's), not the opening's.
    #[serde(default)]
    pub age_assessed: bool,
    /// The closure reason code, once screening closed the case.
    #[serde(default)]
    pub closed: Option<String>,
    /// As `CaseOpened.sex` records it in clear (empty in openings before it existed).
    #[serde(default)]
    pub sex: String,
    /// Screening erased the person's data (`PersonalDataErased`).
    #[serde(default)]
    pub erased: bool,
}

/// The screening commit an event comes from: its log sequence and its time.
#[derive(Debug, Clone, Copy)]
pub struct Recorded {
    pub sequence: u64,
    pub occurred_at: Option<OffsetDateTime>,
}

impl Recorded {
    pub fn commit(commit: &RecordedCommit) -> Recorded {
        Recorded {
            sequence: commit.sequence,
            occurred_at: commit
                .commit
                .occurred_at
                .as_ref()
                .and_then(case_log_jetstream::envelope::from_timestamp),
        }
    }
}

impl CaseFacts {
    /// Folds the screening history of a case; `None` if the case was never opened.
    pub fn from_history(history: &[RecordedCommit]) -> Option<CaseFacts> {
        let mut facts: Option<CaseFacts> = None;
        for commit in history {
            let at = Recorded::commit(commit);
            for event in &commit.commit.events {
                CaseFacts::apply(&mut facts, at, &event.event_type, &event.payload);
            }
        }
        facts
    }

    /// Applies one screening event (unknown or undecodable ones change nothing:
    /// the screening service's own projection is where they fail loudly).
    pub fn apply(facts: &mut Option<CaseFacts>, at: Recorded, event_type: &str, payload: &[u8]) {
        match event_type {
            t if is::<screening::CaseOpened>(t) => {
                if let Ok(e) = screening::CaseOpened::decode(payload) {
                    *facts = Some(CaseFacts {
                        province: e.province,
                        facility_id: e.facility_id,
                        age_band: e.age_band,
                        sex: e.sex,
                        ..CaseFacts::default()
                    });
                }
            }
            t if is::<screening::CasePlaced>(t) => {
                if let (Some(f), Ok(e)) = (facts.as_mut(), screening::CasePlaced::decode(payload))
                    && (f.province != e.province || f.facility_id != e.facility_id)
                {
                    f.province = e.province;
                    f.facility_id = e.facility_id;
                    f.placement = at.sequence;
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
                    f.urgency_becomes(&e.urgency, CaseUrgency::raised, at);
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
                    f.urgency_becomes(&e.urgency, CaseUrgency::raised, at);
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
                    f.urgency_becomes(&e.urgency, CaseUrgency::assessed, at);
                }
            }
            t if is::<screening::AgeAssessed>(t) => {
                if let (Some(f), Ok(e)) = (facts.as_mut(), screening::AgeAssessed::decode(payload))
                {
                    f.age_band = e.age_band;
                    f.age_assessed = true;
                }
            }
            t if is::<screening::PersonalDataErased>(t) => {
                if let Some(f) = facts.as_mut() {
                    f.erased = true;
                }
            }
            t if is::<screening::CaseClosed>(t) => {
                if let (Some(f), Ok(e)) = (facts.as_mut(), screening::CaseClosed::decode(payload)) {
                    f.closed = Some(e.reason);
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

    /// The case's urgency as the pathway's rule keeps it.
    pub fn case_urgency(&self) -> CaseUrgency {
        match Urgency::from_code(&self.urgency) {
            Ok(urgency) => CaseUrgency::default().assessed(urgency),
            Err(_) => CaseUrgency::default(),
        }
    }

    /// A check or signal (`raised`) or an assessment (`assessed`) stated
    /// `urgency` (empty or unknown: nothing stated); when the case's urgency
    /// changes, it changed at the commit's time.
    fn urgency_becomes(
        &mut self,
        urgency: &str,
        rule: fn(CaseUrgency, Urgency) -> CaseUrgency,
        at: Recorded,
    ) {
        let Ok(stated) = Urgency::from_code(urgency) else {
            return;
        };
        let before = self.case_urgency().current();
        let after = rule(self.case_urgency(), stated).current();
        if after != before {
            self.urgency = after.map(|u| u.code().to_owned()).unwrap_or_default();
            self.urgency_since = at.occurred_at;
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
}

#[cfg(test)]
mod tests {
    use super::*;
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
    fn the_urgency_is_raised_by_signals_set_by_assessments_and_dated_when_it_changes() {
        let t = |h: i64| datetime!(2026-06-20 10:00 UTC) + time::Duration::hours(h);
        let mut facts = None;
        apply(
            &mut facts,
            at(1, t(0)),
            screening::CaseOpened {
                province: "AG".to_owned(),
                facility_id: "hotspot-lampedusa".to_owned(),
                ..Default::default()
            },
        );
        let urgency = |facts: &Option<CaseFacts>| {
            let f = facts.as_ref().expect("opened");
            (
                f.case_urgency().current().unwrap_or(Urgency::Standard),
                f.urgency_since,
            )
        };
        assert_eq!(urgency(&facts), (Urgency::Standard, None), "none stated");
        let signal = |urgency: &str| screening::VulnerabilitySignalRaised {
            urgency: urgency.to_owned(),
            ..Default::default()
        };
        apply(&mut facts, at(2, t(1)), signal("high"));
        apply(&mut facts, at(3, t(2)), signal("standard"));
        assert_eq!(
            urgency(&facts),
            (Urgency::High, Some(t(1))),
            "a signal only raises"
        );
        apply(&mut facts, at(4, t(3)), signal("immediate"));
        assert_eq!(urgency(&facts), (Urgency::Immediate, Some(t(3))));
        apply(
            &mut facts,
            at(5, t(4)),
            screening::AssessmentRecorded {
                urgency: "standard".to_owned(),
                ..Default::default()
            },
        );
        assert_eq!(
            urgency(&facts),
            (Urgency::Standard, Some(t(4))),
            "an assessment lowers"
        );
        apply(
            &mut facts,
            at(6, t(5)),
            screening::AssessmentRecorded::default(),
        );
        assert_eq!(
            urgency(&facts),
            (Urgency::Standard, Some(t(4))),
            "empty: unchanged"
        );
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
        let facts_now = |facts: &Option<CaseFacts>| facts.clone().expect("opened");
        assert_eq!(facts_now(&facts).age_band, "", "empty: unknown");
        assert!(!facts_now(&facts).age_assessed, "declared at opening");
        apply(
            &mut facts,
            at(2, now),
            screening::AgeAssessed {
                age_band: "14-15".to_owned(),
                ..Default::default()
            },
        );
        assert_eq!(facts_now(&facts).age_band, "14-15");
        assert!(facts_now(&facts).age_assessed);
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
            (facts_now(&facts).province, facts_now(&facts).facility_id),
            ("RM".to_owned(), "cas-roma-1".to_owned())
        );
        assert_eq!(facts_now(&facts).closed, None);
        apply(
            &mut facts,
            at(5, now),
            screening::CaseClosed {
                reason: "transferred_abroad".to_owned(),
                ..Default::default()
            },
        );
        assert_eq!(
            facts_now(&facts).closed,
            Some("transferred_abroad".to_owned())
        );
    }

    #[test]
    fn the_sex_recorded_at_opening_and_an_erasure_are_followed() {
        let now = datetime!(2026-06-20 10:00 UTC);
        let mut facts = None;
        apply(
            &mut facts,
            at(1, now),
            screening::CaseOpened {
                province: "AG".to_owned(),
                facility_id: "hotspot-lampedusa".to_owned(),
                sex: "female".to_owned(),
                ..Default::default()
            },
        );
        let f = facts.clone().expect("opened");
        assert_eq!((f.sex.as_str(), f.erased), ("female", false));
        apply(
            &mut facts,
            at(2, now),
            screening::PersonalDataErased::default(),
        );
        assert!(facts.expect("still the case").erased);
    }
}
