//! Properties of the scoring: every percentage within 0..=100, the overall
//! ratio the sum of the sections', and a better score never lowers a ratio.

use proptest::prelude::*;

use crate::support::*;

fn any_score() -> impl Strategy<Value = Score> {
    prop::sample::select(Score::ALL.to_vec())
}

fn any_scores() -> impl Strategy<Value = BTreeMap<String, Score>> {
    let codes: Vec<&'static str> = INDICATORS
        .iter()
        .filter(|i| i.scoring == Scoring::Observed)
        .map(|i| i.code)
        .collect();
    prop::collection::vec(any_score(), codes.len())
        .prop_map(move |scores| codes.iter().map(|c| (*c).to_owned()).zip(scores).collect())
}

fn recorded(scores: BTreeMap<String, Score>) -> VisitRecorded {
    let ctx = context(prefecture(), facility(FACILITY, "RM"));
    let events = decide(
        &State::default(),
        visit("v", date!(2026 - 06 - 01), scores),
        &ctx,
    )
    .expect("recorded");
    recorded_visit(&events).clone()
}

proptest! {
    #[test]
    fn ratios_add_up_and_stay_within_bounds(scores in any_scores()) {
        let s = score(&recorded(scores));
        let points: u32 = s.sections.iter().map(|(_, r)| r.points).sum();
        let max: u32 = s.sections.iter().map(|(_, r)| r.max).sum();
        prop_assert_eq!((points, max), (s.overall.points, s.overall.max));
        for (_, r) in &s.sections {
            prop_assert!(r.points <= r.max);
            if let Some(p) = r.percent() { prop_assert!((0.0..=100.0).contains(&p)); }
        }
    }

    #[test]
    fn raising_one_score_never_lowers_any_ratio(scores in any_scores(), pick in 0usize..24) {
        let before = score(&recorded(scores.clone()));
        let mut raised = scores;
        let code = raised.keys().nth(pick % raised.len()).cloned().expect("a code");
        let better = match raised[&code] { Score::NotMet => Score::PartiallyMet, Score::PartiallyMet => Score::Met, other => other };
        raised.insert(code, better);
        let after = score(&recorded(raised));
        prop_assert!(after.overall.points >= before.overall.points);
        prop_assert_eq!(after.overall.max, before.overall.max);
    }
}
