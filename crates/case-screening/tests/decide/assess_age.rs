//! `AssessAge`: the competent authority's age assessment replaces the band.

use super::care::*;
use super::support::*;

#[test]
fn an_age_assessment_is_recorded_and_replaces_the_band() {
    let assessment = age_assessment(AgeBand::From14To15, NOW);
    let state = given(&[opened_as(AgeBand::Unknown)]);
    let events = when(&state, Command::AssessAge(assessment.clone()), NOW).expect("recorded");
    assert_eq!(events, vec![Event::AgeAssessed(assessment)]);
    assert_eq!(apply(state, &events).age_band(), AgeBand::From14To15);
}

#[test]
fn an_assessment_may_find_a_declared_minor_an_adult_and_confirm_a_band() {
    let state = given(&unaccompanied_minor());
    let adult = when(
        &state,
        Command::AssessAge(age_assessment(AgeBand::Adult, NOW)),
        NOW,
    )
    .expect("adult");
    assert!(!apply(state.clone(), &adult).is_minor());
    assert!(
        when(
            &state,
            Command::AssessAge(age_assessment(AgeBand::From16To17, NOW)),
            NOW
        )
        .is_ok(),
        "the same band, confirmed"
    );
}

#[test]
fn an_assessment_to_unknown_is_invalid() {
    assert_invalid(
        when(
            &given(&[opened()]),
            Command::AssessAge(age_assessment(AgeBand::Unknown, NOW)),
            NOW,
        ),
        "age_band",
    );
}

#[test]
fn an_assessment_before_arrival_or_in_the_future_is_invalid() {
    let state = given(&[opened()]);
    for at in [ARRIVAL - Duration::SECOND, NOW + Duration::SECOND] {
        assert_invalid(
            when(
                &state,
                Command::AssessAge(age_assessment(AgeBand::Adult, at)),
                NOW,
            ),
            "assessed_at",
        );
    }
}

#[test]
fn every_minors_and_follow_up_command_needs_an_open_case() {
    let commands = [
        Command::AssessAge(age_assessment(AgeBand::Adult, NOW)),
        Command::AppointGuardian(guardian(NOW)),
        Command::ScheduleFollowUp(schedule(NOW.date())),
        Command::RecordFollowUp(follow_up(None, FollowUpOutcome::Found, NOW)),
        Command::MarkFirstReceptionLimitExceeded,
        Command::MarkFollowUpMissed {
            follow_up_id: follow_up_id(FOLLOW_UP),
        },
        Command::MarkLostToFollowUp,
    ];
    let mut closed_minor = unaccompanied_minor();
    closed_minor.push(closed(NOW));
    for command in commands {
        assert_eq!(
            when(&given(&[]), command.clone(), NOW),
            Err(ScreeningError::CaseNotFound),
            "{command:?}"
        );
        assert_eq!(
            when(
                &given(&closed_minor),
                command.clone(),
                NOW + Duration::days(400)
            ),
            Err(ScreeningError::CaseClosed),
            "{command:?}"
        );
    }
}

#[test]
fn snapshot_of_an_age_assessment() {
    let outcome = when(
        &given(&[opened()]),
        Command::AssessAge(age_assessment(AgeBand::From16To17, NOW)),
        NOW,
    );
    expect![[r#"
        AgeAssessed(
            AgeAssessment {
                age_band: From16To17,
                assessed_by_organisation: "tribunale-minorenni-palermo",
                assessed_at: 2026-03-04 12:00:00.0 +00:00:00,
            },
        )"#]]
    .assert_eq(&render(outcome));
}
