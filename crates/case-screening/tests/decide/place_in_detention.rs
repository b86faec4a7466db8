//! `Place` in detention (CPR): never an unaccompanied or presumed minor; a
//! minor or a person with a confirmed category only with a justification and
//! the deciding organisation, recorded as `VulnerablePersonDetained` in the
//! commit of the placement. Before this rule every detention was accepted.

use super::care::*;
use super::support::*;

#[test]
fn an_unaccompanied_minor_is_never_placed_in_detention() {
    let state = given(&unaccompanied_minor());
    for grounds in [None, Some(grounds())] {
        assert_eq!(
            when(&state, Command::Place(detention(grounds)), NOW),
            Err(ScreeningError::MinorInDetention)
        );
    }
}

#[test]
fn a_person_presumed_a_minor_is_never_placed_in_detention() {
    for category in [
        Category::AgeDisputed,
        Category::Minor,
        Category::UnaccompaniedMinor,
    ] {
        let state = given(&[opened_as(AgeBand::Unknown), suspected(category)]);
        assert_eq!(
            when(&state, Command::Place(detention(Some(grounds()))), NOW),
            Err(ScreeningError::MinorInDetention),
            "{category}"
        );
    }
}

#[test]
fn a_person_with_a_confirmed_category_needs_a_justification() {
    let state = given(&[
        opened_as(AgeBand::Adult),
        suspected(Category::Torture),
        assessed_early(&[(Category::Torture, Outcome::Confirmed)]),
    ]);
    assert_eq!(
        when(&state, Command::Place(detention(None)), NOW),
        Err(ScreeningError::DetentionNeedsJustification)
    );
    let placed = detention(Some(grounds()));
    assert_eq!(
        when(&state, Command::Place(placed.clone()), NOW),
        Ok(vec![
            Event::CasePlaced(placed),
            Event::VulnerablePersonDetained {
                facility_id: facility("cpr-trapani"),
                categories: vec![Category::Torture],
                age_band: AgeBand::Adult,
                grounds: grounds(),
                detained_at: NOW,
            },
        ])
    );
}

#[test]
fn an_accompanied_minor_is_detained_only_with_a_justification() {
    let state = given(&[opened_as(AgeBand::From6To13), suspected(Category::Minor)]);
    assert_eq!(
        when(&state, Command::Place(detention(None)), NOW),
        Err(ScreeningError::DetentionNeedsJustification)
    );
    let events = when(&state, Command::Place(detention(Some(grounds()))), NOW).expect("placed");
    assert!(matches!(
        &events[..],
        [
            Event::CasePlaced(_),
            Event::VulnerablePersonDetained {
                age_band: AgeBand::From6To13,
                ..
            }
        ]
    ));
}

#[test]
fn a_person_without_a_confirmed_category_is_detained_without_an_event_of_vulnerability() {
    for events in [
        vec![opened_as(AgeBand::Adult)],
        vec![opened_as(AgeBand::Adult), suspected(Category::Trafficking)],
        // Assessed an adult: the suspicion of minority no longer protects.
        vec![
            opened_as(AgeBand::Unknown),
            suspected(Category::UnaccompaniedMinor),
            Event::AgeAssessed(age_assessment(AgeBand::Adult, ARRIVAL + Duration::DAY)),
        ],
    ] {
        let placed = detention(None);
        assert_eq!(
            when(&given(&events), Command::Place(placed.clone()), NOW),
            Ok(vec![Event::CasePlaced(placed)]),
            "{events:?}"
        );
    }
}

#[test]
fn detention_grounds_on_a_placement_elsewhere_are_invalid() {
    let placed = Placement {
        detention: Some(grounds()),
        ..placement("sai-roma-3", NOW)
    };
    assert_invalid(
        when(&given(&[opened()]), Command::Place(placed), NOW),
        "detention_justification",
    );
}

#[test]
fn snapshot_of_a_vulnerable_person_detained() {
    let state = given(&[
        opened_as(AgeBand::Adult),
        suspected(Category::Gbv),
        assessed_early(&[(Category::Gbv, Outcome::Confirmed)]),
        suspected(Category::Elderly),
        assessed_early(&[(Category::Elderly, Outcome::Confirmed)]),
    ]);
    let outcome = when(&state, Command::Place(detention(Some(grounds()))), NOW);
    expect![[r#"
        CasePlaced(
            Placement {
                facility_id: FacilityId(
                    "cpr-trapani",
                ),
                province: Province(
                    "RM",
                ),
                facility_kind: Detention,
                placed_at: 2026-03-04 12:00:00.0 +00:00:00,
                arrival_due_at: None,
                detention: Some(
                    DetentionGrounds {
                        justification: RiskOfAbsconding,
                        decided_by_organisation: "questura-ag",
                        authority: Some(
                            PoliceChief,
                        ),
                    },
                ),
            },
        )
        VulnerablePersonDetained {
            facility_id: FacilityId(
                "cpr-trapani",
            ),
            categories: [
                Elderly,
                Gbv,
            ],
            age_band: Adult,
            grounds: DetentionGrounds {
                justification: RiskOfAbsconding,
                decided_by_organisation: "questura-ag",
                authority: Some(
                    PoliceChief,
                ),
            },
            detained_at: 2026-03-04 12:00:00.0 +00:00:00,
        }"#]]
    .assert_eq(&render(outcome));
}
