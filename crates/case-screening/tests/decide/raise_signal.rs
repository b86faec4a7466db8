//! `RaiseSignal`: a suspected vulnerability signalled after screening, including disclosures of gender-based violence.

use super::support::*;

#[test]
fn signal_is_raised() {
    let raised = signal(Category::Trafficking, NOW);
    assert_eq!(
        when(
            &given(&[opened()]),
            Command::RaiseSignal(raised.clone()),
            NOW
        ),
        Ok(vec![Event::VulnerabilitySignalRaised(raised)])
    );
}

#[test]
fn signals_on_the_same_category_may_be_raised_again() {
    let state = given(&[
        opened(),
        Event::VulnerabilitySignalRaised(signal(Category::Trafficking, ARRIVAL)),
    ]);
    let raised = signal(Category::Trafficking, NOW);
    assert_eq!(
        when(&state, Command::RaiseSignal(raised.clone()), NOW),
        Ok(vec![Event::VulnerabilitySignalRaised(raised)])
    );
}

#[test]
fn signal_on_a_case_not_opened_is_case_not_found() {
    assert_eq!(
        when(
            &given(&[]),
            Command::RaiseSignal(signal(Category::Minor, NOW)),
            NOW
        ),
        Err(ScreeningError::CaseNotFound)
    );
}

#[test]
fn signal_on_a_closed_case_is_case_closed() {
    assert_eq!(
        when(
            &given(&[opened(), closed(NOW)]),
            Command::RaiseSignal(signal(Category::Minor, NOW)),
            NOW
        ),
        Err(ScreeningError::CaseClosed)
    );
}

#[test]
fn signal_in_the_future_is_invalid() {
    assert_invalid(
        when(
            &given(&[opened()]),
            Command::RaiseSignal(signal(Category::Minor, NOW + Duration::NANOSECOND)),
            NOW,
        ),
        "raised_at",
    );
}

#[test]
fn signal_before_arrival_is_invalid() {
    assert_invalid(
        when(
            &given(&[opened()]),
            Command::RaiseSignal(signal(Category::Minor, ARRIVAL - Duration::NANOSECOND)),
            NOW,
        ),
        "raised_at",
    );
}

#[test]
fn gbv_disclosure_is_accepted_for_every_gender_based_category() {
    for category in [
        Category::Gbv,
        Category::Fgm,
        Category::ForcedMarriage,
        Category::HateViolence,
    ] {
        let raised = gbv_disclosure(category, NOW);
        assert_eq!(
            when(
                &given(&[opened()]),
                Command::RaiseSignal(raised.clone()),
                NOW
            ),
            Ok(vec![Event::VulnerabilitySignalRaised(raised)]),
            "{category}"
        );
    }
}

#[test]
fn gbv_disclosure_with_a_category_not_gender_based_is_invalid() {
    let not_gender_based: Vec<Category> = Category::ALL
        .iter()
        .copied()
        .filter(|c| !is_gender_based(*c))
        .collect();
    assert_eq!(not_gender_based.len(), Category::ALL.len() - 4);
    for category in not_gender_based {
        assert_invalid(
            when(
                &given(&[opened()]),
                Command::RaiseSignal(gbv_disclosure(category, NOW)),
                NOW,
            ),
            "suspected.category",
        );
        // The same signal without a disclosure is fine.
        assert!(
            when(
                &given(&[opened()]),
                Command::RaiseSignal(signal(category, NOW)),
                NOW
            )
            .is_ok(),
            "{category}"
        );
    }
}

#[test]
fn snapshot_of_a_gbv_disclosure() {
    let outcome = when(
        &given(&[opened()]),
        Command::RaiseSignal(gbv_disclosure(Category::Gbv, NOW)),
        NOW,
    );
    expect![[r#"
        VulnerabilitySignalRaised(
            Signal {
                suspected: Suspicion {
                    category: Gbv,
                    indicators: [
                        Code(
                            "visible_injury",
                        ),
                    ],
                },
                urgency: Immediate,
                raised_by_role: Code(
                    "social_worker",
                ),
                raised_by_organisation: "cas-agrigento",
                raised_at: 2026-03-04 12:00:00.0 +00:00:00,
                gbv_disclosure: true,
            },
        )"#]]
    .assert_eq(&render(outcome));
}
