//! The monitoring projection consumes safely: event types outside its
//! allowlist, from any producer (a new event of another service, present or
//! future), are skipped and counted and never stop it, while the events it
//! knows in the same commits are applied; its rows hold no identity or free
//! text.

use case_log_jetstream::RecordedCommit;
use case_log_jetstream::contract::event_type;
use contracts::log::v1 as wire;
use contracts::screening::v1 as screening;
use monitoring::projection::{self, MonitoringProjection};
use projection_sled::ProjectionStore;
use prost::Message;
use time::macros::datetime;

fn event(event_type: String, payload: Vec<u8>, id: &str) -> wire::Event {
    wire::Event {
        event_id: id.to_owned(),
        event_type,
        schema_version: 1,
        payload,
    }
}

fn commit(
    sequence: u64,
    subject: &str,
    events: Vec<wire::Event>,
) -> (RecordedCommit, telemetry::TraceContext) {
    let at = datetime!(2026-06-20 10:00 UTC);
    (
        RecordedCommit {
            sequence,
            subject: subject.to_owned(),
            recorded_at: at,
            commit: wire::Commit {
                commit_id: format!("commit-{sequence}"),
                occurred_at: Some(case_log_jetstream::envelope::timestamp(at)),
                events,
                ..Default::default()
            },
        },
        telemetry::TraceContext::default(),
    )
}

#[test]
fn unknown_event_types_of_any_producer_are_skipped_and_counted_and_known_ones_applied() {
    let dir = tempfile::tempdir().expect("dir");
    let store = ProjectionStore::open(dir.path()).expect("store");
    let opened = screening::CaseOpened {
        case_id: "case-1".to_owned(),
        province: "AG".to_owned(),
        facility_id: "hotspot-lampedusa".to_owned(),
        facility_kind: "hotspot".to_owned(),
        age_band: "18+".to_owned(),
        ..Default::default()
    };
    let check = screening::PreliminaryCheckRecorded {
        suspected: vec![screening::SuspectedCategory {
            category: "GBV".to_owned(),
            ..Default::default()
        }],
        urgency: "high".to_owned(),
        ..Default::default()
    };
    let commits = vec![
        commit(
            1,
            "approdo.case.case-1.screening",
            vec![event(
                event_type::<screening::CaseOpened>(),
                opened.encode_to_vec(),
                "e1",
            )],
        ),
        commit(
            2,
            "approdo.case.case-1.screening",
            vec![
                event(
                    "approdo.screening.v1.SomethingScreeningAddsLater".to_owned(),
                    vec![1, 2, 3],
                    "e2",
                ),
                event(
                    event_type::<screening::PreliminaryCheckRecorded>(),
                    check.encode_to_vec(),
                    "e3",
                ),
            ],
        ),
        commit(
            3,
            "approdo.configuration.allocator-ag-gbv-shelter.safe-space",
            vec![event(
                "approdo.safe_space.v1.PlaceOffered".to_owned(),
                vec![0xff],
                "e4",
            )],
        ),
        commit(
            4,
            "approdo.case.case-1.referral",
            vec![event(
                "approdo.referral.v1.ReferralReminderSent".to_owned(),
                Vec::new(),
                "e5",
            )],
        ),
    ];
    let position = store
        .apply_batch(&MonitoringProjection, &commits)
        .expect("applied, never stopped");
    assert_eq!(position, 4);
    assert_eq!(
        store.parked_count().expect("parked"),
        0,
        "skipped, not parked"
    );
    let skipped = projection::skipped(&store).expect("skipped");
    assert_eq!(
        skipped,
        vec![
            ("approdo.referral.v1.ReferralReminderSent".to_owned(), 1),
            ("approdo.safe_space.v1.PlaceOffered".to_owned(), 1),
            (
                "approdo.screening.v1.SomethingScreeningAddsLater".to_owned(),
                1
            ),
        ]
    );
    let cases = projection::cases(&store).expect("cases");
    assert_eq!(cases.len(), 1);
    let (case, pathway) = &cases[0];
    assert_eq!(case, "case-1");
    assert!(
        pathway.check_at.is_some(),
        "the known event beside an unknown one is applied"
    );
    assert_eq!(pathway.province(), "AG");
    assert!(
        projection::allowlist()
            .iter()
            .all(|t| t.starts_with("approdo."))
    );
}

#[test]
fn an_allowed_event_that_does_not_decode_is_parked_not_a_failure() {
    let dir = tempfile::tempdir().expect("dir");
    let store = ProjectionStore::open(dir.path()).expect("store");
    let commits = vec![commit(
        1,
        "approdo.case.case-2.referral",
        vec![event(
            event_type::<contracts::referral::v1::ReferralSent>(),
            vec![0xff, 0xff, 0xff],
            "e1",
        )],
    )];
    assert_eq!(
        store
            .apply_batch(&MonitoringProjection, &commits)
            .expect("applied"),
        1
    );
    assert_eq!(store.parked_count().expect("parked"), 1);
}
