//! Scores by section, a facility's scorecard and trend, comparisons.

use crate::support::*;

fn recorded(
    id: &str,
    facility_id: &str,
    province: &str,
    on: Date,
    scores: BTreeMap<String, Score>,
) -> VisitRecorded {
    let ctx = context(prefecture(), facility(facility_id, province));
    let events = decide(&State::default(), visit(id, on, scores), &ctx).expect("recorded");
    recorded_visit(&events).clone()
}

#[test]
fn every_indicator_weighs_the_same_and_not_applicable_counts_nowhere() {
    let mut scores = all_scored(Score::Met);
    scores.insert("food.meals".to_owned(), Score::NotMet);
    scores.insert("food.dietary_needs".to_owned(), Score::PartiallyMet);
    scores.insert("allowance.paid_on_time".to_owned(), Score::NotApplicable);
    scores.insert("allowance.informed".to_owned(), Score::NotApplicable);
    let v = recorded("v1", FACILITY, "RM", date!(2026 - 06 - 01), scores);
    let s = score(&v);
    let section = |x: Section| s.sections.iter().find(|(y, _)| *y == x).expect("section").1;
    // food: 0 + 1 + 2 of 6.
    assert_eq!(section(Section::Food).points, 3);
    assert_eq!(section(Section::Food).max, 6);
    assert_eq!(section(Section::Allowance).percent(), None);
    // 25 indicators, 2 not applicable, training coverage not met (no sessions):
    // 23 applicable = 46 points possible; lost: 2 (meals) + 1 (diet) + 2 (coverage).
    assert_eq!((s.overall.points, s.overall.max), (41, 46));
}

#[test]
fn the_scorecard_shows_the_latest_visit_the_trend_and_the_change_by_section() {
    let mut worse = all_scored(Score::Met);
    worse.insert("health.mental_health".to_owned(), Score::NotMet);
    let visits = vec![
        recorded(
            "v2",
            FACILITY,
            "RM",
            date!(2026 - 05 - 01),
            all_scored(Score::Met),
        ),
        recorded("v1", FACILITY, "RM", date!(2026 - 01 - 01), worse),
        recorded(
            "v3",
            FACILITY,
            "RM",
            date!(2026 - 06 - 14),
            all_scored(Score::Met),
        ),
    ];
    let sessions = [session("s1", TrainingTopic::Gbv, date!(2026 - 02 - 01))];
    let card = scorecard(&visits, &sessions, date!(2026 - 05 - 31));
    let ids: Vec<&str> = card.trend.iter().map(|v| v.visit_id.as_str()).collect();
    assert_eq!(ids, ["v1", "v2"], "oldest first, nothing after the day");
    assert_eq!(
        card.latest.as_ref().map(|v| v.visit_id.as_str()),
        Some("v2")
    );
    let health = card
        .change
        .iter()
        .find(|(s, _)| *s == Section::HealthCare)
        .expect("health change")
        .1;
    assert!(
        (health - (100.0 - 4.0 * 100.0 / 6.0)).abs() < 1e-9,
        "{health}"
    );
    let gbv = card
        .training
        .iter()
        .find(|t| t.topic == TrainingTopic::Gbv)
        .expect("gbv");
    assert_eq!((gbv.sessions, gbv.participants, gbv.hours), (1, 12, 4));
    assert_eq!(card.training.len(), TrainingTopic::ALL.len());
}

#[test]
fn provinces_compare_on_each_facility_latest_visit_in_the_period_each_facility_weighing_the_same() {
    let mut half = all_scored(Score::PartiallyMet);
    half.insert("food.meals".to_owned(), Score::PartiallyMet);
    let visits = vec![
        recorded(
            "a-old",
            "cas-roma-1",
            "RM",
            date!(2026 - 01 - 10),
            all_scored(Score::NotMet),
        ),
        recorded(
            "a-new",
            "cas-roma-1",
            "RM",
            date!(2026 - 03 - 10),
            all_scored(Score::Met),
        ),
        recorded("b", "cas-roma-2", "RM", date!(2026 - 02 - 10), half),
        recorded(
            "c",
            "cas-agrigento",
            "AG",
            date!(2026 - 02 - 10),
            all_scored(Score::NotMet),
        ),
        recorded(
            "late",
            "cas-agrigento",
            "AG",
            date!(2026 - 06 - 10),
            all_scored(Score::Met),
        ),
    ];
    let by_province = compare(
        &visits,
        GroupBy::Province,
        date!(2026 - 01 - 01),
        date!(2026 - 05 - 31),
    );
    let groups: Vec<(&str, u32)> = by_province
        .iter()
        .map(|c| (c.group.as_str(), c.facilities))
        .collect();
    assert_eq!(groups, [("AG", 1), ("RM", 2)]);
    let food = |c: &facility_monitoring::scorecard::Comparison| {
        c.sections
            .iter()
            .find(|(s, _)| *s == Section::Food)
            .expect("food")
            .1
    };
    // RM: cas-roma-1's latest (all met, 100) and cas-roma-2 (50): 75.
    assert_eq!(food(&by_province[1]), Some(75.0));
    assert_eq!(food(&by_province[0]), Some(0.0));
}
