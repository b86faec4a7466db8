//! `RecordTrainingSession`: by the facility or organisation itself, a
//! prefecture or a national body; counts, never names.

use crate::support::*;

#[test]
fn a_facility_records_its_own_session() {
    let ctx = context(operator(FACILITY), facility(FACILITY, "RM"));
    let events = decide(
        &State::default(),
        Command::RecordTrainingSession(session("s1", TrainingTopic::Gbv, date!(2026 - 06 - 01))),
        &ctx,
    )
    .expect("recorded");
    expect![[r#"
        [
            TrainingSessionRecorded(
                TrainingRecorded {
                    session: TrainingSession {
                        session_id: "s1",
                        topic: Gbv,
                        held_on: 2026-06-01,
                        participants: 12,
                        hours: 4,
                    },
                    recorded_by: "cas-roma-1",
                    recorded_at: 2026-06-15 10:00:00.0 +00:00:00,
                },
            ),
        ]
    "#]]
    .assert_debug_eq(&events);
}

#[test]
fn another_facility_or_organisation_may_not_record_it() {
    let s =
        Command::RecordTrainingSession(session("s1", TrainingTopic::Gbv, date!(2026 - 06 - 01)));
    let other = context(operator("cas-roma-2"), facility(FACILITY, "RM"));
    assert_eq!(
        decide(&State::default(), s.clone(), &other),
        Err(RecordError::NotTheirTraining)
    );
    let centre = context(
        Actor::ReceivingService {
            organisation_id: "differenza-donna".to_owned(),
        },
        RecordOf::Organisation {
            organisation_id: "be-free".to_owned(),
        },
    );
    assert_eq!(
        decide(&State::default(), s, &centre),
        Err(RecordError::NotTheirTraining)
    );
}

#[test]
fn a_session_in_the_future_without_participants_or_too_long_names_each_field() {
    let ctx = context(prefecture(), facility(FACILITY, "RM"));
    let mut bad = session("s1", TrainingTopic::Minors, date!(2026 - 06 - 16));
    bad.participants = 0;
    bad.hours = 201;
    expect![[r#"
        Err(
            Invalid(
                [
                    (
                        "held_on",
                        "is in the future",
                    ),
                    (
                        "participants",
                        "must be 1 to 1000",
                    ),
                    (
                        "hours",
                        "must be 1 to 200",
                    ),
                ],
            ),
        )
    "#]]
    .assert_debug_eq(&decide(
        &State::default(),
        Command::RecordTrainingSession(bad),
        &ctx,
    ));
}

#[test]
fn a_session_id_is_one_session() {
    let ctx = context(prefecture(), facility(FACILITY, "RM"));
    let s = session("s1", TrainingTopic::Gbv, date!(2026 - 06 - 01));
    let state = given(vec![Command::RecordTrainingSession(s.clone())], &ctx);
    assert_eq!(
        decide(&state, Command::RecordTrainingSession(s.clone()), &ctx),
        Ok(Vec::new())
    );
    let mut other = s;
    other.participants = 3;
    assert_eq!(
        decide(&state, Command::RecordTrainingSession(other), &ctx),
        Err(RecordError::SessionIdTaken)
    );
}
