//! Metrics, end to end: the services' Prometheus endpoints, scraped over HTTP
//! after real RPCs. RPCs are counted by method and status code (one OK, one
//! INVALID_ARGUMENT, one PERMISSION_DENIED), appends and key-store operations
//! by outcome, the projection's gauges follow the admin API's status, an
//! inbox watch (referral) and an availability watch (safe-space) count while
//! open, and no scrape holds the seeded personal data, the case id or an
//! organisation id.

use contracts::person::v1 as person;
use contracts::referral::v1 as referral_api;
use contracts::safe_space::v1 as safe_space_api;
use contracts::screening::v1 as api;
use tonic::Code;

use crate::support::{Caller, Service, System, eventually, ts};

const SEEDED: [&str; 3] = ["Ottavina", "Marchetti-Adeyemi", "1988-03-14"];
/// Registered by the harness, in the province of Ragusa.
const FACILITY: &str = "hotspot-pozzallo";
const RECEIVER: &str = "cav-metrics-rm";
const PREFECTURE: &str = "pref-metrics-ag";

/// The value of the sample `name{labels}`, labels in the exporter's order
/// (sorted by name), if the scrape has it.
fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().expect("a number"))
    })
}

fn rpc_count(scrape: &str, service: &str, method: &str, code: Code) -> Option<f64> {
    sample(
        scrape,
        &format!(
            "rpc_server_duration_milliseconds_count{{rpc_grpc_status_code=\"{}\",rpc_method=\"{method}\",rpc_service=\"{service}\",rpc_system=\"grpc\"}}",
            code as i32
        ),
    )
}

