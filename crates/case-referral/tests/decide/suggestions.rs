//! `suggest`: the receivers SuggestReceivers ranks for a case, in the order the
//! referral service has always given them.

use case_referral::directory::OrganisationProfile;
use case_referral::pathway_rules::PathwayRules;
use case_referral::suggestions::{Suggestion, Wanted, suggest};
use case_referral::{Availability, Province};

use super::directory::profile;
use super::support::*;

fn rm() -> Province {
    Province::parse("RM").expect("valid province")
}

fn organisation(
    id: &str,
    name: &str,
    service_type: ServiceType,
    languages: &[&str],
    availability: Availability,
) -> OrganisationProfile {
    OrganisationProfile {
        service_types: vec![service_type],
        languages: languages.iter().map(|l| language(l)).collect(),
        availability,
        ..profile(id, name)
    }
}

/// The directory in organisation id order, as the service's projection reads it.
fn directory() -> Vec<OrganisationProfile> {
    use Availability::*;
    use ServiceType::*;
    vec![
        organisation("cav-a", "Centro B", AntiViolenceCentre, &["it"], Available),
        organisation(
            "cav-b",
            "Centro A",
            AntiViolenceCentre,
            &["it", "tir"],
            Limited,
        ),
        organisation("cav-c", "Centro C", AntiViolenceCentre, &["tir"], Full),
        OrganisationProfile {
            active: false,
            ..organisation("cav-d", "Centro D", AntiViolenceCentre, &["tir"], Available)
        },
        OrganisationProfile {
            provinces: vec![Province::parse("AG").expect("valid province")],
            ..organisation("cav-e", "Centro E", AntiViolenceCentre, &["tir"], Available)
        },
        organisation("cav-f", "Centro B", AntiViolenceCentre, &["it"], Available),
        organisation("shelter-a", "Casa Rifugio", Shelter, &["en"], Limited),
        organisation(
            "traff-a",
            "Progetto Tratta",
            AntiTrafficking,
            &["en"],
            Available,
        ),
    ]
}

fn ids(suggestions: &[Suggestion]) -> Vec<(&str, &str)> {
    suggestions
        .iter()
        .map(|s| (s.service_type.code(), s.organisation_id.as_str()))
        .collect()
}

#[test]
fn snapshot_of_the_suggestions_for_gbv_and_trafficking_in_tigrinya() {
    let tigrinya = language("tir");
    let wanted = Wanted {
        categories: &[Category::Gbv, Category::Trafficking],
        province: &rm(),
        language: Some(&tigrinya),
        service_type: None,
    };
    let suggestions = suggest(&wanted, &PathwayRules::default(), &directory());
    expect![[r#"
        [
            Suggestion {
                organisation_id: OrganisationId(
                    "cav-b",
                ),
                service_type: AntiViolenceCentre,
                because_of: [
                    Gbv,
                ],
                speaks_language: true,
            },
            Suggestion {
                organisation_id: OrganisationId(
                    "cav-a",
                ),
                service_type: AntiViolenceCentre,
                because_of: [
                    Gbv,
                ],
                speaks_language: false,
            },
            Suggestion {
                organisation_id: OrganisationId(
                    "cav-f",
                ),
                service_type: AntiViolenceCentre,
                because_of: [
                    Gbv,
                ],
                speaks_language: false,
            },
            Suggestion {
                organisation_id: OrganisationId(
                    "shelter-a",
                ),
                service_type: Shelter,
                because_of: [
                    Gbv,
                ],
                speaks_language: false,
            },
            Suggestion {
                organisation_id: OrganisationId(
                    "traff-a",
                ),
                service_type: AntiTrafficking,
                because_of: [
                    Trafficking,
                ],
                speaks_language: false,
            },
        ]"#]]
    .assert_eq(&format!("{suggestions:#?}"));
}

#[test]
fn by_service_type_in_rule_order_then_language_then_availability_then_name_then_directory_order() {
    let rules = PathwayRules::default();
    let tigrinya = language("tir");
    let wanted = Wanted {
        categories: &[Category::Trafficking, Category::Gbv],
        province: &rm(),
        language: Some(&tigrinya),
        service_type: None,
    };
    let expected = [
        ("anti_violence_centre", "cav-b"),
        ("anti_violence_centre", "cav-a"),
        ("anti_violence_centre", "cav-f"),
        ("shelter", "shelter-a"),
        ("anti_trafficking", "traff-a"),
    ];
    assert_eq!(ids(&suggest(&wanted, &rules, &directory())), expected);
    let without_language = Wanted {
        language: None,
        ..wanted.clone()
    };
    let suggestions = suggest(&without_language, &rules, &directory());
    assert_eq!(
        ids(&suggestions)[..3],
        [
            ("anti_violence_centre", "cav-a"),
            ("anti_violence_centre", "cav-f"),
            ("anti_violence_centre", "cav-b"),
        ]
    );
    assert!(suggestions.iter().all(|s| !s.speaks_language));
}

#[test]
fn because_of_names_the_categories_that_lead_to_the_service_type() {
    let wanted = Wanted {
        categories: &[Category::Fgm, Category::Trafficking, Category::Gbv],
        province: &rm(),
        language: None,
        service_type: None,
    };
    let suggestions = suggest(&wanted, &PathwayRules::default(), &directory());
    let of = |service_type: ServiceType| {
        suggestions
            .iter()
            .find(|s| s.service_type == service_type)
            .map(|s| s.because_of.clone())
    };
    assert_eq!(
        of(ServiceType::AntiViolenceCentre),
        Some(vec![Category::Fgm, Category::Gbv])
    );
    assert_eq!(
        of(ServiceType::AntiTrafficking),
        Some(vec![Category::Trafficking])
    );
}

#[test]
fn a_service_type_filter_keeps_only_that_type() {
    let wanted = Wanted {
        categories: &[Category::Gbv, Category::Trafficking],
        province: &rm(),
        language: None,
        service_type: Some(ServiceType::Shelter),
    };
    assert_eq!(
        ids(&suggest(&wanted, &PathwayRules::default(), &directory())),
        [("shelter", "shelter-a")]
    );
    let not_in_the_rules = Wanted {
        service_type: Some(ServiceType::JuvenileCourt),
        ..wanted
    };
    assert!(suggest(&not_in_the_rules, &PathwayRules::default(), &directory()).is_empty());
}

#[test]
fn no_live_category_or_no_organisation_in_the_province_suggests_nothing() {
    let nothing = Wanted {
        categories: &[],
        province: &rm(),
        language: None,
        service_type: None,
    };
    assert!(suggest(&nothing, &PathwayRules::default(), &directory()).is_empty());
    let elsewhere = Wanted {
        categories: &[Category::Gbv],
        province: &Province::parse("MI").expect("valid province"),
        ..nothing
    };
    assert!(suggest(&elsewhere, &PathwayRules::default(), &directory()).is_empty());
}

#[test]
fn the_rules_in_force_decide_the_service_types() {
    let mut rules = PathwayRules::default().rules;
    for (category, services) in &mut rules {
        if *category == Category::Gbv {
            *services = vec![ServiceType::Shelter];
        }
    }
    let published = PathwayRules::new(2, rules).expect("valid rules");
    let wanted = Wanted {
        categories: &[Category::Gbv],
        province: &rm(),
        language: None,
        service_type: None,
    };
    assert_eq!(
        ids(&suggest(&wanted, &published, &directory())),
        [("shelter", "shelter-a")]
    );
}
