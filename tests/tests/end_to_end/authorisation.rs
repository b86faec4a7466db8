//! The authorisation tables, checked against the running services: every RPC the
//! contracts declare has a rule (a new RPC without one fails here), and for every
//! RPC each organisation type allowed gets past authorisation while each type
//! not allowed gets PERMISSION_DENIED. Generated from the same tables the
//! services enforce.

use contracts::FILE_DESCRIPTOR_SET;
use prost::Message;
use service_runtime::OrganisationType;
use service_runtime::authorisation::Rule;
use tonic::Code;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;

use crate::support::{Caller, Running, Service, System, eventually};

/// `/package.Service/Method` of every RPC of `service`, and whether it streams answers.
fn rpcs(service: &str) -> Vec<(String, bool)> {
    let set = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("descriptors");
    let mut found = Vec::new();
    for file in &set.file {
        for declared in &file.service {
            if format!("{}.{}", file.package(), declared.name()) == service {
                for method in &declared.method {
                    found.push((
                        format!("/{service}/{}", method.name()),
                        method.server_streaming(),
                    ));
                }
            }
        }
    }
    assert!(!found.is_empty(), "{service} declares no RPC");
    found
}

/// Calls an RPC with an empty message as `org_type`; the status code, if any.
async fn call(
    channel: Channel,
    path: &str,
    streaming: bool,
    org_type: OrganisationType,
) -> Option<Code> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    let request = Caller::new(org_type, "org-under-test", Some("AG")).request(());
    let path = PathAndQuery::try_from(path.to_owned()).expect("path");
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    if streaming {
        grpc.server_streaming(request, path, codec)
            .await
            .err()
            .map(|s| s.code())
    } else {
        grpc.unary(request, path, codec)
            .await
            .err()
            .map(|s| s.code())
    }
}

