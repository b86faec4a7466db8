//! `RecordIdentityRead`: the access log of identifying data, also on a closed case.

use super::support::*;

fn read() -> Command {
    Command::RecordIdentityRead {
        purpose: ReadPurpose::Safeguarding,
    }
}

#[test]
fn snapshot_of_a_read_on_a_closed_case() {
    let outcome = when(&given(&[opened(), closed(NOW)]), read(), NOW);
    expect![[r#"
        IdentityRead {
            purpose: Safeguarding,
            read_at: 2026-03-04 12:00:00.0 +00:00:00,
        }"#]]
    .assert_eq(&render(outcome));
}

#[test]
fn a_read_on_a_case_not_opened_is_case_not_found() {
    assert_eq!(
        when(&given(&[]), read(), NOW),
        Err(ScreeningError::CaseNotFound)
    );
}

#[test]
fn nothing_is_read_once_the_personal_data_is_erased() {
    let erased = Event::PersonalDataErased {
        reason: ErasureReason::RetentionExpired,
        erased_at: NOW,
    };
    assert_eq!(
        when(&given(&[opened(), erased]), read(), NOW),
        Err(ScreeningError::PersonalDataErased)
    );
}
