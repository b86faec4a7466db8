//! Limits, end to end: an inbox watch ends with its caller's right to it (the
//! token's expiry by the service's clock, the organisation deactivated in the
//! directory), open watches count against a per-organisation limit, and a full
//! case log refuses appends as RESOURCE_EXHAUSTED, never INTERNAL, while the
//! admin status shows how full it is.

use contracts::referral::v1 as api;
use contracts::screening::v1 as screening_api;
use tonic::Code;
use tonic::codec::Streaming;

use crate::support::wait::patience;
use crate::support::{Caller, Service, System, ts, until_some};

type Watch = Streaming<api::WatchInboxResponse>;

/// The referral default: `options.max_watches_per_organisation`.
const MAX_WATCHES: usize = 4;

async fn watch(system: &System, caller: &Caller) -> Result<Watch, tonic::Status> {
    system
        .referral(caller)
        .await
        .watch_inbox(api::WatchInboxRequest { after_cursor: 0 })
        .await
        .map(tonic::Response::into_inner)
}

/// How a watch ended: the status it ended with, within the test's patience.
async fn ended(watch: &mut Watch) -> tonic::Status {
    match tokio::time::timeout(patience(), watch.message()).await {
        Ok(Err(status)) => status,
        Ok(Ok(other)) => panic!("the watch did not end with a status: {other:?}"),
        Err(_) => panic!("the watch was still open after {:?}", patience()),
    }
}

fn profile(organisation: &str, active: bool) -> api::OrganisationProfile {
    api::OrganisationProfile {
        organisation_id: organisation.to_owned(),
        name: format!("Centro {organisation}"),
        service_types: vec!["anti_violence_centre".to_owned()],
        provinces: vec!["RM".to_owned()],
        languages: vec!["it".to_owned()],
        intake_channel: "approdo".to_owned(),
        availability: "available".to_owned(),
        active,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_ends_when_its_token_expires_by_the_services_clock_even_if_nothing_changes() {
    // The clock starts at the real time, when the test's tokens (an hour each) are issued.
    let system = System::start(&[Service::Referral]).await;
    let cav = Caller::receiver("cav-expiry", Some("RM"));
    let mut first = watch(&system, &cav).await.expect("watch");

    // Ten minutes before expiry, after a pass of the watcher on the same
    // interval, the watch still holds its place: the limit's last place is taken.
    system.advance(time::Duration::minutes(50));
    system
        .deadlines_checked(Service::Referral, system.now())
        .await;
    let mut others = Vec::new();
    for _ in 1..MAX_WATCHES {
        others.push(watch(&system, &cav).await.expect("within the limit"));
    }
    let full = watch(&system, &cav)
        .await
        .expect_err("the first is still open");
    assert_eq!(full.code(), Code::ResourceExhausted, "{full:?}");

    // Past the expiry and the leeway (30 s): every watch ends, though the
    // projection never moved, and says why (a fixed text).
    system.advance(time::Duration::minutes(11));
    for watch in std::iter::once(&mut first).chain(others.iter_mut()) {
        let status = ended(watch).await;
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
        assert_eq!(status.message(), "token expired: the watch ends with it");
    }
    // A token expired by the service's clock opens no watch either.
    let refused = watch(&system, &cav).await.expect_err("expired");
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_ends_when_the_organisation_is_deactivated_in_the_directory() {
    let system = System::start(&[Service::Referral]).await;
    let mut directory = system.referral(&Caller::administrator()).await;
    directory
        .register_organisation(api::RegisterOrganisationRequest {
            request_id: "register-cav-closing".to_owned(),
            profile: Some(profile("cav-closing", true)),
        })
        .await
        .expect("register");
    let cav = Caller::receiver("cav-closing", Some("RM"));
    let mut open = watch(&system, &cav)
        .await
        .expect("an active organisation watches");

    directory
        .update_organisation(api::UpdateOrganisationRequest {
            request_id: "deactivate-cav-closing".to_owned(),
            profile: Some(profile("cav-closing", false)),
        })
        .await
        .expect("deactivate");
    let status = ended(&mut open).await;
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(
        status.message(),
        "the caller's organisation is deactivated in the directory"
    );
    let refused = watch(&system, &cav).await.expect_err("deactivated");
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_watches_count_against_the_organisations_limit_until_closed() {
    let system = System::start(&[Service::Referral]).await;
    let cav = Caller::receiver("cav-busy", Some("RM"));
    let mut open = Vec::new();
    for _ in 0..MAX_WATCHES {
        open.push(watch(&system, &cav).await.expect("within the limit"));
    }
    let refused = watch(&system, &cav).await.expect_err("one too many");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(
        refused.message().contains("inbox watches open"),
        "{refused:?}"
    );
    // Another organisation has places of its own.
    let _other = watch(&system, &Caller::receiver("cav-quiet", Some("RM")))
        .await
        .expect("another organisation");

    // The client goes away: its place is freed.
    drop(open.pop());
    let again = until_some("a closed watch frees its place", || async {
        match watch(&system, &cav).await {
            Ok(watch) => Some(watch),
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                None
            }
        }
    })
    .await;
    open.push(again);
    let refused = watch(&system, &cav).await.expect_err("full again");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_case_log_refuses_commands_as_resource_exhausted_and_the_status_shows_it() {
    const MAX_BYTES: u64 = 16 * 1024;
    let system = System::builder()
        .services(&[Service::Screening])
        .log_max_bytes(MAX_BYTES as i64)
        .start()
        .await;
    let status = system.projection_status(Service::Screening).await;
    assert_eq!(
        (status.log_max_bytes, status.log_nearly_full),
        (MAX_BYTES, false),
        "the limit is set when the stream is created"
    );
    assert!(
        status.log_bytes < MAX_BYTES,
        "only the facilities registered"
    );

    let mut screening = system
        .screening(&Caller::operator("hotspot-lampedusa", "AG"))
        .await;
    let mut opened = 0;
    let refused = loop {
        let request = screening_api::OpenCaseRequest {
            request_id: format!("fill-{opened}"),
            arrival: Some(screening_api::Arrival {
                place: "LAMPEDUSA".to_owned(),
                arrived_at: ts(system.now() - time::Duration::hours(2)),
            }),
            province: "AG".to_owned(),
            facility_id: "hotspot-lampedusa".to_owned(),
            ..Default::default()
        };
        match screening.open_case(request).await {
            Ok(_) => opened += 1,
            Err(status) => break status,
        }
        assert!(opened < 1_000, "the log never filled up");
    };
    assert!(opened > 0, "commands fit before the log is full");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert_eq!(
        refused.message(),
        "the case log is full: appends are refused until an operator raises its max_bytes"
    );

    let status = system.projection_status(Service::Screening).await;
    assert_eq!(status.log_max_bytes, MAX_BYTES);
    assert!(
        status.log_bytes > MAX_BYTES * 8 / 10 && status.log_bytes <= MAX_BYTES,
        "{status:?}"
    );
    assert!(status.log_nearly_full, "{status:?}");
    system.stop().await;
}
