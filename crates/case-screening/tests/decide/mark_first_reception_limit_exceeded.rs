//! `MarkFirstReceptionLimitExceeded`: an unaccompanied minor still in first
//! reception (hotspot, CPA, CAS) when 45 days from the day they entered have
//! ended in Rome; marked once per stay.

use super::care::*;
use super::support::*;

fn exceeded(facility: &str, entered_on: Date, due_at: OffsetDateTime, at: OffsetDateTime) -> Event {
    Event::FirstReceptionLimitExceeded {
        facility_id: super::support::facility(facility),
        entered_on,
        due_at,
        detected_at: at,
    }
}

#[test]
fn the_limit_ends_with_the_45th_day_after_entering_in_rome() {
    let state = given(&unaccompanied_minor());
    assert_eq!(state.minor.first_reception.entered_on, Some(ENTERED_ON));
    assert_eq!(
        state.minor.first_reception.limit_ends_at(),
        Some(FIRST_RECEPTION_LIMIT)
    );
    assert_eq!(
        when(
            &state,
            Command::MarkFirstReceptionLimitExceeded,
            FIRST_RECEPTION_LIMIT - Duration::NANOSECOND
        ),
        Err(ScreeningError::DeadlineNotMissed)
    );
    assert_eq!(
        when(
            &state,
            Command::MarkFirstReceptionLimitExceeded,
            FIRST_RECEPTION_LIMIT
        ),
        Ok(vec![exceeded(
            FIRST_FACILITY,
            ENTERED_ON,
            FIRST_RECEPTION_LIMIT,
            FIRST_RECEPTION_LIMIT
        )])
    );
}

#[test]
fn the_limit_is_marked_once_per_stay() {
    let mut state = given(&unaccompanied_minor());
    let events = when(
        &state,
        Command::MarkFirstReceptionLimitExceeded,
        FIRST_RECEPTION_LIMIT,
    )
    .expect("exceeded");
    state = apply(state, &events);
    assert_eq!(
        when(
            &state,
            Command::MarkFirstReceptionLimitExceeded,
            FIRST_RECEPTION_LIMIT + Duration::days(30)
        ),
        Err(ScreeningError::DeadlineNotMissed)
    );
    assert_eq!(
        care_deadlines(&state, FIRST_RECEPTION_LIMIT + Duration::days(30))
            .into_iter()
            .filter(|c| *c == Command::MarkFirstReceptionLimitExceeded)
            .count(),
        0
    );
}

#[test]
fn adults_accompanied_minors_and_people_out_of_first_reception_have_no_limit() {
    let later = FIRST_RECEPTION_LIMIT + Duration::days(10);
    let accompanied = vec![opened_as(AgeBand::From6To13), suspected(Category::Minor)];
    // Declared an adult, and the suspicion of minority ruled out.
    let adult = vec![
        opened_as(AgeBand::Adult),
        suspected(Category::UnaccompaniedMinor),
        assessed_early(&[(Category::UnaccompaniedMinor, Outcome::RuledOut)]),
    ];
    let mut in_sai = unaccompanied_minor();
    in_sai.push(Event::CasePlaced(placed_in(
        "sai-roma-3",
        FacilityKind::Sai,
        NOW,
    )));
    let mut assessed_adult = unaccompanied_minor();
    assessed_adult.push(Event::AgeAssessed(age_assessment(AgeBand::Adult, NOW)));
    let opened_before_kinds = vec![
        opened_in(None, AgeBand::From16To17),
        suspected(Category::UnaccompaniedMinor),
    ];
    for events in [
        accompanied,
        adult,
        in_sai,
        assessed_adult,
        opened_before_kinds,
    ] {
        assert_eq!(
            when(
                &given(&events),
                Command::MarkFirstReceptionLimitExceeded,
                later
            ),
            Err(ScreeningError::DeadlineNotMissed),
            "{events:?}"
        );
    }
}

#[test]
fn a_move_between_first_reception_facilities_continues_the_stay() {
    let mut events = unaccompanied_minor();
    events.push(Event::CasePlaced(placed_in(
        "cas-agrigento-1",
        FacilityKind::Cas,
        NOW,
    )));
    let state = given(&events);
    assert_eq!(state.minor.first_reception.entered_on, Some(ENTERED_ON));
    assert_eq!(
        when(
            &state,
            Command::MarkFirstReceptionLimitExceeded,
            FIRST_RECEPTION_LIMIT
        ),
        Ok(vec![exceeded(
            "cas-agrigento-1",
            ENTERED_ON,
            FIRST_RECEPTION_LIMIT,
            FIRST_RECEPTION_LIMIT
        )])
    );
}

