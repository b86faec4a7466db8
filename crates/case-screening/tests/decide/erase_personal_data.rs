//! `ErasePersonalData`: the erasure of the person's data, also on a closed case.

use super::support::*;

fn erase() -> Command {
    Command::ErasePersonalData {
        reason: ErasureReason::PersonRequest,
    }
}

#[test]
fn snapshot_of_an_erasure_on_a_closed_case() {
    let outcome = when(&given(&[opened(), closed(NOW)]), erase(), NOW);
    expect![[r#"
        PersonalDataErased {
            reason: PersonRequest,
            erased_at: 2026-03-04 12:00:00.0 +00:00:00,
        }"#]]
    .assert_eq(&render(outcome));
}

#[test]
fn erasure_on_a_case_not_opened_is_case_not_found() {
    assert_eq!(
        when(&given(&[]), erase(), NOW),
        Err(ScreeningError::CaseNotFound)
    );
}

#[test]
fn erasing_twice_is_refused() {
    let state = given(&[opened()]);
    let events = when(&state, erase(), NOW).expect("first erasure");
    assert_eq!(
        when(&apply(state, &events), erase(), NOW),
        Err(ScreeningError::PersonalDataErased)
    );
}
