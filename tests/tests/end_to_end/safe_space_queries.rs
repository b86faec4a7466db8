//! The safe-space service's choices and queries end to end, in process over
//! gRPC against a real nats-server, with the injected clock: places to avoid
//! (sealed in the log, respected by matching, their key destroyed at
//! erasure), `Reserve` (another proposed space, passing no one waiting),
//! what `RequestPlace` answers (the reason, the proposals, the position),
//! a case's position for its jurisdiction, a waiting person's urgency rising
//! with their case, and `WatchAvailability` (a snapshot, then each change
//! once, resumable), all checked from the log where it matters.

use std::time::Duration;

use contracts::safe_space::v1 as api;
use contracts::screening::v1 as screening_api;
use tonic::Code;

use crate::privacy::files_containing;
use crate::safe_space::{
    NOW, SHELTER, allocator_history, client, events, open_cases, operator, place_request, profile,
    register,
};
use crate::support::{Caller, Service, System, eventually, ts};

/// A second shelter's managing organisation.
const OTHER: &str = "casa-rifugio-ag";
/// An organisation id a person must avoid, seeded to be found nowhere in clear.
const SEEDED_AVOID: &str = "casa-del-maltrattante-7f3q";

fn prefecture() -> Caller {
    Caller::prefecture("prefettura-ag", "AG")
}

fn here() -> Option<api::AllocatorRef> {
    Some(api::AllocatorRef {
        province: "AG".to_owned(),
        kind: "trafficking_shelter".to_owned(),
    })
}

/// A space of `OTHER` with `beds` beds.
async fn register_other(system: &System, request_id: &str, beds: u32) -> String {
    let mut other = profile(beds, false);
    other.organisation_id = OTHER.to_owned();
    client(
        system.channel(Service::SafeSpace).await,
        &Caller::receiver(OTHER, Some("AG")),
    )
    .register_safe_space(api::RegisterSafeSpaceRequest {
        request_id: request_id.to_owned(),
        profile: Some(other),
        ..Default::default()
    })
    .await
    .expect("registered")
    .into_inner()
    .space_id
}

