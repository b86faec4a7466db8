//! A kill -9 of a safe-space instance during allocation load: the real
//! binary, killed with SIGKILL while requests for places are in flight, then
//! restarted on its data folder; the callers whose requests failed ask again
//! with the same request ids, half of them through the restarted instance and
//! half through a second one. Read from the log, not through the service: no
//! space is ever over its capacity, no case holds two places, every case asked
//! once and ends reserved or waiting, and its own safe-space record says the
//! same, once; and the restarted projection equals a rebuild from the log.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use case_log_jetstream::RecordedCommit;
use contracts::admin::v1 as admin;
use contracts::safe_space::v1 as api;
use prost::{Message, Name};
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::safe_space::{
    NOW, allocator_history, client, events, open_cases, operator, place_request, profile, register,
};
use crate::support::auth::issuer;
use crate::support::wait::until_some;
use crate::support::{Caller, Service, System, eventually};

/// People asking at once, for the places of two spaces.
const CALLERS: usize = 80;
const BEDS: [u32; 2] = [6, 4];
/// Answers seen before the kill.
const ANSWERS_BEFORE_KILL: usize = 12;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The safe-space binary against the system's server, key-encryption key and
/// token issuer, with its own data folder; its port.
fn start_child(system: &System, data_dir: &Path) -> (Child, u16) {
    let port = free_port();
    let issuer = issuer();
    let prefix = "APPRODO_SAFE_SPACE__";
    let child = Command::new(end_to_end::binary("safe-space"))
        .env(format!("{prefix}LISTEN"), format!("127.0.0.1:{port}"))
        .env(format!("{prefix}DATA_DIR"), data_dir)
        .env(format!("{prefix}CASE_LOG__URL"), system.nats().url())
        .env(
            format!("{prefix}ENCRYPTION__KEY_ENCRYPTION_KEY"),
            system.key_encryption_key(),
        )
        .env(
            format!("{prefix}AUTH__ISSUERS"),
            format!(
                "[{{ issuer = \"{}\", keys = [{{ kid = \"{}\", public_key = \"{}\" }}] }}]",
                issuer.issuer(),
                issuer.kid(),
                issuer.public_key_hex()
            ),
        )
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn safe-space");
    (child, port)
}

/// A channel to the child once it reports SERVING (its projection is live).
async fn serving(port: u16) -> Channel {
    let uri = format!("http://127.0.0.1:{port}");
    until_some("the safe-space binary serves", || {
        let endpoint = Channel::from_shared(uri.clone()).expect("uri");
        async move {
            let channel = endpoint.connect().await.ok()?;
            let status = HealthClient::new(channel.clone())
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .ok()?
                .into_inner()
                .status();
            (status == ServingStatus::Serving).then_some(channel)
        }
    })
    .await
}

async fn projection_status(channel: &Channel) -> admin::ProjectionStatus {
    admin::projection_admin_service_client::ProjectionAdminServiceClient::with_interceptor(
        channel.clone(),
        Caller::administrator().bearer(),
    )
    .get_projection_status(admin::GetProjectionStatusRequest {
        with_content_digest: true,
    })
    .await
    .expect("projection status")
    .into_inner()
    .status
    .expect("status")
}

fn decoded<M: Message + Default>(payload: &[u8]) -> M {
    M::decode(payload).expect("decodes")
}

