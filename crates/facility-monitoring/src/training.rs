//! Staff training sessions, per facility and per organisation, and the one
//! rule of how they count in the checklist's staff-training section.

use std::collections::BTreeSet;

use pathway::vocabulary;
use time::{Date, Duration};

use crate::checklist::Score;

vocabulary!(
    /// What a training session was about.
    TrainingTopic, "training topic", {
    VulnerabilityIdentification = "vulnerability_identification",
    Gbv = "gbv",
    Trafficking = "trafficking",
    Minors = "minors",
    ConsentAndDataProtection = "consent_and_data_protection",
});

/// One staff training session as recorded (no names of trainers or
/// participants: a count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingSession {
    pub session_id: String,
    pub topic: TrainingTopic,
    pub held_on: Date,
    pub participants: u32,
    /// Length of the session in hours.
    pub hours: u32,
}

/// Sessions count for a visit when held within this many days before it (the
/// visit's day included).
pub const COVERAGE_WINDOW_DAYS: i64 = 365;

/// The topics of `sessions` held in the year up to `visited_on` (sessions
/// after the visit do not count).
pub fn topics_covered<'a>(
    sessions: impl IntoIterator<Item = &'a TrainingSession>,
    visited_on: Date,
) -> BTreeSet<TrainingTopic> {
    let from = visited_on - Duration::days(COVERAGE_WINDOW_DAYS - 1);
    sessions
        .into_iter()
        .filter(|s| s.held_on >= from && s.held_on <= visited_on)
        .map(|s| s.topic)
        .collect()
}

/// The score of `staff_training.topics_covered`: every topic covered in the
/// year before the visit is met; at least three of the five, partially met;
/// fewer, not met.
pub fn topics_coverage_score(covered: &BTreeSet<TrainingTopic>) -> Score {
    match covered.len() {
        n if n == TrainingTopic::ALL.len() => Score::Met,
        n if n >= 3 => Score::PartiallyMet,
        _ => Score::NotMet,
    }
}
