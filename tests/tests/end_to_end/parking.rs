//! Architecture invariant 13, the subject is the authority: with each
//! service's own NATS credentials (the local permissions file), publish on
//! that service's case subject a message that is no commit, and a commit whose
//! payload claims another aggregate (a `CasePlaced` claiming the screening
//! service). Every service stays SERVING, the forged placement changes no
//! projection, each projection lists what it parked, a rebuild gives the same
//! digest, and commands on the case still append.

use case_log_jetstream::{CaseLog, CaseLogConfig, Producer, contract::event_type};
use contracts::admin::v1 as admin;
use contracts::screening::v1 as screening;
use nats_test_server::{ServerOptions, workspace_root};
use prost::Message;
use service_runtime::caller::OrganisationType;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::support::{Caller, Service, System, eventually, ts};

/// NATS users of the local permissions file and their passwords in the test.
const USERS: [(Producer, &str); 4] = [
    (Producer::Screening, "APPRODO_NATS_SCREENING_PASSWORD"),
    (Producer::Referral, "APPRODO_NATS_REFERRAL_PASSWORD"),
    (Producer::SafeSpace, "APPRODO_NATS_SAFE_SPACE_PASSWORD"),
    (Producer::Monitoring, "APPRODO_NATS_MONITORING_PASSWORD"),
];

fn password(producer: Producer) -> String {
    format!("test-password-of-{producer}")
}

/// The local permissions file as deployed, plus one unrestricted user that
/// clients without credentials (the services the harness runs) are bound to.
fn permissions(dir: &std::path::Path) -> std::path::PathBuf {
    let deployed =
        std::fs::read_to_string(workspace_root().join("deploy/local/nats-permissions.conf"))
            .expect("permissions file");
    let with_harness = deployed.replacen(
        "users: [",
        "users: [\n    { user: harness, password: harness-password-for-tests }",
        1,
    );
    assert_ne!(with_harness, deployed, "the permissions file lists users");
    let path = dir.join("nats-permissions-with-harness.conf");
    std::fs::write(&path, format!("no_auth_user: harness\n{with_harness}")).expect("write");
    path
}

fn open_request(
    request_id: &str,
    facility: &str,
    arrived_at: time::OffsetDateTime,
) -> screening::OpenCaseRequest {
    screening::OpenCaseRequest {
        request_id: request_id.to_owned(),
        arrival: Some(screening::Arrival {
            place: "LAMPEDUSA".to_owned(),
            arrived_at: ts(arrived_at),
        }),
        province: "AG".to_owned(),
        facility_id: facility.to_owned(),
        application_date: String::new(),
        ..Default::default()
    }
}

/// A commit as the screening service would write it, placing `claimed_case`
/// in a forged facility: published on another subject, it must count for nothing.
fn forged_placement(claimed_case: &str) -> Vec<u8> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let placed = screening::CasePlaced {
        facility_id: "forged-facility".to_owned(),
        province: "RM".to_owned(),
        facility_kind: "cas".to_owned(),
        placed_at: ts(time::OffsetDateTime::now_utc()),
        ..Default::default()
    };
    contracts::log::v1::Commit {
        commit_id: format!("forged-commit-{n}"),
        aggregate: Some(contracts::log::v1::AggregateAddress {
            root_kind: "case".to_owned(),
            root_id: claimed_case.to_owned(),
            producer: "screening".to_owned(),
            entity_id: String::new(),
        }),
        request_id: format!("forged-request-{n}"),
        events: vec![contracts::log::v1::Event {
            event_id: format!("forged-event-{n}"),
            event_type: event_type::<screening::CasePlaced>(),
            schema_version: 1,
            payload: placed.encode_to_vec(),
        }],
        ..Default::default()
    }
    .encode_to_vec()
}

async fn facility(system: &System, caller: &Caller, case_id: &str, min: u64) -> String {
    system
        .screening(caller)
        .await
        .get_case(screening::GetCaseRequest {
            case_id: case_id.to_owned(),
            min_log_sequence: min,
        })
        .await
        .expect("get case")
        .into_inner()
        .case
        .expect("case")
        .facility_id
}

