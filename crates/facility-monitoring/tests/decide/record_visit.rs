//! `RecordVisit`: one checklist, every observed indicator scored, the
//! staff-training coverage computed from the facility's sessions.

use crate::support::*;

#[test]
fn a_prefecture_records_a_complete_visit_with_the_training_coverage_computed() {
    let ctx = context(prefecture(), facility(FACILITY, "RM"));
    let state = given(
        vec![
            Command::RecordTrainingSession(session(
                "s1",
                TrainingTopic::Gbv,
                date!(2026 - 01 - 10),
            )),
            Command::RecordTrainingSession(session(
                "s2",
                TrainingTopic::Minors,
                date!(2025 - 09 - 01),
            )),
            Command::RecordTrainingSession(session(
                "s3",
                TrainingTopic::Trafficking,
                date!(2026 - 06 - 01),
            )),
        ],
        &ctx,
    );
    let events = decide(
        &state,
        visit("v1", date!(2026 - 06 - 14), all_scored(Score::Met)),
        &ctx,
    )
    .expect("recorded");
    let v = recorded_visit(&events);
    assert_eq!(v.checklist_version, 1);
    assert_eq!(v.visited_by, "prefettura-rm");
    assert_eq!(v.province.as_str(), "RM");
    // Three topics of five in the year before the visit: partially met.
    assert_eq!(
        v.scores["staff_training.topics_covered"],
        Score::PartiallyMet
    );
    assert_eq!(v.scores.len(), INDICATORS.len());
}

#[test]
fn sessions_older_than_a_year_or_after_the_visit_do_not_count() {
    let ctx = context(prefecture(), facility(FACILITY, "RM"));
    let topics = TrainingTopic::ALL;
    let mut commands: Vec<Command> = topics
        .iter()
        .enumerate()
        .map(|(n, t)| {
            Command::RecordTrainingSession(session(&format!("in{n}"), *t, date!(2026 - 03 - 01)))
        })
        .collect();
    let all_five = given(commands.clone(), &ctx);
    let events = decide(
        &all_five,
        visit("v1", date!(2026 - 06 - 14), all_scored(Score::Met)),
        &ctx,
    )
    .expect("recorded");
    assert_eq!(
        recorded_visit(&events).scores["staff_training.topics_covered"],
        Score::Met
    );
    // The same sessions, seen by a visit 366 days after them: none counts.
    let events = decide(
        &all_five,
        visit("v0", date!(2025 - 02 - 28), all_scored(Score::Met)),
        &ctx,
    )
    .expect("recorded");
    assert_eq!(
        recorded_visit(&events).scores["staff_training.topics_covered"],
        Score::NotMet
    );
    commands.truncate(0);
    let none = given(commands, &ctx);
    let events = decide(
        &none,
        visit("v2", date!(2026 - 06 - 14), all_scored(Score::Met)),
        &ctx,
    )
    .expect("recorded");
    assert_eq!(
        recorded_visit(&events).scores["staff_training.topics_covered"],
        Score::NotMet
    );
}

#[test]
fn a_visit_missing_scores_scoring_a_computed_indicator_or_an_unknown_one_names_each() {
    let ctx = context(prefecture(), facility(FACILITY, "RM"));
    let mut scores = all_scored(Score::Met);
    scores.remove("food.meals");
    scores.remove("housing.family_unity");
    scores.insert("staff_training.topics_covered".to_owned(), Score::Met);
    scores.insert("housing.view_of_the_sea".to_owned(), Score::Met);
    let error = decide(
        &State::default(),
        visit("v1", date!(2026 - 06 - 16), scores),
        &ctx,
    )
    .expect_err("refused");
    expect![[r#"
        Invalid(
            [
                (
                    "visited_on",
                    "is in the future",
                ),
                (
                    "scores.housing.view_of_the_sea",
                    "is not an indicator of checklist version 1",
                ),
                (
                    "scores.staff_training.topics_covered",
                    "is computed from the facility's records, not scored by visitors",
                ),
                (
                    "scores.housing.family_unity",
                    "is missing (score it not_applicable if it does not apply)",
                ),
                (
                    "scores.food.meals",
                    "is missing (score it not_applicable if it does not apply)",
                ),
            ],
        )
    "#]]
    .assert_debug_eq(&error);
}

#[test]
fn only_prefectures_and_national_bodies_visit_and_only_facilities() {
    let scores = all_scored(Score::NotMet);
    let by_operator = context(operator(FACILITY), facility(FACILITY, "RM"));
    assert_eq!(
        decide(
            &State::default(),
            visit("v1", date!(2026 - 06 - 01), scores.clone()),
            &by_operator
        ),
        Err(RecordError::NotAVisitingBody)
    );
    let organisation = context(
        prefecture(),
        RecordOf::Organisation {
            organisation_id: "differenza-donna".to_owned(),
        },
    );
    assert_eq!(
        decide(
            &State::default(),
            visit("v1", date!(2026 - 06 - 01), scores),
            &organisation
        ),
        Err(RecordError::NotAFacility)
    );
}

#[test]
fn the_same_visit_again_records_nothing_and_another_visit_under_its_id_is_refused() {
    let ctx = context(prefecture(), facility(FACILITY, "RM"));
    let first = visit("v1", date!(2026 - 06 - 01), all_scored(Score::Met));
    let state = given(vec![first.clone()], &ctx);
    assert_eq!(decide(&state, first, &ctx), Ok(Vec::new()));
    assert_eq!(
        decide(
            &state,
            visit("v1", date!(2026 - 06 - 01), all_scored(Score::NotMet)),
            &ctx
        ),
        Err(RecordError::VisitIdTaken)
    );
}
