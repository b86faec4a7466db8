//! `RefreshUrgency`: a waiting person's urgency follows their case's, and the
//! waiting list's order with it; only the watcher, only while waiting, each
//! refresh named once.

use super::support::*;

fn refresh(case_id: &str, urgency: Option<Urgency>) -> Command {
    Command::RefreshUrgency {
        case: case(case_id),
        urgency,
    }
}

fn waiting_three() -> Given {
    given()
        .space("space-a", shelter(1, 0))
        .request("case-0", single(), Urgency::High, T0)
        .request(
            "case-1",
            single(),
            Urgency::Standard,
            T0 + Duration::hours(1),
        )
        .request(
            "case-2",
            single(),
            Urgency::Standard,
            T0 + Duration::hours(2),
        )
        .request(
            "case-3",
            single(),
            Urgency::Standard,
            T0 + Duration::hours(3),
        )
}

#[test]
fn a_raised_urgency_moves_the_person_ahead_and_the_next_free_place_is_theirs() {
    let state = waiting_three();
    assert_eq!(state.waiting(), ["case-1", "case-2", "case-3"]);
    let events = when(
        &state,
        refresh("case-3", Some(Urgency::Immediate)),
        &system(NOW),
    );
    expect![[r#"
        UrgencyRefreshed {
            case: CaseId(
                "case-3",
            ),
            urgency: Some(
                Immediate,
            ),
            at: 2026-03-10 12:00:00.0 +00:00:00,
        }"#]]
    .assert_eq(&render(events));
    let state = state.run(refresh("case-3", Some(Urgency::Immediate)), &system(NOW));
    assert_eq!(state.waiting(), ["case-3", "case-1", "case-2"]);
    assert_eq!(state.state.position(&case("case-3")), Some(1));
    // The place held by case-0 frees: it goes to case-3.
    let state = state.run(
        Command::CancelRequest {
            case: case("case-0"),
        },
        &by(REQUESTER, NOW),
    );
    assert_eq!(
        state.standing("case-3").map(Standing::code),
        Some("reserved")
    );
    assert_eq!(state.waiting(), ["case-1", "case-2"]);
}

#[test]
fn only_the_watcher_refreshes_only_a_waiting_person_and_only_a_change() {
    let state = waiting_three();
    assert_eq!(
        when(
            &state,
            refresh("case-1", Some(Urgency::High)),
            &by(REQUESTER, NOW)
        ),
        Err(AllocationError::NotAllowedForActor)
    );
    assert_eq!(
        when(
            &state,
            refresh("case-1", Some(Urgency::Standard)),
            &system(NOW)
        ),
        Err(AllocationError::UrgencyUnchanged)
    );
    assert_eq!(
        when(
            &state,
            refresh("case-0", Some(Urgency::Immediate)),
            &system(NOW)
        ),
        Err(AllocationError::NotAllowedWhile("reserved"))
    );
    assert_eq!(
        when(
            &state,
            refresh("case-9", Some(Urgency::Immediate)),
            &system(NOW)
        ),
        Err(AllocationError::RequestNotFound)
    );
}

#[test]
fn the_watcher_lists_a_refresh_for_a_waiting_case_whose_urgency_differs_once_each() {
    let state = waiting_three();
    let none = BTreeMap::new();
    let urgencies: BTreeMap<_, _> = [
        (case("case-0"), Some(Urgency::Immediate)),
        (case("case-1"), Some(Urgency::Standard)),
        (case("case-2"), Some(Urgency::High)),
    ]
    .into_iter()
    .collect();
    let due = due(&state.state, NOW, &none, &urgencies);
    let ids: Vec<String> = due.iter().map(Due::request_id).collect();
    expect![[r#"
        [
            "urgency-refreshed.case-2.1773140400000000000.0",
        ]"#]]
    .assert_eq(&format!("{ids:#?}"));
    let state = state.run(due[0].command(), &system(NOW));
    assert_eq!(state.waiting(), ["case-2", "case-1", "case-3"]);
    assert_eq!(due_fn(&state, &urgencies), Vec::<Due>::new());
    // Lowered again by a later assessment: a second refresh, named apart.
    let lowered: BTreeMap<_, _> = [(case("case-2"), Some(Urgency::Standard))]
        .into_iter()
        .collect();
    let again = due_fn(&state, &lowered);
    expect!["urgency-refreshed.case-2.1773140400000000000.1"].assert_eq(&again[0].request_id());
}

fn due_fn(state: &Given, urgencies: &BTreeMap<CaseId, Option<Urgency>>) -> Vec<Due> {
    due(&state.state, NOW, &BTreeMap::new(), urgencies)
}