async fn parked(system: &System, service: Service) -> Vec<admin::ParkedCommit> {
    let mut admin = system.admin(service, &Caller::administrator()).await;
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = admin
            .list_parked_commits(admin::ListParkedCommitsRequest {
                page_size: 3,
                page_token,
            })
            .await
            .expect("parked commits")
            .into_inner();
        all.extend(page.parked_commits);
        if page.next_page_token.is_empty() {
            return all;
        }
        page_token = page.next_page_token;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_message_from_any_services_credentials_is_parked_and_stops_nothing() {
    let conf = tempfile::tempdir().expect("dir");
    let mut system = System::builder()
        .nats(ServerOptions {
            include: vec![permissions(conf.path())],
            env: USERS
                .iter()
                .map(|(user, var)| ((*var).to_owned(), password(*user)))
                .collect(),
            ..ServerOptions::default()
        })
        .start()
        .await;
    for service in Service::EVERY {
        system.start_service(service).await;
    }
    let operator = Caller::operator("hotspot-lampedusa", "AG");
    let mut client = system.screening(&operator).await;
    let mut cases = Vec::new();
    for request in ["parking-c", "parking-d"] {
        let opened = client
            .open_case(operator.request(open_request(
                request,
                "hotspot-lampedusa",
                system.now() - time::Duration::hours(2),
            )))
            .await
            .expect("open case")
            .into_inner();
        cases.push((opened.case_id, opened.log_sequence));
    }
    let (case, other) = (cases[0].0.clone(), cases[1].0.clone());
    assert_eq!(
        facility(&system, &operator, &case, cases[1].1).await,
        "hotspot-lampedusa"
    );

    // Each service's user publishes on its own subject of the case: what
    // NATS permits it. The screening user's forgery names the other case.
    let mut published = Vec::new();
    for (producer, _) in USERS {
        let log = CaseLog::connect(&CaseLogConfig {
            url: system.nats().url(),
            user: Some(producer.token().to_owned()),
            password: Some(password(producer)),
            ..CaseLogConfig::default()
        })
        .await
        .expect("connect with the service's credentials");
        let subject = format!("approdo.case.{case}.{producer}");
        let claimed = if producer == Producer::Screening {
            &other
        } else {
            &case
        };
        for (reason, payload) in [
            ("undecodable_envelope", vec![0xff, 0xff, 0xff, 0x07]),
            ("claims_another_aggregate", forged_placement(claimed)),
        ] {
            let sequence = log
                .jetstream()
                .publish(subject.clone(), payload.into())
                .await
                .expect("publish")
                .await
                .expect("the server stored it: the subject is the user's own")
                .sequence;
            published.push((producer, sequence, subject.clone(), reason));
        }
    }

    // Screening follows its own case subjects and the cases' safe-space
    // records (an arrival becomes a placement); referral screening's and its
    // own; safe-space those of screening and referral and its own; the catalogue of
    // monitoring the whole log.
    let consumed = |service: Service, producer: Producer| match service {
        Service::Screening => matches!(producer, Producer::Screening | Producer::SafeSpace),
        Service::Referral => matches!(producer, Producer::Screening | Producer::Referral),
        Service::SafeSpace => matches!(
            producer,
            Producer::Screening | Producer::Referral | Producer::SafeSpace
        ),
        Service::Monitoring => true,
    };
    for service in Service::EVERY {
        let expected: Vec<(u64, String, String)> = published
            .iter()
            .filter(|(producer, ..)| consumed(service, *producer))
            .map(|(_, sequence, subject, reason)| {
                (*sequence, subject.clone(), (*reason).to_owned())
            })
            .collect();
        eventually(
            &format!("{} parks what it consumes", service.name()),
            || async {
                let status = system.projection_status(service).await;
                status.parked_commits == expected.len() as u64
                    && status.state() == admin::ProjectionState::Live
            },
        )
        .await;
        let listed: Vec<(u64, String, String)> = parked(&system, service)
            .await
            .into_iter()
            .map(|p| (p.sequence, p.subject, p.reason))
            .collect();
        assert_eq!(listed, expected, "{}", service.name());
        let health = system
            .health(service)
            .await
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .expect("health")
            .into_inner()
            .status();
        assert_eq!(health, ServingStatus::Serving, "{}", service.name());
    }

    // The forged placements changed nothing.
    assert_eq!(
        facility(&system, &operator, &case, 0).await,
        "hotspot-lampedusa"
    );
    assert_eq!(
        facility(&system, &operator, &other, 0).await,
        "hotspot-lampedusa"
    );

    // A rebuild parks the same commits and gives the same content.
    for service in Service::EVERY {
        let before = system.projection_status(service).await;
        system
            .admin(service, &Caller::administrator())
            .await
            .rebuild_projection(admin::RebuildProjectionRequest {})
            .await
            .expect("rebuild");
        eventually(&format!("{} rebuilt", service.name()), || async {
            let after = system.projection_status(service).await;
            after.position == before.position && after.state() == admin::ProjectionState::Live
        })
        .await;
        let after = system.projection_status(service).await;
        assert_eq!(
            after.content_digest,
            before.content_digest,
            "{}",
            service.name()
        );
        assert_eq!(
            after.parked_commits,
            before.parked_commits,
            "{}",
            service.name()
        );
    }

    // Commands on the case still append after the untrusted messages on its subject.
    let placed = client
        .place_case(operator.request(screening::PlaceCaseRequest {
            request_id: "parking-place".to_owned(),
            case_id: case.clone(),
            facility_id: "cas-agrigento".to_owned(),
            province: "AG".to_owned(),
            facility_kind: "cas".to_owned(),
            placed_at: ts(system.now()),
            ..Default::default()
        }))
        .await
        .expect("a legitimate placement")
        .into_inner();
    let prefecture = Caller::new(OrganisationType::Prefecture, "prefecture-ag", Some("AG"));
    assert_eq!(
        facility(&system, &prefecture, &case, placed.log_sequence).await,
        "cas-agrigento"
    );
    system.stop().await;
}
