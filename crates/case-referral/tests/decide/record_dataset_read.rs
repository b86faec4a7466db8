//! `RecordDatasetRead`: every organisation's read of a referral's dataset is recorded.

use super::support::*;

#[test]
fn every_organisations_read_of_a_dataset_is_recorded_and_the_system_never_reads() {
    let state = given(&referral_in(ReferralState::Sent));
    let read = Command::RecordDatasetRead {
        referral_ids: vec![rid(REFERRAL)],
    };
    for reader in [RECEIVER, REFERRER, THIRD] {
        assert!(matches!(
            when(&state, read.clone(), &by(reader, NOW)).as_deref(),
            Ok([Event::DatasetRead { .. }])
        ));
    }
    assert_eq!(
        when(&state, read, &system(NOW)),
        Err(ReferralError::NotAllowedForActor)
    );
    assert_eq!(
        when(
            &state,
            Command::RecordDatasetRead {
                referral_ids: vec![rid("a2f5c6e0-0000-4000-8000-000000000099")],
            },
            &by(RECEIVER, NOW)
        ),
        Err(ReferralError::ReferralNotFound)
    );
    let none = Command::RecordDatasetRead {
        referral_ids: vec![],
    };
    assert!(matches!(
        when(&state, none, &by(RECEIVER, NOW)),
        Err(ReferralError::Invalid { .. })
    ));
}

#[test]
fn snapshot_of_a_read_by_the_receiver() {
    let outcome = when(
        &given(&referral_in(ReferralState::Accepted)),
        Command::RecordDatasetRead {
            referral_ids: vec![rid(REFERRAL)],
        },
        &by(RECEIVER, NOW),
    );
    expect![[r#"
        DatasetRead {
            referral_ids: [
                ReferralId(
                    "ref-1",
                ),
            ],
            read_at: 2026-03-10 12:00:00.0 +00:00:00,
        }"#]]
    .assert_eq(&render(outcome));
}
