//! The four real service binaries start against a real nats-server, answer
//! gRPC health (SERVING once their projection is live) and server reflection,
//! and stop on SIGTERM within the grace period.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use contracts::admin::v1 as admin;
use nats_test_server::NatsServer;
use service_runtime::caller::{OrganisationType, TokenIssuer};
use tokio_stream_shim::next;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};

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

fn start(
    name: &'static str,
    nats: &NatsServer,
    data: &std::path::Path,
    issuer: &TokenIssuer,
    kek: &str,
) -> Running {
    let port = free_port();
    let prefix = format!("APPRODO_{}__", name.to_uppercase().replace('-', "_"));
    let child = Command::new(end_to_end::binary(name))
        .env(format!("{prefix}LISTEN"), format!("127.0.0.1:{port}"))
        .env(format!("{prefix}DATA_DIR"), data)
        .env(format!("{prefix}CASE_LOG__URL"), nats.url())
        .env(format!("{prefix}GRACE_PERIOD_MS"), "3000")
        .env(format!("{prefix}ENCRYPTION__KEY_ENCRYPTION_KEY"), kek)
        .env(
            format!("{prefix}AUTH__ISSUERS"),
            format!(
                "[{{ issuer = \"{}\", public_key = \"{}\" }}]",
                issuer.issuer(),
                issuer.public_key_hex()
            ),
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
    let started = Instant::now();
    loop {
        let endpoint = Channel::from_shared(format!("http://127.0.0.1:{port}")).expect("uri");
        match endpoint.connect().await {
            Ok(channel) => return channel,
            Err(_) if started.elapsed() < PATIENCE => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(error) => panic!("port {port} never accepted: {error}"),
        }
    }
}

async fn wait_serving(channel: Channel) -> ServingStatus {
    let mut health = HealthClient::new(channel);
    let started = Instant::now();
    loop {
        let status = health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .map(|r| r.into_inner().status())
            .unwrap_or(ServingStatus::Unknown);
        if status == ServingStatus::Serving || started.elapsed() > PATIENCE {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
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

fn terminate(running: &mut Running) -> Duration {
    let pid = running.child.id().to_string();
    let sent = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    loop {
        if let Some(exit) = running.child.try_wait().expect("wait") {
            assert!(
                exit.success(),
                "{} exited with {exit} after SIGTERM",
                running.name
            );
            return sent.elapsed();
        }
        assert!(
            sent.elapsed() < Duration::from_secs(10),
            "{} ignored SIGTERM",
            running.name
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_services_serve_health_and_reflection_and_stop_on_sigterm() {
    let nats = NatsServer::start();
    let data = tempfile::tempdir().expect("data");
    let issuer = TokenIssuer::generate("smoke-test");
    let kek = person_crypto::KeyEncryptionKey::generate_hex();
    let mut running: Vec<Running> = SERVICES
        .iter()
        .map(|name| start(name, &nats, data.path(), &issuer, &kek))
        .collect();

    let token = issuer.token(
        "ops-1",
        "ministry",
        OrganisationType::Administrator,
        &["admin"],
        None,
        i64::MAX / 2,
    );
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
        let mut request = tonic::Request::new(admin::GetProjectionStatusRequest {});
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("ascii"),
        );
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
        let took = terminate(service);
        assert!(
            took < Duration::from_secs(5),
            "{} took {took:?} to stop",
            service.name
        );
    }
}