async fn check(service: &Running, grpc_services: &[&str], table: &[Rule]) {
    let rules: Vec<Rule> = table
        .iter()
        .chain(service_runtime::admin::AUTHORISATION)
        .copied()
        .collect();
    for grpc_service in grpc_services {
        for (path, streaming) in rpcs(grpc_service) {
            let rule = rules
                .iter()
                .find(|r| r.rpc == path)
                .unwrap_or_else(|| panic!("{path} has no authorisation rule"));
            for org_type in OrganisationType::ALL {
                let code = call(service.channel().await, &path, streaming, org_type).await;
                if rule.allowed.contains(&org_type) {
                    assert!(
                        !matches!(code, Some(Code::PermissionDenied | Code::Unauthenticated)),
                        "{path}: {} is allowed but got {code:?}",
                        org_type.code()
                    );
                } else {
                    assert_eq!(
                        code,
                        Some(Code::PermissionDenied),
                        "{path}: {} is not allowed",
                        org_type.code()
                    );
                }
            }
        }
    }
    // Rules name only RPCs that exist.
    for rule in table {
        assert!(
            grpc_services
                .iter()
                .any(|s| rpcs(s).iter().any(|(path, _)| path == rule.rpc)),
            "rule for unknown RPC {}",
            rule.rpc
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_of_every_service_follows_its_authorisation_table() {
    let system = System::start(&Service::EVERY).await;
    check(
        system.running(Service::Screening),
        &[
            "approdo.screening.v1.ScreeningService",
            "approdo.admin.v1.ProjectionAdminService",
        ],
        screening::AUTHORISATION,
    )
    .await;
    check(
        system.running(Service::Referral),
        &[
            "approdo.referral.v1.ReferralService",
            "approdo.admin.v1.ProjectionAdminService",
        ],
        referral::AUTHORISATION,
    )
    .await;
    check(
        system.running(Service::SafeSpace),
        &[
            "approdo.safe_space.v1.SafeSpaceService",
            "approdo.admin.v1.ProjectionAdminService",
        ],
        safe_space::AUTHORISATION,
    )
    .await;
    check(
        system.running(Service::Monitoring),
        &[
            "approdo.monitoring.v1.CaseReplayService",
            "approdo.monitoring.v1.MonitoringService",
            "approdo.monitoring.v1.FacilityMonitoringService",
            "approdo.admin.v1.ProjectionAdminService",
        ],
        monitoring::AUTHORISATION,
    )
    .await;

    // Every refusal is recorded in the log, on the refused organisation's subjects.
    let log = system.log().await;
    let scope = case_log_jetstream::HistoryScope::Root {
        kind: case_log_jetstream::RootKind::Organisation,
        id: case_log_jetstream::TokenId::parse("org-under-test").expect("id"),
    };
    eventually("refusals recorded", || {
        let log = log.clone();
        let scope = scope.clone();
        async move {
            let history = log
                .history(&scope, case_log_jetstream::HistoryBound::All)
                .await
                .expect("history");
            let refused: Vec<contracts::access::v1::AccessRefused> = history
                .iter()
                .flat_map(|c| c.commit.events.iter())
                .filter(|e| e.event_type == "approdo.access.v1.AccessRefused")
                .filter_map(|e| {
                    contracts::access::v1::AccessRefused::decode(e.payload.as_slice()).ok()
                })
                .collect();
            refused.iter().any(|r| {
                r.rpc == "/approdo.referral.v1.ReferralService/RegisterOrganisation"
                    && r.organisation_type == "analyst"
            }) && refused
                .iter()
                .any(|r| r.rpc == "/approdo.screening.v1.ScreeningService/EraseCase")
        }
    })
    .await;
    // Recording refusals never stops a projection: both services still serve.
    for service in Service::ALL {
        let status = system
            .health(service)
            .await
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .expect("health")
            .into_inner()
            .status();
        assert_eq!(
            status,
            tonic_health::pb::health_check_response::ServingStatus::Serving
        );
    }
    system.stop().await;
}

/// Found by attacking the running system: every refused call appended a
/// synced commit, on the same subject as the organisation's directory entry.
/// Refusals are now coalesced per organisation and RPC within a window (100 ms
/// in the tests), each window's on a subject of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_refused_calls_appends_a_bounded_number_of_records() {
    let system = System::start(&[Service::Referral]).await;
    // One token (an analyst of `org-under-test`) calling what analysts may not.
    let calls = 300_u32;
    let started = std::time::Instant::now();
    for _ in 0..calls {
        let code = call(
            system.channel(Service::Referral).await,
            "/approdo.referral.v1.ReferralService/RegisterOrganisation",
            false,
            OrganisationType::Analyst,
        )
        .await;
        assert_eq!(code, Some(Code::PermissionDenied));
    }
    let windows = started.elapsed().as_millis() / 100 + 2;
    let log = system.log().await;
    let scope = case_log_jetstream::HistoryScope::Root {
        kind: case_log_jetstream::RootKind::Organisation,
        id: case_log_jetstream::TokenId::parse("org-under-test").expect("id"),
    };
    let records = || {
        let log = log.clone();
        let scope = scope.clone();
        async move {
            log.history(&scope, case_log_jetstream::HistoryBound::All)
                .await
                .expect("history")
        }
    };
    eventually("every refusal recorded", || {
        let records = records();
        async move {
            let counted: u32 = records
                .await
                .iter()
                .flat_map(|c| c.commit.events.iter())
                .filter_map(|e| {
                    contracts::access::v1::AccessRefused::decode(e.payload.as_slice()).ok()
                })
                .map(|r| r.count)
                .sum();
            counted == calls
        }
    })
    .await;
    let commits = records().await.len() as u128;
    assert!(
        commits <= windows && commits < u128::from(calls),
        "{commits} records for {calls} refusals in {windows} windows"
    );
    // None of them is on the subject of a directory entry.
    assert!(
        records()
            .await
            .iter()
            .all(|c| c.subject.split('.').count() == 5)
    );
    system.stop().await;
}

/// Found by attacking the running system: a centre refused once before its
/// registration could, in some runs, never be registered ("organisation
/// already registered"), its refusal records sharing the directory entry's
/// subject. Refusals now have subjects of their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organisation_refused_before_its_registration_registers() {
    let system = System::start(&[Service::Referral]).await;
    let centre = Caller::receiver("cav-refused-first", Some("RM"));
    let mut referrals = system.referral(&centre).await;
    let refused = referrals
        .register_organisation(centre.request(
            contracts::referral::v1::RegisterOrganisationRequest {
                request_id: "self-registration".to_owned(),
                profile: None,
            },
        ))
        .await
        .expect_err("a centre does not register itself");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let log = system.log().await;
    let organisation = case_log_jetstream::HistoryScope::Root {
        kind: case_log_jetstream::RootKind::Organisation,
        id: case_log_jetstream::TokenId::parse("cav-refused-first").expect("id"),
    };
    eventually("the refusal recorded", || {
        let log = log.clone();
        let organisation = organisation.clone();
        async move {
            !log.history(&organisation, case_log_jetstream::HistoryBound::All)
                .await
                .expect("history")
                .is_empty()
        }
    })
    .await;
    let registered = referrals
        .register_organisation(Caller::administrator().request(
            contracts::referral::v1::RegisterOrganisationRequest {
                request_id: "register-after-refusal".to_owned(),
                profile: Some(contracts::referral::v1::OrganisationProfile {
                    organisation_id: "cav-refused-first".to_owned(),
                    name: "Centro antiviolenza".to_owned(),
                    service_types: vec!["anti_violence_centre".to_owned()],
                    provinces: vec!["RM".to_owned()],
                    availability: "available".to_owned(),
                    active: true,
                    ..Default::default()
                }),
            },
        ))
        .await;
    assert!(registered.is_ok(), "{registered:?}");
    system.stop().await;
}
