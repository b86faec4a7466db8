//! How a service stops, against a real nats-server with JetStream: `run`
//! returns only once its projection store is released, so the same data
//! folder opens again at once (a restart in place, a replica taking over).

use std::sync::Arc;
use std::time::Duration;

use case_log_jetstream::CaseLogConfig;
use nats_test_server::NatsServer;
use projection_sled::{Catalogue, ProjectionStore};
use service_runtime::{ManualClock, ServiceConfig, ServiceSpec};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_service_has_released_its_store_even_while_a_task_of_its_own_was_finishing() {
    let server = NatsServer::start();
    let data = tempfile::tempdir().expect("data folder");
    let config = ServiceConfig {
        data_dir: data.path().to_owned(),
        case_log: CaseLogConfig {
            url: server.url(),
            ..CaseLogConfig::default()
        },
        // Long: a store still held by something that never lets go would
        // keep `run` waiting for all of it, and the test's own limit fails first.
        grace_period_ms: 600_000,
        ..ServiceConfig::default()
    };
    let spec = ServiceSpec {
        name: "monitoring",
        projection: Catalogue::new("monitoring"),
        grpc_services: Vec::new(),
        authorisation: &[],
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let shutdown = CancellationToken::new();
    let (started, task_started) = tokio::sync::oneshot::channel();
    let running = tokio::spawn(service_runtime::serve::run(
        spec,
        config,
        listener,
        shutdown.clone(),
        Arc::new(ManualClock::new(OffsetDateTime::now_utc())),
        move |context| {
            // A task of the service's own (a deadline pass, a watch stream)
            // that holds the projection a little beyond the shutdown.
            let projection = context.projection.clone();
            let stopping = context.shutdown.clone();
            tokio::spawn(async move {
                let _ = started.send(());
                stopping.cancelled().await;
                tokio::time::sleep(Duration::from_millis(500)).await;
                drop(projection);
            });
            tonic::service::Routes::default()
        },
    ));
    task_started.await.expect("the service started its task");
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(60), running)
        .await
        .expect("run returned once its own task let go of the store, not at the grace period")
        .expect("run did not panic")
        .expect("run stopped cleanly");
    let store_dir = data.path().join("monitoring").join("projection");
    ProjectionStore::open(&store_dir).expect("the folder opens again as soon as run returns");
}