/// Folds the allocator's history in log order: after every event, the
/// reservations plus occupants of each space within its capacity, and each
/// case holding at most one place. The places held at the end, by case.
fn places_held_at_every_point(history: &[RecordedCommit]) -> BTreeMap<String, String> {
    let mut capacity: BTreeMap<String, u32> = BTreeMap::new();
    let mut held: BTreeMap<String, String> = BTreeMap::new();
    for event in history.iter().flat_map(|c| c.commit.events.iter()) {
        let payload = event.payload.as_slice();
        let t = event.event_type.as_str();
        if t == api::SpaceAdded::full_name() {
            let added: api::SpaceAdded = decoded(payload);
            let c = added.capacity.unwrap_or_default();
            capacity.insert(added.space_id, c.beds + c.family_rooms);
        } else if t == api::SpaceCapacityChanged::full_name() {
            let changed: api::SpaceCapacityChanged = decoded(payload);
            let c = changed.capacity.unwrap_or_default();
            capacity.insert(changed.space_id, c.beds + c.family_rooms);
        } else if t == api::PlaceReserved::full_name() {
            let reserved: api::PlaceReserved = decoded(payload);
            let before = held.insert(reserved.case_id.clone(), reserved.space_id.clone());
            assert_eq!(before, None, "{} holds two places", reserved.case_id);
        } else if t == api::PlaceReleased::full_name() {
            held.remove(&decoded::<api::PlaceReleased>(payload).case_id);
        } else if t == api::HoldExpired::full_name() {
            held.remove(&decoded::<api::HoldExpired>(payload).case_id);
        } else if t == api::ReturnedToWaitingList::full_name() {
            held.remove(&decoded::<api::ReturnedToWaitingList>(payload).case_id);
        }
        // ArrivalConfirmed turns a reservation into an occupant: still held.
        for (space, capacity) in &capacity {
            let taken = held.values().filter(|s| *s == space).count();
            assert!(
                taken <= *capacity as usize,
                "{space}: {taken} places given of {capacity} after {t}"
            );
        }
    }
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_gives_no_place_twice_and_its_projection_equals_a_rebuild() {
    let system = System::start_at(NOW, &[Service::Screening, Service::SafeSpace]).await;
    let mut spaces = Vec::new();
    for (i, beds) in BEDS.into_iter().enumerate() {
        spaces.push(register(&system, &format!("crash-space-{i}"), profile(beds, false)).await);
    }
    let cases = open_cases(&system, "crash", CALLERS).await;
    let child_data = tempfile::Builder::new()
        .prefix("approdo-safe-space-child-")
        .tempdir()
        .expect("child data folder");
    let (mut child, port) = start_child(&system, child_data.path());
    let channel = serving(port).await;

    // Everyone asks at once through the child; it is killed mid-load.
    let answered = Arc::new(AtomicUsize::new(0));
    let mut calls = tokio::task::JoinSet::new();
    for (i, case) in cases.iter().enumerate() {
        let mut client = client(channel.clone(), &operator());
        let request = place_request(&format!("crash-{i}"), case, api::Needs::default());
        let answered = answered.clone();
        calls.spawn(async move {
            let answer = client.request_place(request).await;
            if answer.is_ok() {
                answered.fetch_add(1, Ordering::SeqCst);
            }
            (i, answer.map(|a| a.into_inner()))
        });
    }
    eventually("some callers have their answer", || async {
        answered.load(Ordering::SeqCst) >= ANSWERS_BEFORE_KILL
    })
    .await;
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("wait");
    assert!(!status.success(), "killed, not exited: {status}");
    let mut answers: BTreeMap<usize, api::RequestPlaceResponse> = BTreeMap::new();
    let mut failed = Vec::new();
    while let Some(joined) = calls.join_next().await {
        match joined.expect("joined") {
            (i, Ok(answer)) => {
                answers.insert(i, answer);
            }
            (i, Err(_)) => failed.push(i),
        }
    }
    let appended: Vec<String> =
        events::<api::PlaceRequested>(&allocator_history(&system.log().await).await)
            .into_iter()
            .map(|r| r.case_id)
            .collect();
    println!(
        "{} answered before the kill, {} failed, of which {} were appended before it",
        answers.len(),
        failed.len(),
        failed
            .iter()
            .filter(|i| appended.contains(&cases[**i]))
            .count()
    );

    // Restarted on the same data folder; the failed callers ask again with
    // the same request ids, through it or through the in-process instance.
    let (mut child, port) = start_child(&system, child_data.path());
    let restarted = serving(port).await;
    let in_process = system.channel(Service::SafeSpace).await;
    let mut retries = tokio::task::JoinSet::new();
    for i in failed {
        let through = if i % 2 == 0 { &restarted } else { &in_process };
        let mut client = client(through.clone(), &operator());
        let request = place_request(&format!("crash-{i}"), &cases[i], api::Needs::default());
        retries.spawn(async move { (i, client.request_place(request).await) });
    }
    while let Some(joined) = retries.join_next().await {
        let (i, answer) = joined.expect("joined");
        let answer = answer.unwrap_or_else(|e| panic!("crash-{i} asked again: {e:?}"));
        answers.insert(i, answer.into_inner());
    }
    assert_eq!(answers.len(), CALLERS, "every caller has an answer");

    // The log, read here: no space over capacity at any point, a place per case at most.
    let log = system.log().await;
    let history = allocator_history(&log).await;
    let held = places_held_at_every_point(&history);
    let total: usize = BEDS.iter().map(|b| *b as usize).sum();
    assert_eq!(held.len(), total, "every place given, none twice");
    for (space, beds) in spaces.iter().zip(BEDS) {
        assert_eq!(held.values().filter(|s| *s == space).count(), beds as usize);
    }
    // Every case asked once and ends reserved or waiting, as its answer says.
    let mut requested: Vec<String> = events::<api::PlaceRequested>(&history)
        .into_iter()
        .map(|r| r.case_id)
        .collect();
    requested.sort_unstable();
    let mut expected = cases.clone();
    expected.sort_unstable();
    assert_eq!(requested, expected, "each case's request appended once");
    for (i, answer) in &answers {
        let case = &cases[*i];
        match answer.standing.as_str() {
            "reserved" => assert_eq!(held.get(case), Some(&answer.space_id), "{case}"),
            "waiting" => assert_eq!(held.get(case), None, "{case}"),
            other => panic!("{case}: standing {other}"),
        }
    }
    assert_eq!(
        answers
            .values()
            .filter(|a| a.standing == "reserved")
            .count(),
        total
    );
    // Each case's own safe-space record agrees with the allocator: the kill
    // between an allocator's append and its mirror left nothing missing (the
    // retries and the watcher complete it), and nothing twice.
    for (i, answer) in &answers {
        let case = &cases[*i];
        let expected: &[&str] = match answer.standing.as_str() {
            "reserved" => &["CasePlaceRequested", "CasePlaceReserved"],
            _ => &["CasePlaceRequested"],
        };
        eventually(
            &format!("{case}'s record mirrors the allocator"),
            || async { crate::safe_space_pathway::record_types(&log, case).await == expected },
        )
        .await;
    }

    // The restarted child's projection, caught up, equals its rebuild.
    let last = log.last_sequence().await.expect("last sequence");
    eventually(
        "the restarted projection applies the last commit",
        || async {
            let status = projection_status(&restarted).await;
            status.position >= last && status.state() == admin::ProjectionState::Live
        },
    )
    .await;
    let before = projection_status(&restarted).await;
    admin::projection_admin_service_client::ProjectionAdminServiceClient::with_interceptor(
        restarted.clone(),
        Caller::administrator().bearer(),
    )
    .rebuild_projection(admin::RebuildProjectionRequest {})
    .await
    .expect("rebuild");
    eventually("the rebuilt projection catches up", || async {
        let status = projection_status(&restarted).await;
        status.position >= before.position && status.state() == admin::ProjectionState::Live
    })
    .await;
    let after = projection_status(&restarted).await;
    assert_eq!(
        after.position, before.position,
        "nothing appended meanwhile"
    );
    assert_eq!(after.content_digest, before.content_digest);

    child.kill().expect("stop the child");
    child.wait().expect("wait");
    system.stop().await;
}
