//! The four real service binaries start against a real nats-server, answer
//! gRPC health (SERVING once their projection is live) and server reflection,
//! and stop on SIGTERM within the grace period; and the whole pathway runs
//! through them as separate processes (a synthetic landing over gRPC), with
//! monitoring's indicators reflecting it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use contracts::admin::v1 as admin;
use tokio_stream_shim::next;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};

use crate::support::auth::issuer;
use crate::support::wait::within;
use crate::support::{Caller, System};

const SERVICES: [&str; 4] = ["screening", "referral", "safe-space", "monitoring"];
const PATIENCE: Duration = Duration::from_secs(20);

mod tokio_stream_shim {
    pub async fn next<T>(stream: &mut tonic::Streaming<T>) -> Option<T> {
        stream.message().await.ok().flatten()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

struct Running {
    name: &'static str,
    port: u16,
    child: Child,
}

/// Starts the binary of service `name` against the system's server, with its
/// data folder, key-encryption key and token issuer.
fn start(name: &'static str, system: &System) -> Running {
    start_with(name, system, &[])
}

/// As [`start`], with more `APPRODO_<SERVICE>__` settings (`KEY`, value).
fn start_with(name: &'static str, system: &System, settings: &[(&str, &str)]) -> Running {
    let port = free_port();
    let issuer = issuer();
    let prefix = format!("APPRODO_{}__", name.to_uppercase().replace('-', "_"));
    let child = Command::new(end_to_end::binary(name))
        .env(format!("{prefix}LISTEN"), format!("127.0.0.1:{port}"))
        .env(format!("{prefix}DATA_DIR"), system.data_dir())
        .env(format!("{prefix}CASE_LOG__URL"), system.nats().url())
        .env(format!("{prefix}GRACE_PERIOD_MS"), "3000")
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
        .envs(
            settings
                .iter()
                .map(|(key, value)| (format!("{prefix}{key}"), *value)),
        )
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn service");
    Running { name, port, child }
}

async fn channel(port: u16) -> Channel {
    let uri = format!("http://127.0.0.1:{port}");
    within(PATIENCE, || {
        let endpoint = Channel::from_shared(uri.clone()).expect("uri");
        async move { endpoint.connect().await.ok() }
    })
    .await
    .unwrap_or_else(|| panic!("port {port} never accepted"))
}

/// SERVING once the service reports it, or what it reports after the patience.
async fn wait_serving(channel: Channel) -> ServingStatus {
    let health = HealthClient::new(channel);
    let status = || {
        let mut health = health.clone();
        async move {
            health
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .map(|r| r.into_inner().status())
                .unwrap_or(ServingStatus::Unknown)
        }
    };
    let serving = within(PATIENCE, || {
        let status = status();
        async move { (status.await == ServingStatus::Serving).then_some(()) }
    })
    .await;
    match serving {
        Some(()) => ServingStatus::Serving,
        None => status().await,
    }
}

async fn reflected_services(channel: Channel) -> Vec<String> {
    let mut reflection = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection")
        .into_inner();
    match next(&mut responses).await.and_then(|r| r.message_response) {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

/// Sends SIGTERM and waits for the process to exit; how long it took.
async fn terminate(running: &mut Running) -> Duration {
    let pid = running.child.id().to_string();
    let sent = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = within(Duration::from_secs(10), || {
        let exit = running.child.try_wait().expect("wait");
        async move { exit }
    })
    .await
    .unwrap_or_else(|| panic!("{} ignored SIGTERM", running.name));
    assert!(
        exit.success(),
        "{} exited with {exit} after SIGTERM",
        running.name
    );
    sent.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_services_serve_health_and_reflection_and_stop_on_sigterm() {
    let system = System::start(&[]).await;
    let mut running: Vec<Running> = SERVICES.iter().map(|name| start(name, &system)).collect();
    for service in &running {
        let channel = channel(service.port).await;
        assert_eq!(
            wait_serving(channel.clone()).await,
            ServingStatus::Serving,
            "{}",
            service.name
        );
        let names = reflected_services(channel.clone()).await;
        for expected in [
            "grpc.health.v1.Health",
            "approdo.admin.v1.ProjectionAdminService",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{}: {names:?}",
                service.name
            );
        }
        let serves_screening = names
            .iter()
            .any(|n| n == "approdo.screening.v1.ScreeningService");
        assert_eq!(
            serves_screening,
            service.name == "screening",
            "{}: {names:?}",
            service.name
        );
        let request = Caller::administrator().request(admin::GetProjectionStatusRequest::default());
        let status =
            admin::projection_admin_service_client::ProjectionAdminServiceClient::new(channel)
                .get_projection_status(request)
                .await
                .expect("status")
                .into_inner()
                .status
                .expect("status");
        assert_eq!(status.name, service.name);
        assert_eq!(status.state(), admin::ProjectionState::Live);
    }

    for service in &mut running {
        let took = terminate(service).await;
        assert!(
            took < Duration::from_secs(5),
            "{} took {took:?} to stop",
            service.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_pathway_runs_through_the_four_binaries_and_the_indicators_reflect_it() {
    use contracts::monitoring::v1 as monitoring;
    use contracts::referral::v1 as referral;
    use contracts::screening::v1 as screening;
    use synthetic_landing::{Endpoints, Landing, RealTime, registry};

    use crate::landing::{TestCredentials, count, whole_log};

    let system = System::start(&[]).await;
    let courts = format!(
        "[{}]",
        registry::JUVENILE_COURTS
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut running = vec![
        start_with(
            "screening",
            &system,
            &[
                ("OPTIONS__AGE_ASSESSMENT_AUTHORITIES", &courts),
                ("OPTIONS__GUARDIANSHIP_AUTHORITIES", &courts),
            ],
        ),
        start("referral", &system),
        start("safe-space", &system),
        start("monitoring", &system),
    ];
    for service in &running {
        assert_eq!(
            wait_serving(channel(service.port).await).await,
            ServingStatus::Serving,
            "{}",
            service.name
        );
    }
    let endpoints = Endpoints {
        screening: channel(running[0].port).await,
        referral: channel(running[1].port).await,
        safe_space: channel(running[2].port).await,
    };
    let landing = Landing::plan(7, 40);
    let report = synthetic_landing::run(
        &landing,
        &endpoints,
        &TestCredentials,
        &RealTime::ending_now(&landing),
    )
    .await
    .expect("the landing runs through the binaries");
    assert_eq!(report.cases.len(), 40);

    let caller = Caller::administrator();
    let mut indicators =
        monitoring::monitoring_service_client::MonitoringServiceClient::with_interceptor(
            channel(running[3].port).await,
            caller.bearer(),
        );
    let tables = indicators
        .get_indicators(caller.request(monitoring::GetIndicatorsRequest {
            min_sequence: report.last_sequence,
            ..Default::default()
        }))
        .await
        .expect("indicators")
        .into_inner()
        .tables;
    let total_of = |id: &str| {
        let table = tables.iter().find(|t| t.indicator == id).expect(id);
        let total = table
            .total
            .as_ref()
            .and_then(|t| t.total.as_ref())
            .expect("total");
        (!total.suppressed).then_some(total.count as usize)
    };
    let log = whole_log(&system).await;
    assert_eq!(count::<screening::CaseOpened>(&log), 40);
    assert_eq!(
        total_of("1.preliminary_check"),
        Some(40),
        "every arrival counted"
    );
    let sent = count::<referral::ReferralSent>(&log);
    assert!(sent >= 5, "{sent} referrals sent");
    let accepted = count::<referral::ReferralAccepted>(&log);
    let table = tables
        .iter()
        .find(|t| t.indicator == "4.referral_answers")
        .expect("answers");
    let column = table
        .columns
        .iter()
        .position(|c| c == "accepted")
        .expect("accepted");
    let cell = &table.total.as_ref().expect("total row").cells[column];
    if accepted >= 5 {
        assert_eq!((cell.suppressed, cell.count as usize), (false, accepted));
    } else {
        assert!(cell.suppressed, "{accepted} accepted must not be published");
    }
    for service in &mut running {
        terminate(service).await;
    }
}
