//! `Close`: the end of the case.

use super::support::*;

#[test]
fn close_is_recorded() {
    let events = when(
        &given(&[opened()]),
        Command::Close {
            reason: CloseReason::ProtectionGranted,
            closed_at: NOW,
        },
        NOW,
    )
    .expect("accepted");
    assert_eq!(
        events,
        vec![Event::CaseClosed {
            reason: CloseReason::ProtectionGranted,
            closed_at: NOW,
        }]
    );
    assert!(apply(given(&[opened()]), &events).closed);
}

#[test]
fn close_at_arrival_is_accepted() {
    assert_eq!(
        when(
            &given(&[opened()]),
            Command::Close {
                reason: CloseReason::Duplicate,
                closed_at: ARRIVAL,
            },
            NOW,
        ),
        Ok(vec![Event::CaseClosed {
            reason: CloseReason::Duplicate,
            closed_at: ARRIVAL,
        }])
    );
}

#[test]
fn close_on_a_case_not_opened_is_case_not_found() {
    assert_eq!(
        when(
            &given(&[]),
            Command::Close {
                reason: CloseReason::Other,
                closed_at: NOW
            },
            NOW
        ),
        Err(ScreeningError::CaseNotFound)
    );
}

#[test]
fn close_twice_is_case_closed() {
    assert_eq!(
        when(
            &given(&[opened(), closed(NOW)]),
            Command::Close {
                reason: CloseReason::Other,
                closed_at: NOW
            },
            NOW
        ),
        Err(ScreeningError::CaseClosed)
    );
}

#[test]
fn close_in_the_future_is_invalid() {
    assert_invalid(
        when(
            &given(&[opened()]),
            Command::Close {
                reason: CloseReason::Other,
                closed_at: NOW + Duration::NANOSECOND,
            },
            NOW,
        ),
        "closed_at",
    );
}

#[test]
fn close_before_arrival_is_invalid() {
    assert_invalid(
        when(
            &given(&[opened()]),
            Command::Close {
                reason: CloseReason::Other,
                closed_at: ARRIVAL - Duration::NANOSECOND,
            },
            NOW,
        ),
        "closed_at",
    );
}

#[test]
fn snapshot_of_a_closing() {
    let outcome = when(
        &given(&[opened()]),
        Command::Close {
            reason: CloseReason::LeftReception,
            closed_at: NOW,
        },
        NOW,
    );
    expect![[r#"
        CaseClosed {
            reason: LeftReception,
            closed_at: 2026-03-04 12:00:00.0 +00:00:00,
        }"#]]
    .assert_eq(&render(outcome));
}