#[test]
fn a_new_stay_has_its_own_limit_from_the_day_of_the_placement() {
    let mut events = unaccompanied_minor();
    events.push(Event::CasePlaced(placed_in(
        "sai-roma-3",
        FacilityKind::Sai,
        NOW,
    )));
    // Back in a CAS on 1 May (a day in summer time, in Rome).
    let back = datetime!(2026-05-01 10:00 UTC);
    events.push(Event::CasePlaced(placed_in(
        "cas-agrigento-1",
        FacilityKind::Cas,
        back,
    )));
    let state = given(&events);
    assert_eq!(state.minor.first_reception.stays, 2);
    let due = datetime!(2026-06-15 22:00 UTC);
    assert_eq!(state.minor.first_reception.limit_ends_at(), Some(due));
    assert_eq!(
        when(
            &state,
            Command::MarkFirstReceptionLimitExceeded,
            due - Duration::NANOSECOND
        ),
        Err(ScreeningError::DeadlineNotMissed)
    );
    assert_eq!(
        when(&state, Command::MarkFirstReceptionLimitExceeded, due),
        Ok(vec![exceeded(
            "cas-agrigento-1",
            date!(2026 - 05 - 01),
            due,
            due
        )])
    );
}

#[test]
fn a_presumed_unaccompanied_minor_has_the_limit_too() {
    let state = given(&[
        opened_as(AgeBand::Unknown),
        suspected(Category::UnaccompaniedMinor),
    ]);
    assert!(
        when(
            &state,
            Command::MarkFirstReceptionLimitExceeded,
            FIRST_RECEPTION_LIMIT
        )
        .is_ok()
    );
}

#[test]
fn leaving_first_reception_after_the_limit_records_it_with_the_move() {
    let state = given(&unaccompanied_minor());
    let left_at = FIRST_RECEPTION_LIMIT + Duration::days(2);
    let moved = placed_in("sai-roma-3", FacilityKind::Sai, left_at);
    assert_eq!(
        when(&state, Command::Place(moved.clone()), left_at),
        Ok(vec![
            exceeded(FIRST_FACILITY, ENTERED_ON, FIRST_RECEPTION_LIMIT, left_at),
            Event::CasePlaced(moved),
        ])
    );
    // Left on the 45th day: within the limit, nothing to record.
    let in_time = placed_in(
        "sai-roma-3",
        FacilityKind::Sai,
        FIRST_RECEPTION_LIMIT - Duration::HOUR,
    );
    assert_eq!(
        when(&state, Command::Place(in_time.clone()), left_at),
        Ok(vec![Event::CasePlaced(in_time)])
    );
    // Closed after the limit: recorded with the closure.
    assert_eq!(
        when(
            &state,
            Command::Close {
                reason: CloseReason::LeftReception,
                closed_at: left_at
            },
            left_at
        ),
        Ok(vec![
            exceeded(FIRST_FACILITY, ENTERED_ON, FIRST_RECEPTION_LIMIT, left_at),
            closed(left_at),
        ])
    );
}

#[test]
fn missed_deadlines_lists_the_limit_when_it_has_passed() {
    let state = given(&unaccompanied_minor());
    assert!(
        !care_deadlines(&state, FIRST_RECEPTION_LIMIT - Duration::NANOSECOND)
            .contains(&Command::MarkFirstReceptionLimitExceeded)
    );
    assert!(
        care_deadlines(&state, FIRST_RECEPTION_LIMIT)
            .contains(&Command::MarkFirstReceptionLimitExceeded)
    );
}

#[test]
fn snapshot_of_the_first_reception_limit_exceeded() {
    let outcome = when(
        &given(&unaccompanied_minor()),
        Command::MarkFirstReceptionLimitExceeded,
        FIRST_RECEPTION_LIMIT + Duration::HOUR,
    );
    expect![[r#"
        FirstReceptionLimitExceeded {
            facility_id: FacilityId(
                "hotspot-lampedusa",
            ),
            entered_on: 2026-03-02,
            due_at: 2026-04-17 0:00:00.0 +02:00:00,
            detected_at: 2026-04-16 23:00:00.0 +00:00:00,
        }"#]]
    .assert_eq(&render(outcome));
}