fn open_case(request_id: &str, province: &str) -> api::OpenCaseRequest {
    api::OpenCaseRequest {
        request_id: request_id.to_owned(),
        arrival: Some(api::Arrival {
            place: "POZZALLO".to_owned(),
            arrived_at: ts(time::OffsetDateTime::now_utc() - time::Duration::hours(3)),
        }),
        province: province.to_owned(),
        facility_id: FACILITY.to_owned(),
        personal_data: Some(person::PersonalData {
            given_names: SEEDED[0].to_owned(),
            family_names: SEEDED[1].to_owned(),
            date_of_birth: SEEDED[2].to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpcs_appends_projection_watches_and_keys_are_scraped_without_personal_data() {
    let system = System::start(&[Service::Screening, Service::Referral, Service::SafeSpace]).await;
    let screening = "approdo.screening.v1.ScreeningService";

    let running = system.running(Service::Screening);
    let appended = "approdo_case_log_append_duration_milliseconds_count{outcome=\"appended\"}";
    // The harness registered its facilities: appends before this test's.
    let appended_before = sample(&running.scrape_metrics().await, appended).unwrap_or(0.0);

    let mut operator = system.screening(&Caller::operator(FACILITY, "RG")).await;
    let opened = operator
        .open_case(open_case("metrics-open", "RG"))
        .await
        .expect("open")
        .into_inner();
    let invalid = operator
        .open_case(open_case("metrics-invalid", "rg"))
        .await
        .expect_err("a lower-case province is invalid");
    assert_eq!(invalid.code(), Code::InvalidArgument);
    let mut receiver = system
        .screening(&Caller::receiver(RECEIVER, Some("RM")))
        .await;
    let denied = receiver
        .open_case(open_case("metrics-denied", "RG"))
        .await
        .expect_err("a receiving service may not open cases");
    assert_eq!(denied.code(), Code::PermissionDenied);

    let scrape = running.scrape_metrics().await;
    for code in [Code::Ok, Code::InvalidArgument, Code::PermissionDenied] {
        assert_eq!(
            rpc_count(&scrape, screening, "OpenCase", code),
            Some(1.0),
            "one OpenCase answered {code:?} in\n{scrape}"
        );
    }
    assert_eq!(
        rpc_count(&scrape, screening, "OpenCase", Code::Internal),
        None,
        "{scrape}"
    );
    assert!(scrape.contains("# TYPE rpc_server_duration_milliseconds histogram"));
    assert!(
        scrape.contains("target_info{service_name=\"screening\"} 1"),
        "{scrape}"
    );
    // The case opened once, its person's key created once; the invalid and
    // refused requests appended nothing.
    assert_eq!(
        sample(&scrape, appended),
        Some(appended_before + 1.0),
        "{scrape}"
    );
    assert_eq!(
        sample(
            &scrape,
            "approdo_key_store_operations_total{key_kind=\"person\",operation=\"create_or_get\",outcome=\"ok\"}"
        ),
        Some(1.0),
        "{scrape}"
    );

    // The case's history was read once from the log, then served from memory:
    // a retry of the opening is answered without reading the log again.
    let hits = "approdo_case_log_history_cache_lookups_total{approdo_cache_result=\"hit\"}";
    let misses = "approdo_case_log_history_cache_lookups_total{approdo_cache_result=\"miss\"}";
    let hits_before = sample(&scrape, hits).expect("history cache hits are scraped");
    let misses_before = sample(&scrape, misses).expect("history cache misses are scraped");
    let retried = operator
        .open_case(open_case("metrics-open", "RG"))
        .await
        .expect("retried")
        .into_inner();
    assert_eq!(retried.log_sequence, opened.log_sequence);
    let scrape = running.scrape_metrics().await;
    assert!(sample(&scrape, hits) > Some(hits_before), "{scrape}");
    assert_eq!(sample(&scrape, misses), Some(misses_before), "{scrape}");
    assert!(
        sample(&scrape, "approdo_case_log_history_cache_size_bytes").is_some_and(|b| b > 0.0),
        "{scrape}"
    );

    // The projection's gauges follow its status as the admin API shows it.
    let applied = opened.log_sequence;
    eventually(
        "the projection position metric reaches the case",
        || async {
            let scrape = running.scrape_metrics().await;
            let status = system.projection_status(Service::Screening).await;
            let position = sample(
                &scrape,
                &format!(
                    "approdo_projection_position{{approdo_projection=\"{}\"}}",
                    status.name
                ),
            );
            let lag = sample(
                &scrape,
                &format!(
                    "approdo_projection_lag{{approdo_projection=\"{}\"}}",
                    status.name
                ),
            );
            let parked = sample(
                &scrape,
                &format!(
                    "approdo_projection_parked{{approdo_projection=\"{}\"}}",
                    status.name
                ),
            );
            position.is_some_and(|p| p >= applied as f64) && lag.is_some() && parked == Some(0.0)
        },
    )
    .await;

    // An inbox watch counts as open while it is, and no longer once dropped.
    let referral = system.running(Service::Referral);
    let open_watches = "approdo_watch_streams{rpc_method=\"WatchInbox\",rpc_service=\"approdo.referral.v1.ReferralService\"}";
    let watch = system
        .referral(&Caller::receiver(RECEIVER, Some("RM")))
        .await
        .watch_inbox(referral_api::WatchInboxRequest { after_cursor: 0 })
        .await
        .expect("watch")
        .into_inner();
    eventually("the open watch is counted", || async {
        sample(&referral.scrape_metrics().await, open_watches) == Some(1.0)
    })
    .await;
    drop(watch);
    eventually("the closed watch is no longer counted", || async {
        sample(&referral.scrape_metrics().await, open_watches) == Some(0.0)
    })
    .await;

    // So does an availability watch of safe-space.
    let safe_space = system.running(Service::SafeSpace);
    let open_availability = "approdo_watch_streams{rpc_method=\"WatchAvailability\",rpc_service=\"approdo.safe_space.v1.SafeSpaceService\"}";
    let mut availability =
        safe_space_api::safe_space_service_client::SafeSpaceServiceClient::with_interceptor(
            system.channel(Service::SafeSpace).await,
            Caller::prefecture(PREFECTURE, "AG").bearer(),
        )
        .watch_availability(safe_space_api::WatchAvailabilityRequest {
            province: "AG".to_owned(),
            resume_token: 0,
        })
        .await
        .expect("watch availability")
        .into_inner();
    let snapshot = availability
        .message()
        .await
        .expect("the stream is open")
        .expect("a snapshot");
    assert!(snapshot.snapshot);
    eventually("the open availability watch is counted", || async {
        sample(&safe_space.scrape_metrics().await, open_availability) == Some(1.0)
    })
    .await;
    drop(availability);
    eventually(
        "the closed availability watch is no longer counted",
        || async { sample(&safe_space.scrape_metrics().await, open_availability) == Some(0.0) },
    )
    .await;

    // Attributes are names and codes: nothing a caller sent, nothing that
    // names a person, a case or an organisation.
    for service in [Service::Screening, Service::Referral, Service::SafeSpace] {
        let scrape = system.running(service).scrape_metrics().await;
        for forbidden in
            SEEDED
                .iter()
                .copied()
                .chain([opened.case_id.as_str(), FACILITY, RECEIVER, PREFECTURE])
        {
            assert!(
                !scrape.contains(forbidden),
                "{} metrics hold {forbidden:?}",
                service.name()
            );
        }
    }
    system.stop().await;
}
