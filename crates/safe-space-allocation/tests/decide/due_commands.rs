//! `due_commands`: what the watcher must do on an allocator, with request ids
//! that name each thing once.

use super::support::*;

#[test]
fn holds_passed_are_expired_and_ended_cases_released_each_once() {
    let state = given()
        .space("space-a", shelter(2, 0))
        .request("case-1", single(), Urgency::High, T0)
        .request("case-2", single(), Urgency::High, T0 + Duration::hours(2))
        .request("case-3", single(), Urgency::High, T0 + Duration::hours(3));
    let none = BTreeMap::new();
    assert_eq!(
        due_commands(&state.state, T0 + Duration::hours(23), &none),
        []
    );
    let due = due_commands(&state.state, T0 + Duration::hours(24), &none);
    assert_eq!(
        due,
        [Due::ExpireHold {
            case: case("case-1"),
            reserved_at: T0
        }]
    );
    expect!["hold-expired.case-1.1773133200000000000"].assert_eq(&due[0].request_id());
    let ended: BTreeMap<_, _> = [
        (case("case-1"), ReleaseReason::CaseClosed),
        (case("case-3"), ReleaseReason::ReferralRevoked),
        (case("case-9"), ReleaseReason::Erasure),
    ]
    .into_iter()
    .collect();
    let due = due_commands(&state.state, T0 + Duration::hours(48), &ended);
    let ids: Vec<String> = due.iter().map(Due::request_id).collect();
    expect![[r#"
        [
            "release.case_closed.case-1.1773133200000000000",
            "hold-expired.case-2.1773140400000000000",
            "release.referral_revoked.case-3.1773144000000000000",
        ]"#]]
    .assert_eq(&format!("{ids:#?}"));
    // Each is accepted; afterwards nothing is due.
    let mut after = state;
    for due in &due {
        after = after.run(due.command(), &system(T0 + Duration::hours(48)));
    }
    assert_eq!(
        due_commands(&after.state, T0 + Duration::hours(48), &ended),
        []
    );
}
