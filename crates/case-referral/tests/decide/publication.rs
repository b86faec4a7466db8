//! The publication of pathway rules: `Publish`, each publication the next
//! version after the built-in rules (version 1).

use case_referral::pathway_rules::{self, InvalidRules, PathwayRules};

use super::support::*;

fn publish(rules: Vec<(Category, Vec<ServiceType>)>) -> pathway_rules::Command {
    pathway_rules::Command::Publish { rules }
}

fn published(version: u32) -> pathway_rules::Event {
    let rules = PathwayRules::default().rules;
    pathway_rules::Event::Published {
        version,
        rules: PathwayRules::new(version, rules).expect("valid rules"),
    }
}

fn when_publishing(
    events: &[pathway_rules::Event],
    command: pathway_rules::Command,
) -> Result<Vec<pathway_rules::Event>, InvalidRules> {
    pathway_rules::decide(&pathway_rules::State::from_events(events), command)
}

#[test]
fn snapshot_of_the_first_publication() {
    let mut all = PathwayRules::default().rules;
    all.retain(|(category, _)| *category != Category::Trafficking);
    all.push((
        Category::Trafficking,
        vec![ServiceType::AntiTrafficking, ServiceType::Shelter],
    ));
    let outcome = when_publishing(&[], publish(all)).map(|events| {
        // Only the version and the changed rule: the rest is the built-in rules.
        events
            .into_iter()
            .map(|pathway_rules::Event::Published { version, rules }| {
                (version, rules.version, rules.rules.last().cloned())
            })
            .collect::<Vec<_>>()
    });
    expect![[r#"
        Ok(
            [
                (
                    2,
                    2,
                    Some(
                        (
                            Trafficking,
                            [
                                AntiTrafficking,
                                Shelter,
                            ],
                        ),
                    ),
                ),
            ],
        )"#]]
    .assert_eq(&format!("{outcome:#?}"));
}

#[test]
fn the_first_publication_is_version_2_and_each_next_one_follows() {
    let rules = PathwayRules::default().rules;
    assert_eq!(
        when_publishing(&[], publish(rules.clone())),
        Ok(vec![published(2)])
    );
    assert_eq!(
        when_publishing(&[published(2), published(3)], publish(rules)),
        Ok(vec![published(4)])
    );
}

#[test]
fn the_state_is_the_last_version_published_or_the_built_in_one() {
    assert_eq!(
        pathway_rules::State::default().version,
        pathway_rules::BUILT_IN_VERSION
    );
    assert_eq!(
        pathway_rules::BUILT_IN_VERSION,
        PathwayRules::default().version
    );
    let state = pathway_rules::State::from_events(&[published(2), published(3)]);
    assert_eq!(state.version, 3);
}

#[test]
fn rules_that_leave_a_category_without_a_rule_are_refused() {
    let mut rules = PathwayRules::default().rules;
    rules.retain(|(category, _)| *category != Category::Gbv);
    assert_eq!(
        when_publishing(&[published(2)], publish(rules)),
        Err(InvalidRules::Missing("GBV"))
    );
}
