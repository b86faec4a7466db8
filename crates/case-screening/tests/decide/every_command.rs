//! Refusals every command but `Open` shares: no case yet, or a closed one.

use super::support::*;

#[test]
fn every_command_but_open_on_a_case_not_opened_is_case_not_found() {
    for command in every_command().into_iter().skip(1) {
        assert_eq!(
            when(&given(&[]), command.clone(), NOW + Duration::days(60)),
            Err(ScreeningError::CaseNotFound),
            "{command:?}"
        );
    }
}

#[test]
fn every_command_but_open_on_a_closed_case_is_case_closed() {
    // Overdue and unmet deadlines, so that only the closure can refuse the deadline commands.
    let state = given(&[opened_with_application(APPLIED_ON), closed(NOW)]);
    let later = NOW + Duration::days(60);
    for command in every_command().into_iter().skip(1) {
        assert_eq!(
            when(&state, command.clone(), later),
            Err(ScreeningError::CaseClosed),
            "{command:?}"
        );
    }
}