async fn request_avoiding(
    system: &System,
    request_id: &str,
    case_id: &str,
    spaces: &[&str],
    organisations: &[&str],
) -> Result<api::RequestPlaceResponse, tonic::Status> {
    client(system.channel(Service::SafeSpace).await, &operator())
        .request_place(api::RequestPlaceRequest {
            avoid_space_ids: spaces.iter().map(|s| (*s).to_owned()).collect(),
            avoid_organisation_ids: organisations.iter().map(|s| (*s).to_owned()).collect(),
            ..place_request(request_id, case_id, api::Needs::default())
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn places_of(system: &System, case_id: &str) -> Vec<api::CasePlace> {
    client(system.channel(Service::SafeSpace).await, &operator())
        .get_case_places(api::GetCasePlacesRequest {
            case_id: case_id.to_owned(),
        })
        .await
        .expect("case places")
        .into_inner()
        .places
}

/// What the needs key store holds for a case: `Some(true)` a key,
/// `Some(false)` a tombstone, `None` nothing.
async fn needs_key(system: &System, case_id: &str) -> Option<bool> {
    let log = system.log().await;
    let stream = log
        .jetstream()
        .get_stream("APPRODO_NEEDS_KEYS")
        .await
        .ok()?;
    stream
        .get_last_raw_message_by_subject(&format!("approdo-needs-keys.{case_id}"))
        .await
        .ok()
        .map(|message| !message.payload.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn places_to_avoid_are_sealed_respected_and_their_key_destroyed_at_erasure() {
    let system = System::start_at(NOW, &[Service::Screening, Service::SafeSpace]).await;
    let mine = register(&system, "avoid-mine", profile(1, false)).await;
    let other = register_other(&system, "avoid-other", 1).await;
    let cases = open_cases(&system, "avoid", 2).await;

    // Bad ids are refused naming the field, and nothing is appended.
    let refused = request_avoiding(&system, "avoid-bad", &cases[0], &["NOT A SPACE"], &["x y"])
        .await
        .expect_err("bad ids");
    assert_eq!(refused.code(), Code::InvalidArgument);
    for field in ["avoid_space_ids[0]", "avoid_organisation_ids[0]"] {
        assert!(refused.message().contains(field), "{}", refused.message());
    }

    // Refused outside the case's jurisdiction: no key is created for it.
    let outsider = client(
        system.channel(Service::SafeSpace).await,
        &Caller::operator("cas-agrigento-2", "AG"),
    )
    .request_place(api::RequestPlaceRequest {
        avoid_organisation_ids: vec![SEEDED_AVOID.to_owned()],
        ..place_request("avoid-outsider", &cases[0], api::Needs::default())
    })
    .await
    .expect_err("not its case");
    assert_eq!(outsider.code(), Code::PermissionDenied);
    assert_eq!(needs_key(&system, &cases[0]).await, None);

    // The first avoids the shelter `mine`: it gets `other` although `mine` is free.
    let first = request_avoiding(&system, "avoid-0", &cases[0], &[&mine], &[SEEDED_AVOID])
        .await
        .expect("requested");
    assert_eq!(
        (first.standing.as_str(), first.space_id.as_str()),
        ("reserved", other.as_str())
    );
    assert_eq!(first.reason, "place_free");
    assert_eq!(
        first.proposals,
        std::slice::from_ref(&other),
        "never the avoided space"
    );

    // The second avoids SHELTER, which manages `mine`: it waits, `mine` free.
    let second = request_avoiding(&system, "avoid-1", &cases[1], &[], &[SHELTER])
        .await
        .expect("requested");
    assert_eq!((second.standing.as_str(), second.position), ("waiting", 1));
    let chosen = client(system.channel(Service::SafeSpace).await, &operator())
        .reserve(api::ReserveRequest {
            request_id: "avoid-choose".to_owned(),
            case_id: cases[1].clone(),
            allocator: here(),
            space_id: mine.clone(),
        })
        .await
        .expect_err("an avoided space is never reserved");
    assert_eq!(chosen.code(), Code::FailedPrecondition);

    // `other` frees: it goes to the second, never `mine`.
    client(system.channel(Service::SafeSpace).await, &operator())
        .cancel_place_request(api::CancelPlaceRequestRequest {
            request_id: "avoid-cancel".to_owned(),
            case_id: cases[0].clone(),
            allocator: here(),
        })
        .await
        .expect("cancelled");
    let place = places_of(&system, &cases[1]).await;
    assert_eq!(
        (place[0].standing.as_str(), place[0].space_id.as_str()),
        ("reserved", other.as_str())
    );

    // Sealed: the seeded id is in no store file of the NATS server and no
    // projection file; the requests carry a sealed list.
    let log = system.log().await;
    let history = allocator_history(&log).await;
    let requested = events::<api::PlaceRequested>(&history);
    assert!(requested.iter().all(|r| r.sealed_avoid.is_some()));
    let store = system.nats().store_dir();
    for dir in [store.as_path(), system.data_dir()] {
        let found = files_containing(dir, SEEDED_AVOID.as_bytes());
        assert!(found.is_empty(), "an avoided id in clear in {found:?}");
    }
    assert!(
        !files_containing(&store, cases[0].as_bytes()).is_empty(),
        "control: the scan reads the log's store files"
    );
    assert_eq!(needs_key(&system, &cases[1]).await, Some(true));

    // Erasure: the watcher releases the place and destroys the case's needs
    // key, recorded once; the other case's key stays.
    system
        .screening(&prefecture())
        .await
        .erase_case(screening_api::EraseCaseRequest {
            request_id: "avoid-erase".to_owned(),
            case_id: cases[1].clone(),
            reason: "person_request".to_owned(),
        })
        .await
        .expect("erased");
    system.advance(time::Duration::seconds(1));
    system
        .deadlines_checked(Service::SafeSpace, system.now())
        .await;
    eventually(
        "the watcher forgets the erased case's places to avoid",
        || async { !events::<api::AvoidListDestroyed>(&allocator_history(&log).await).is_empty() },
    )
    .await;
    let history = allocator_history(&log).await;
    let destroyed = events::<api::AvoidListDestroyed>(&history);
    assert_eq!(destroyed.len(), 1);
    assert_eq!(destroyed[0].case_id, cases[1]);
    assert!(
        events::<api::PlaceReleased>(&history)
            .iter()
            .any(|r| r.case_id == cases[1] && r.reason == "erasure")
    );
    assert_eq!(
        needs_key(&system, &cases[1]).await,
        Some(false),
        "a tombstone"
    );
    assert_eq!(needs_key(&system, &cases[0]).await, Some(true));
    // The allocator still folds (the list is unreadable, on purpose), once.
    system.advance(time::Duration::minutes(1));
    system
        .deadlines_checked(Service::SafeSpace, system.now())
        .await;
    assert_eq!(allocator_history(&log).await.len(), history.len());
    let occupancy = client(system.channel(Service::SafeSpace).await, &prefecture())
        .list_occupancy(api::ListOccupancyRequest { allocator: here() })
        .await
        .expect("occupancy")
        .into_inner();
    assert_eq!(occupancy.spaces.len(), 2);
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reservation_moves_to_another_proposed_space_passing_no_one_waiting() {
    let system = System::start_at(NOW, &[Service::Screening, Service::SafeSpace]).await;
    let mine = register(&system, "move-mine", profile(1, false)).await;
    let other = register_other(&system, "move-other", 1).await;
    let cases = open_cases(&system, "move", 3).await;
    let first = request_avoiding(&system, "move-0", &cases[0], &[], &[])
        .await
        .expect("requested");
    assert_eq!(first.standing, "reserved");
    let held = first.space_id.clone();
    let free = if held == mine {
        other.clone()
    } else {
        mine.clone()
    };
    let free_manager = if free == mine { SHELTER } else { OTHER };
    assert_eq!(first.proposals, [held.clone(), free.clone()]);
    // The second may go only where the first is: it waits.
    let second = request_avoiding(&system, "move-1", &cases[1], &[], &[free_manager])
        .await
        .expect("requested");
    assert_eq!(second.standing, "waiting");

    // An operator of another facility may not choose for the case.
    let outsider = client(
        system.channel(Service::SafeSpace).await,
        &Caller::operator("cas-agrigento-2", "AG"),
    )
    .reserve(api::ReserveRequest {
        request_id: "move-outsider".to_owned(),
        case_id: cases[0].clone(),
        allocator: here(),
        space_id: free.clone(),
    })
    .await
    .expect_err("not its case");
    assert_eq!(outsider.code(), Code::PermissionDenied);

    // The province's prefecture answers for the case: it moves the first to
    // the free space; the place left goes to the second, saying why.
    let moved = client(system.channel(Service::SafeSpace).await, &prefecture())
        .reserve(api::ReserveRequest {
            request_id: "move-choose".to_owned(),
            case_id: cases[0].clone(),
            allocator: here(),
            space_id: free.clone(),
        })
        .await
        .expect("chosen")
        .into_inner();
    assert_eq!(
        (moved.space_id.as_str(), moved.reason.as_str()),
        (free.as_str(), "chosen")
    );
    let log = system.log().await;
    let reservations = events::<api::PlaceReserved>(&allocator_history(&log).await);
    let last: Vec<(&str, &str, &str)> = reservations
        .iter()
        .rev()
        .take(2)
        .map(|r| (r.case_id.as_str(), r.space_id.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(
        last,
        [
            (cases[1].as_str(), held.as_str(), "reservation_moved"),
            (cases[0].as_str(), free.as_str(), "chosen"),
        ]
    );
    // Everything is held: a third waits and may not choose a held space.
    let third = request_avoiding(&system, "move-2", &cases[2], &[], &[])
        .await
        .expect("requested");
    assert_eq!((third.standing.as_str(), third.position), ("waiting", 1));
    let refused = client(system.channel(Service::SafeSpace).await, &operator())
        .reserve(api::ReserveRequest {
            request_id: "move-third".to_owned(),
            case_id: cases[2].clone(),
            allocator: here(),
            space_id: held.clone(),
        })
        .await
        .expect_err("no place free");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cases_position_is_its_jurisdictions_and_the_whole_list_the_prefectures() {
    let system = System::start_at(NOW, &[Service::Screening, Service::SafeSpace]).await;
    register(&system, "position-bed", profile(1, false)).await;
    let cases = open_cases(&system, "position", 3).await;
    let mut answers = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        answers.push(
            request_avoiding(&system, &format!("position-{i}"), case, &[], &[])
                .await
                .expect("requested"),
        );
    }
    assert_eq!(answers[0].reason, "place_free");
    assert_eq!(
        answers
            .iter()
            .map(|a| (a.standing.as_str(), a.position))
            .collect::<Vec<_>>(),
        [("reserved", 0), ("waiting", 1), ("waiting", 2)]
    );
    assert!(answers[1].reason.is_empty() && answers[1].proposals.is_empty());
    let position = client(system.channel(Service::SafeSpace).await, &operator())
        .get_waiting_position(api::GetWaitingPositionRequest {
            case_id: cases[2].clone(),
        })
        .await
        .expect("the case's operator")
        .into_inner();
    assert_eq!(position.positions.len(), 1);
    assert_eq!(
        (
            position.positions[0].position,
            position.positions[0].waiting
        ),
        (2, 2)
    );
    let elsewhere = client(
        system.channel(Service::SafeSpace).await,
        &Caller::operator("cas-agrigento-2", "AG"),
    )
    .get_waiting_position(api::GetWaitingPositionRequest {
        case_id: cases[2].clone(),
    })
    .await
    .expect_err("not its case");
    assert_eq!(elsewhere.code(), Code::PermissionDenied);
    let list = client(system.channel(Service::SafeSpace).await, &operator())
        .get_waiting_list(api::GetWaitingListRequest { allocator: here() })
        .await
        .expect_err("the whole list is not an operator's");
    assert_eq!(list.code(), Code::PermissionDenied);
    let list = client(system.channel(Service::SafeSpace).await, &prefecture())
        .get_waiting_list(api::GetWaitingListRequest { allocator: here() })
        .await
        .expect("the prefecture's")
        .into_inner();
    assert_eq!(list.waiting.len(), 2);
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raised_urgency_moves_a_waiting_person_ahead_and_the_next_place_is_theirs() {
    let system = System::start_at(NOW, &[Service::Screening, Service::SafeSpace]).await;
    register(&system, "urgency-bed", profile(1, false)).await;
    let cases = open_cases(&system, "urgency", 3).await;
    for (i, case) in cases.iter().enumerate() {
        request_avoiding(&system, &format!("urgency-{i}"), case, &[], &[])
            .await
            .expect("requested");
    }
    // Screening raises the last one's urgency.
    system
        .screening(&operator())
        .await
        .record_preliminary_check(screening_api::RecordPreliminaryCheckRequest {
            request_id: "urgency-check".to_owned(),
            case_id: cases[2].clone(),
            suspected: vec![screening_api::SuspectedCategory {
                category: "GBV".to_owned(),
                ..Default::default()
            }],
            urgency: "high".to_owned(),
            place: "LAMPEDUSA".to_owned(),
            checked_at: ts(NOW),
            ..Default::default()
        })
        .await
        .expect("checked");
    system.advance(time::Duration::seconds(1));
    system
        .deadlines_checked(Service::SafeSpace, system.now())
        .await;
    let log = system.log().await;
    eventually(
        "the watcher refreshes the waiting person's urgency",
        || async { !events::<api::UrgencyRefreshed>(&allocator_history(&log).await).is_empty() },
    )
    .await;
    let refreshed = events::<api::UrgencyRefreshed>(&allocator_history(&log).await);
    assert_eq!(
        refreshed
            .iter()
            .map(|r| (r.case_id.as_str(), r.urgency.as_str()))
            .collect::<Vec<_>>(),
        [(cases[2].as_str(), "high")]
    );
    let position = client(system.channel(Service::SafeSpace).await, &operator())
        .get_waiting_position(api::GetWaitingPositionRequest {
            case_id: cases[2].clone(),
        })
        .await
        .expect("position")
        .into_inner();
    assert_eq!(position.positions[0].position, 1, "ahead of the other");
    // The place frees: it goes to the person whose urgency rose.
    client(system.channel(Service::SafeSpace).await, &operator())
        .cancel_place_request(api::CancelPlaceRequestRequest {
            request_id: "urgency-cancel".to_owned(),
            case_id: cases[0].clone(),
            allocator: here(),
        })
        .await
        .expect("cancelled");
    let reservations = events::<api::PlaceReserved>(&allocator_history(&log).await);
    let last = reservations.last().expect("a reservation");
    assert_eq!(
        (last.case_id.as_str(), last.reason.as_str()),
        (cases[2].as_str(), "request_cancelled")
    );
    assert_eq!(places_of(&system, &cases[1]).await[0].standing, "waiting");
    // Refreshed once: another pass appends nothing.
    let before = allocator_history(&log).await.len();
    system.advance(time::Duration::minutes(1));
    system
        .deadlines_checked(Service::SafeSpace, system.now())
        .await;
    assert_eq!(allocator_history(&log).await.len(), before);
    system.stop().await;
}

async fn next(
    stream: &mut tonic::Streaming<api::WatchAvailabilityResponse>,
) -> api::WatchAvailabilityResponse {
    tokio::time::timeout(Duration::from_secs(20), stream.message())
        .await
        .expect("a message in time")
        .expect("the stream is open")
        .expect("a message")
}

fn free_beds(change: &api::WatchAvailabilityResponse) -> Vec<(String, u32)> {
    change
        .spaces
        .iter()
        .map(|s| (s.space_id.clone(), s.free.unwrap_or_default().beds))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn availability_is_watched_from_a_snapshot_and_resumed_missing_nothing() {
    let system = System::start_at(NOW, &[Service::Screening, Service::SafeSpace]).await;
    let mine = register(&system, "watch-mine", profile(2, false)).await;
    let other = register_other(&system, "watch-other", 1).await;
    let cases = open_cases(&system, "watch", 3).await;
    let watch = |resume_token| api::WatchAvailabilityRequest {
        province: "AG".to_owned(),
        resume_token,
    };
    let mut stream = client(system.channel(Service::SafeSpace).await, &prefecture())
        .watch_availability(watch(0))
        .await
        .expect("watching")
        .into_inner();
    let snapshot = next(&mut stream).await;
    assert!(snapshot.snapshot);
    let mut expected = vec![(mine.clone(), 2), (other.clone(), 1)];
    expected.sort();
    assert_eq!(free_beds(&snapshot), expected);
    assert!(
        snapshot
            .spaces
            .iter()
            .all(|s| s.kind == "trafficking_shelter")
    );

    let first = request_avoiding(&system, "watch-0", &cases[0], &[&other], &[])
        .await
        .expect("requested");
    assert_eq!(first.space_id, mine);
    let change = next(&mut stream).await;
    assert!(!change.snapshot);
    assert_eq!(free_beds(&change), [(mine.clone(), 1)]);
    assert!(change.resume_token > snapshot.resume_token);
    let token = change.resume_token;
    drop(stream);

    // Two changes while away: resumed with the last token, each once, in order.
    request_avoiding(&system, "watch-1", &cases[1], &[&other], &[])
        .await
        .expect("requested");
    request_avoiding(&system, "watch-2", &cases[2], &[], &[])
        .await
        .expect("requested");
    let mut resumed = client(system.channel(Service::SafeSpace).await, &prefecture())
        .watch_availability(watch(token))
        .await
        .expect("resumed")
        .into_inner();
    let a = next(&mut resumed).await;
    let b = next(&mut resumed).await;
    assert!(!a.snapshot && !b.snapshot);
    assert_eq!(free_beds(&a), [(mine.clone(), 0)]);
    assert_eq!(free_beds(&b), [(other.clone(), 0)]);
    assert!(token < a.resume_token && a.resume_token < b.resume_token);
    let log = system.log().await;
    let history = allocator_history(&log).await;
    assert_eq!(b.resume_token, history.last().expect("commits").sequence);

    // A managing organisation sees its own spaces only; another province's
    // prefecture nothing; an organisation holds a bounded number of watches.
    let mut own = client(
        system.channel(Service::SafeSpace).await,
        &Caller::receiver(OTHER, Some("AG")),
    )
    .watch_availability(watch(0))
    .await
    .expect("its own spaces")
    .into_inner();
    assert_eq!(free_beds(&next(&mut own).await), [(other.clone(), 0)]);
    let outside = client(
        system.channel(Service::SafeSpace).await,
        &Caller::prefecture("prefettura-pa", "PA"),
    )
    .watch_availability(watch(0))
    .await
    .map(|_| ())
    .expect_err("another province");
    assert_eq!(outside.code(), Code::PermissionDenied);
    let mut open = vec![own];
    for _ in 0..3 {
        open.push(
            client(
                system.channel(Service::SafeSpace).await,
                &Caller::receiver(OTHER, Some("AG")),
            )
            .watch_availability(watch(0))
            .await
            .expect("within the limit")
            .into_inner(),
        );
    }
    let over = client(
        system.channel(Service::SafeSpace).await,
        &Caller::receiver(OTHER, Some("AG")),
    )
    .watch_availability(watch(0))
    .await
    .map(|_| ())
    .expect_err("over the limit");
    assert_eq!(over.code(), Code::ResourceExhausted);
    drop(open);
    system.stop().await;
}

/// The safe-space service's NATS user, with the local permissions file:
/// creates the needs key store, stores, reads and destroys a case's needs
/// key (a tombstone then refuses a new one), and still reads no person key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_safe_space_user_keeps_and_destroys_needs_keys_under_the_local_permissions() {
    use case_log_jetstream::{CaseLog, CaseLogConfig};
    use nats_test_server::{ServerOptions, workspace_root};
    use service_runtime::NeedsKey;
    use service_runtime::config::EncryptionConfig;
    use service_runtime::person_keys::NeedsKeyKeeper;
    let users = [
        "APPRODO_NATS_SCREENING_PASSWORD",
        "APPRODO_NATS_REFERRAL_PASSWORD",
        "APPRODO_NATS_SAFE_SPACE_PASSWORD",
        "APPRODO_NATS_MONITORING_PASSWORD",
    ];
    let system = System::builder()
        .nats(ServerOptions {
            include: vec![workspace_root().join("deploy/local/nats-permissions.conf")],
            env: users
                .iter()
                .map(|var| ((*var).to_owned(), format!("password-{var}")))
                .collect(),
            ..ServerOptions::default()
        })
        .start()
        .await;
    let log = CaseLog::connect(&CaseLogConfig {
        url: system.nats().url(),
        user: Some("safe-space".to_owned()),
        password: Some("password-APPRODO_NATS_SAFE_SPACE_PASSWORD".to_owned()),
        request_timeout_ms: 700,
        ..CaseLogConfig::default()
    })
    .await
    .expect("connect as safe-space");
    let encryption = EncryptionConfig {
        key_encryption_key: Some(
            person_crypto::KeyEncryptionKey::generate_hex()
                .expect("randomness")
                .to_string(),
        ),
        ..EncryptionConfig::default()
    };
    let keeper = NeedsKeyKeeper::from_config(&encryption).expect("keeper");
    keeper
        .create_or_get(&log, "case-1")
        .await
        .expect("the safe-space user creates the store and a needs key");
    assert!(matches!(
        keeper.existing(&log, "case-1").await.expect("read"),
        NeedsKey::Key(_)
    ));
    assert!(keeper.destroy(&log, "case-1").await.expect("destroyed"));
    assert!(matches!(
        keeper.existing(&log, "case-1").await.expect("read"),
        NeedsKey::Erased
    ));
    assert!(
        keeper.create_or_get(&log, "case-1").await.is_err(),
        "no new key after a destruction"
    );
    assert!(
        !keeper.destroy(&log, "case-1").await.expect("again"),
        "idempotent"
    );
    let published = log
        .jetstream()
        .publish("approdo-keys.case-1", "forged".into())
        .await;
    let stored = match published {
        Ok(ack) => ack.await.is_ok(),
        Err(_) => false,
    };
    assert!(!stored, "safe-space stored a person key");
}

/// Sized family rooms: a family is offered only a family room that holds the
/// parent and every child; a bad size is refused naming the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_family_is_offered_only_a_family_room_it_fits_in() {
    let system = System::start_at(NOW, &[Service::Screening, Service::SafeSpace]).await;
    let mut sized = profile(0, false);
    sized.capacity = Some(api::Capacity {
        beds: 0,
        family_rooms: 2,
    });
    sized.eligibility = Some(api::Eligibility {
        families_with_children: true,
        family_room_persons: 3,
        ..Default::default()
    });
    let mut bad = sized.clone();
    if let Some(eligibility) = bad.eligibility.as_mut() {
        eligibility.family_room_persons = 1;
    }
    let refused = client(
        system.channel(Service::SafeSpace).await,
        &Caller::receiver(SHELTER, Some("AG")),
    )
    .register_safe_space(api::RegisterSafeSpaceRequest {
        request_id: "family-bad".to_owned(),
        profile: Some(bad),
        ..Default::default()
    })
    .await
    .expect_err("a room for one is no family room");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused
            .message()
            .contains("profile.eligibility.family_room_persons"),
        "{}",
        refused.message()
    );
    let space = register(&system, "family-rooms", sized).await;
    let cases = open_cases(&system, "family", 2).await;
    let mut requester = client(system.channel(Service::SafeSpace).await, &operator());
    let needs = |children| api::Needs {
        children,
        ..Default::default()
    };
    let four = requester
        .request_place(place_request("family-four", &cases[0], needs(3)))
        .await
        .expect("requested")
        .into_inner();
    assert_eq!((four.standing.as_str(), four.position), ("waiting", 1));
    let three = requester
        .request_place(place_request("family-three", &cases[1], needs(2)))
        .await
        .expect("requested")
        .into_inner();
    assert_eq!(
        (three.standing.as_str(), three.space_id.as_str()),
        ("reserved", space.as_str())
    );
    system.stop().await;
}
