//! What visits and training records show: a visit's scores by section, a
//! facility's scorecard and its trend, facilities and provinces compared.
//! Every figure is computed here, from recorded events only.

use std::collections::BTreeMap;

use time::{Date, Duration};

use crate::checklist::{INDICATORS, Section};
use crate::record::VisitRecorded;
use crate::training::{COVERAGE_WINDOW_DAYS, TrainingSession, TrainingTopic};

/// Points scored out of the points possible (indicators not applicable
/// count in neither).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ratio {
    pub points: u32,
    pub max: u32,
}

impl Ratio {
    /// The percentage, `None` when nothing applied.
    pub fn percent(self) -> Option<f64> {
        (self.max > 0).then(|| f64::from(self.points) * 100.0 / f64::from(self.max))
    }

    fn add(&mut self, points: Option<u32>) {
        if let Some(points) = points {
            self.points += points;
            self.max += crate::Score::MAX_POINTS;
        }
    }
}

/// One visit's scores: overall and by section (every section of the
/// checklist, in order).
#[derive(Debug, Clone, PartialEq)]
pub struct VisitScore {
    pub visit_id: String,
    pub facility_id: String,
    pub province: String,
    pub facility_kind: String,
    pub visited_on: Date,
    pub overall: Ratio,
    pub sections: Vec<(Section, Ratio)>,
}

/// Every indicator weighs the same: a section's ratio is the sum of its
/// applicable indicators' points over their maximum; the overall ratio sums
/// every section's.
pub fn score(visit: &VisitRecorded) -> VisitScore {
    let mut sections: BTreeMap<Section, Ratio> = Section::ALL
        .iter()
        .map(|s| (*s, Ratio::default()))
        .collect();
    let mut overall = Ratio::default();
    for (code, score) in &visit.scores {
        // An indicator of another checklist version counts in its own section
        // by the code's prefix only if the current version still knows it.
        let Some(indicator) = INDICATORS.iter().find(|i| i.code == code.as_str()) else {
            continue;
        };
        let points = score.points();
        sections.entry(indicator.section).or_default().add(points);
        overall.add(points);
    }
    VisitScore {
        visit_id: visit.visit_id.clone(),
        facility_id: visit.facility_id.clone(),
        province: visit.province.to_string(),
        facility_kind: visit.facility_kind.clone(),
        visited_on: visit.visited_on,
        overall,
        sections: sections.into_iter().collect(),
    }
}

/// Sessions on one topic in the year before a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicTraining {
    pub topic: TrainingTopic,
    pub sessions: u32,
    pub participants: u32,
    pub hours: u32,
}

/// A facility's scorecard as of a day.
#[derive(Debug, Clone, PartialEq)]
pub struct Scorecard {
    /// The latest visit on or before the day.
    pub latest: Option<VisitScore>,
    /// Every visit on or before the day, oldest first (the trend).
    pub trend: Vec<VisitScore>,
    /// Per section, the change in percentage points from the visit before the
    /// latest to the latest (only sections scored at both).
    pub change: Vec<(Section, f64)>,
    /// Training in the year up to the day, every topic listed (zero if none).
    pub training: Vec<TopicTraining>,
}

pub fn scorecard<'a>(
    visits: &[VisitRecorded],
    sessions: impl IntoIterator<Item = &'a TrainingSession>,
    as_of: Date,
) -> Scorecard {
    let mut trend: Vec<VisitScore> = visits
        .iter()
        .filter(|v| v.visited_on <= as_of)
        .map(score)
        .collect();
    trend.sort_by(|a, b| (a.visited_on, &a.visit_id).cmp(&(b.visited_on, &b.visit_id)));
    let change = match trend.as_slice() {
        [.., before, latest] => latest
            .sections
            .iter()
            .zip(&before.sections)
            .filter_map(|((section, now), (_, then))| {
                Some((*section, now.percent()? - then.percent()?))
            })
            .collect(),
        _ => Vec::new(),
    };
    let from = as_of - Duration::days(COVERAGE_WINDOW_DAYS - 1);
    let mut training: BTreeMap<TrainingTopic, TopicTraining> = TrainingTopic::ALL
        .iter()
        .map(|t| {
            (
                *t,
                TopicTraining {
                    topic: *t,
                    sessions: 0,
                    participants: 0,
                    hours: 0,
                },
            )
        })
        .collect();
    for session in sessions
        .into_iter()
        .filter(|s| s.held_on >= from && s.held_on <= as_of)
    {
        if let Some(t) = training.get_mut(&session.topic) {
            t.sessions += 1;
            t.participants += session.participants;
            t.hours += session.hours;
        }
    }
    Scorecard {
        latest: trend.last().cloned(),
        trend,
        change,
        training: training.into_values().collect(),
    }
}

/// How facilities are grouped in a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Facility,
    Province,
}

/// One group of a comparison: the mean of its facilities' latest visits in
/// the period, each facility weighing the same.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub group: String,
    pub facilities: u32,
    pub overall_percent: Option<f64>,
    pub sections: Vec<(Section, Option<f64>)>,
}

/// Compares groups on each facility's latest visit with `from <= visited_on
/// <= to`; groups in code order.
pub fn compare(
    visits: &[VisitRecorded],
    group_by: GroupBy,
    from: Date,
    to: Date,
) -> Vec<Comparison> {
    let mut latest: BTreeMap<&str, &VisitRecorded> = BTreeMap::new();
    for visit in visits
        .iter()
        .filter(|v| v.visited_on >= from && v.visited_on <= to)
    {
        let entry = latest.entry(visit.facility_id.as_str()).or_insert(visit);
        if (visit.visited_on, &visit.visit_id) > (entry.visited_on, &entry.visit_id) {
            *entry = visit;
        }
    }
    let mut groups: BTreeMap<String, Vec<VisitScore>> = BTreeMap::new();
    for visit in latest.values() {
        let group = match group_by {
            GroupBy::Facility => visit.facility_id.clone(),
            GroupBy::Province => visit.province.to_string(),
        };
        groups.entry(group).or_default().push(score(visit));
    }
    groups
        .into_iter()
        .map(|(group, scores)| Comparison {
            facilities: u32::try_from(scores.len()).unwrap_or(u32::MAX),
            overall_percent: mean(scores.iter().map(|s| s.overall.percent())),
            sections: Section::ALL
                .iter()
                .map(|section| {
                    let percents = scores.iter().map(|s| {
                        s.sections
                            .iter()
                            .find(|(x, _)| x == section)
                            .and_then(|(_, r)| r.percent())
                    });
                    (*section, mean(percents))
                })
                .collect(),
            group,
        })
        .collect()
}

/// The mean of the values present; `None` if none is.
fn mean(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let present: Vec<f64> = values.flatten().collect();
    (!present.is_empty()).then(|| present.iter().sum::<f64>() / present.len() as f64)
}
