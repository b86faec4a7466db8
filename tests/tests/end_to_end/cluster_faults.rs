//! The case log on a 3-node JetStream cluster (loopback, `sync_interval: always`,
//! the stream with 3 replicas, each service with its own NATS user from the
//! committed permissions file) under command load from concurrent clients
//! through the real screening and referral binaries: the stream's leader is
//! killed mid-run, later the new leader is frozen with SIGSTOP for a few
//! seconds. A client whose command failed asks again with the same request id.
//! Read from the log afterwards by an independent reader: every acknowledged
//! command is in it exactly once, at the sequence its answer gave, and no
//! request id is there twice; the services serve and accept new commands; and
//! each projection equals a clean rebuild. This replaces `deploy/cluster-test.sh`,
//! which rotted because nothing ran it.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use case_log_jetstream::{CaseLog, CaseLogConfig};
use contracts::admin::v1 as admin;
use contracts::screening::v1 as screening;
use nats_test_server::{NatsCluster, ServerOptions, workspace_root};
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::support::auth::issuer;
use crate::support::wait::within;
use crate::support::{Caller, ts};

/// The services started as binaries against the cluster.
const SERVICES: [&str; 2] = ["screening", "referral"];
/// Clients sending commands at once.
const CLIENTS: usize = 6;
/// Acknowledgements to see before the first fault, and after each.
const ACKS_PER_PHASE: usize = 30;
/// How long the leader stays frozen.
const PAUSE: Duration = Duration::from_secs(4);
/// The most any phase of the test may take.
const PHASE_LIMIT: Duration = Duration::from_secs(60);
const FACILITY: &str = "cas-cluster";
const STREAM: &str = "APPRODO_CASE_LOG";

/// A service binary; killed when dropped.
struct Binary {
    name: &'static str,
    port: u16,
    child: Child,
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The test's password of a service's NATS user.
fn password(user: &str) -> String {
    format!("test-password-of-{user}")
}

/// Each node: the local permissions file as deployed (the services' users,
/// their passwords from the environment), plus an unrestricted user that the
/// test's own reader, without credentials, is bound to.
fn permissions(dir: &std::path::Path) -> ServerOptions {
    let deployed =
        std::fs::read_to_string(workspace_root().join("deploy/local/nats-permissions.conf"))
            .expect("permissions file");
    let with_reader = deployed.replacen(
        "users: [",
        "users: [\n    { user: reader, password: reader-password-for-tests }",
        1,
    );
    assert_ne!(with_reader, deployed, "the permissions file lists users");
    let path = dir.join("nats-permissions-with-reader.conf");
    std::fs::write(&path, format!("no_auth_user: reader\n{with_reader}")).expect("write");
    ServerOptions {
        include: vec![path],
        env: ["screening", "referral", "safe-space", "monitoring"]
            .iter()
            .map(|user| {
                (
                    format!(
                        "APPRODO_NATS_{}_PASSWORD",
                        user.to_uppercase().replace('-', "_")
                    ),
                    password(user),
                )
            })
            .collect(),
        ..ServerOptions::default()
    }
}

/// Starts service `name` against every node of the cluster, with its own NATS
/// user, 3 replicas, the shared data folder, key-encryption key and token issuer.
fn start(name: &'static str, port: u16, urls: &str, data: &std::path::Path, kek: &str) -> Binary {
    let issuer = issuer();
    let prefix = format!("APPRODO_{}__", name.to_uppercase().replace('-', "_"));
    let child = Command::new(end_to_end::binary(name))
        .env(format!("{prefix}LISTEN"), format!("127.0.0.1:{port}"))
        .env(format!("{prefix}DATA_DIR"), data)
        .env(format!("{prefix}CASE_LOG__URL"), urls)
        .env(format!("{prefix}CASE_LOG__REPLICAS"), "3")
        .env(format!("{prefix}CASE_LOG__USER"), name)
        .env(format!("{prefix}CASE_LOG__PASSWORD"), password(name))
        .env(format!("{prefix}GRACE_PERIOD_MS"), "3000")
        .env(format!("{prefix}ENCRYPTION__KEY_ENCRYPTION_KEY"), kek)
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
        .stderr(Stdio::from(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(data.join(format!("{name}.log")))
                .expect("log file"),
        ))
        .spawn()
        .expect("spawn service");
    Binary { name, port, child }
}

/// Polls `attempt` up to [`PHASE_LIMIT`]; panics naming `what` otherwise.
async fn within_phase<T, F, Fut>(what: &str, attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    within(PHASE_LIMIT, attempt)
        .await
        .unwrap_or_else(|| panic!("not within {PHASE_LIMIT:?}: {what}"))
}

async fn channel(port: u16) -> Channel {
    let uri = format!("http://127.0.0.1:{port}");
    within_phase("the service accepts connections", || {
        let endpoint = Channel::from_shared(uri.clone())
            .expect("uri")
            .timeout(Duration::from_secs(10));
        async move { endpoint.connect().await.ok() }
    })
    .await
}

async fn serving(channel: &Channel) -> bool {
    HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .is_ok_and(|r| r.into_inner().status() == ServingStatus::Serving)
}

async fn projection_status(channel: &Channel) -> Option<admin::ProjectionStatus> {
    admin::projection_admin_service_client::ProjectionAdminServiceClient::with_interceptor(
        channel.clone(),
        Caller::administrator().bearer(),
    )
    .get_projection_status(admin::GetProjectionStatusRequest {
        with_content_digest: true,
    })
    .await
    .ok()
    .and_then(|r| r.into_inner().status)
}

/// The independent reader: its own connection to the cluster.
async fn reader(urls: &str) -> CaseLog {
    within_phase("the cluster takes a JetStream client", || async {
        CaseLog::connect(&CaseLogConfig {
            url: urls.to_owned(),
            replicas: 3,
            ..CaseLogConfig::default()
        })
        .await
        .ok()
    })
    .await
}

/// The stream's leader and whether every replica is current and online.
async fn stream_cluster(log: &CaseLog) -> Option<(String, bool)> {
    let info = log
        .jetstream()
        .get_stream(STREAM)
        .await
        .ok()?
        .get_info()
        .await
        .ok()?;
    assert_eq!(info.config.num_replicas, 3, "the log has 3 replicas");
    let cluster = info.cluster?;
    let leader = cluster.leader?;
    let all_current = cluster.replicas.len() == NatsCluster::NODES - 1
        && cluster.replicas.iter().all(|p| p.current && !p.offline);
    Some((leader, all_current))
}

/// Moves the stream's leadership to the node holding the most of the
/// services' connections (its client connections but the reader's own), so
/// that a fault there also cuts a service's connection; that node, its name
/// and the services' connections it holds.
async fn leader_where_services_connect(
    cluster: &NatsCluster,
    log: &CaseLog,
) -> (usize, String, u64) {
    let (target, connections) = within_phase("a node holds a service's connection", || async {
        let reader_on = log.jetstream().client().server_info().server_name;
        (0..NatsCluster::NODES)
            .filter_map(|i| {
                let own = u64::from(NatsCluster::name(i) == reader_on);
                cluster
                    .client_connections(i)
                    .map(|c| (i, c.saturating_sub(own)))
            })
            .max_by_key(|(_, c)| *c)
            .filter(|(_, c)| *c >= 1)
    })
    .await;
    let name = NatsCluster::name(target);
    within_phase(&format!("{name} leads the stream"), || async {
        let (leader, _) = stream_cluster(log).await?;
        if leader == name {
            return Some(());
        }
        let answer: serde_json::Value = log
            .jetstream()
            .request(
                format!("STREAM.LEADER.STEPDOWN.{STREAM}"),
                &serde_json::json!({ "placement": { "preferred": name } }),
            )
            .await
            .ok()?;
        assert!(answer.get("error").is_none(), "step down: {answer}");
        None
    })
    .await;
    (target, name, connections)
}

/// Who acknowledged what: (request id, log sequence), and retries made.
#[derive(Default)]
struct Load {
    acknowledged: Mutex<Vec<(String, u64)>>,
    retries: AtomicU64,
    stop: AtomicBool,
}

impl Load {
    fn count(&self) -> usize {
        self.acknowledged.lock().expect("lock").len()
    }
}

fn open_request(request_id: &str) -> screening::OpenCaseRequest {
    screening::OpenCaseRequest {
        request_id: request_id.to_owned(),
        arrival: Some(screening::Arrival {
            place: "LAMPEDUSA".to_owned(),
            arrived_at: ts(time::OffsetDateTime::now_utc() - time::Duration::hours(2)),
        }),
        facility_id: FACILITY.to_owned(),
        ..Default::default()
    }
}

/// Opens a case, asking again with the same request id until it is
/// acknowledged (an unavailable log, a timeout, a lost connection); its log sequence.
async fn open_until_acknowledged(channel: &Channel, request_id: &str, load: &Load) -> u64 {
    let started = Instant::now();
    loop {
        let mut client =
            screening::screening_service_client::ScreeningServiceClient::new(channel.clone());
        match client
            .open_case(Caller::operator(FACILITY, "AG").request(open_request(request_id)))
            .await
        {
            Ok(answer) => return answer.into_inner().log_sequence,
            Err(status) => {
                assert!(
                    !matches!(
                        status.code(),
                        Code::InvalidArgument
                            | Code::PermissionDenied
                            | Code::Unauthenticated
                            | Code::FailedPrecondition
                            | Code::AlreadyExists
                    ),
                    "{request_id}: {status:?}"
                );
                assert!(
                    started.elapsed() < PHASE_LIMIT,
                    "{request_id} never acknowledged: {status:?}"
                );
                load.retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn client_loop(client: usize, channel: Channel, load: Arc<Load>) {
    let mut n = 0;
    while !load.stop.load(Ordering::Relaxed) {
        let request_id = format!("client-{client}-{n}");
        let sequence = open_until_acknowledged(&channel, &request_id, &load).await;
        load.acknowledged
            .lock()
            .expect("lock")
            .push((request_id, sequence));
        n += 1;
    }
}

/// Waits until `more` acknowledgements beyond `from` have been seen.
async fn acknowledged_beyond(load: &Load, from: usize, more: usize, what: &str) -> usize {
    within_phase(what, || async {
        (load.count() >= from + more).then(|| load.count())
    })
    .await
}

/// The cluster, the services' data folder and key-encryption key, the reader.
struct Setup {
    cluster: NatsCluster,
    urls: String,
    data: tempfile::TempDir,
    kek: String,
    log: CaseLog,
}

impl Setup {
    async fn new() -> Setup {
        let data = tempfile::Builder::new()
            .prefix("approdo-cluster-")
            .tempdir()
            .expect("data folder");
        let cluster = NatsCluster::start_with(permissions(data.path()))
            .unwrap_or_else(|error| panic!("{error}"));
        let urls = cluster.urls();
        let kek = person_crypto::KeyEncryptionKey::generate_hex()
            .expect("a key-encryption key")
            .to_string();
        let log = reader(&urls).await;
        Setup {
            cluster,
            urls,
            data,
            kek,
            log,
        }
    }

    fn start(&self, name: &'static str, port: u16) -> Binary {
        start(name, port, &self.urls, self.data.path(), &self.kek)
    }
}

/// A channel to the binary once it reports SERVING.
async fn serving_channel(binary: &Binary) -> Channel {
    let channel = channel(binary.port).await;
    within_phase(&format!("{} SERVING", binary.name), || async {
        serving(&channel).await.then_some(())
    })
    .await;
    channel
}

/// The services started, the facility registered, the clients sending.
async fn services_under_load(
    setup: &Setup,
) -> (
    Vec<Binary>,
    Vec<Channel>,
    Arc<Load>,
    Vec<tokio::task::JoinHandle<()>>,
) {
    let binaries: Vec<Binary> = SERVICES
        .iter()
        .map(|name| setup.start(name, free_port()))
        .collect();
    let mut channels = Vec::new();
    for binary in &binaries {
        channels.push(serving_channel(binary).await);
    }
    screening::screening_service_client::ScreeningServiceClient::new(channels[0].clone())
        .register_facility(
            Caller::administrator().request(screening::RegisterFacilityRequest {
                request_id: format!("facility-{FACILITY}"),
                facility_id: FACILITY.to_owned(),
                province: "AG".to_owned(),
                facility_kind: "cas".to_owned(),
            }),
        )
        .await
        .expect("facility registered");
    let load = Arc::new(Load::default());
    let clients = (0..CLIENTS)
        .map(|client| tokio::spawn(client_loop(client, channels[0].clone(), load.clone())))
        .collect();
    (binaries, channels, load, clients)
}

/// Stops the clients; then the checks after the faults: the services serve
/// and accept a new command; read by the independent reader, every
/// acknowledged command is in the log once, at its sequence, and no request
/// id twice; nothing parked; each projection equals a clean rebuild. Prints
/// the counts.
async fn checks_after_faults(
    test: &str,
    setup: &Setup,
    binaries: &[Binary],
    channels: &[Channel],
    load: &Load,
    clients: Vec<tokio::task::JoinHandle<()>>,
    started: Instant,
) {
    load.stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.expect("client");
    }
    // Each service serves again once its projection follows the log again
    // (after a fault its runner may still be waiting out missed heartbeats).
    for (binary, channel) in binaries.iter().zip(channels) {
        within_phase(
            &format!("{} SERVING after the faults", binary.name),
            || async { serving(channel).await.then_some(()) },
        )
        .await;
    }
    let request = format!("{}-after-faults", test.replace(' ', "-"));
    let after = open_until_acknowledged(&channels[0], &request, load).await;

    let log = &setup.log;
    let last = within_phase("the log's last sequence", || async {
        log.last_sequence().await.ok()
    })
    .await;
    assert!(after <= last);
    let mut found_at: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for sequence in 1..=last {
        let commit = within_phase(&format!("commit {sequence}"), || async {
            log.commit_at(sequence).await.ok()
        })
        .await;
        found_at
            .entry(commit.request_id().to_owned())
            .or_default()
            .push(sequence);
    }
    let mut acknowledged = load.acknowledged.lock().expect("lock").clone();
    acknowledged.push((request, after));
    let found = acknowledged
        .iter()
        .filter(|(request, sequence)| found_at.get(request) == Some(&vec![*sequence]))
        .count();
    let duplicates: Vec<_> = found_at.iter().filter(|(_, at)| at.len() > 1).collect();

    let mut parked = 0;
    for (binary, channel) in binaries.iter().zip(channels) {
        let before = within_phase(&format!("{} applies the log", binary.name), || async {
            projection_status(channel)
                .await
                .filter(|s| s.position >= last && s.state() == admin::ProjectionState::Live)
        })
        .await;
        parked += before.parked_commits;
        admin::projection_admin_service_client::ProjectionAdminServiceClient::with_interceptor(
            channel.clone(),
            Caller::administrator().bearer(),
        )
        .rebuild_projection(admin::RebuildProjectionRequest {})
        .await
        .expect("rebuild");
        let rebuilt = within_phase(&format!("{} rebuilds", binary.name), || async {
            projection_status(channel).await.filter(|s| {
                s.position >= before.position && s.state() == admin::ProjectionState::Live
            })
        })
        .await;
        assert_eq!(rebuilt.position, before.position, "{}", binary.name);
        // What the service warned of (ids and codes only), to tell why when it fails.
        let logged =
            std::fs::read_to_string(setup.data.path().join(format!("{}.log", binary.name)))
                .unwrap_or_default();
        for line in logged.lines().filter(|l| !l.contains(r#""level":"INFO""#)) {
            println!("{}: {line}", binary.name);
        }
        let equal = rebuilt.content_digest == before.content_digest;
        println!(
            "{test}: {} projection {} its clean rebuild",
            binary.name,
            if equal { "equals" } else { "DIFFERS FROM" }
        );
        assert!(
            equal,
            "{}: the projection after the faults differs from a clean rebuild",
            binary.name
        );
    }

    println!(
        "{test}: commands acknowledged {}, found once at their sequence {found}, \
         duplicates {}, parked {parked}, retries {}, log commits {last}, took {:?}",
        acknowledged.len(),
        duplicates.len(),
        load.retries.load(Ordering::Relaxed),
        started.elapsed()
    );
    assert_eq!(found, acknowledged.len(), "every acknowledged command once");
    assert!(duplicates.is_empty(), "request ids twice: {duplicates:?}");
    assert_eq!(parked, 0, "nothing parked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_acknowledged_through_a_leader_kill_and_a_frozen_leader_are_in_the_log_once() {
    let started = Instant::now();
    let mut setup = Setup::new().await;
    let (binaries, channels, load, clients) = services_under_load(&setup).await;

    // Fault 1: the stream's leader killed mid-run.
    let before_kill =
        acknowledged_beyond(&load, 0, ACKS_PER_PHASE, "acknowledgements before the kill").await;
    let (killed, leader, connections) =
        leader_where_services_connect(&setup.cluster, &setup.log).await;
    setup.cluster.node_mut(killed).kill();
    println!(
        "killed the stream leader {leader} (holding {connections} of the services' connections) after {before_kill} acknowledgements"
    );
    let (new_leader, _) = within_phase("another node leads the stream", || async {
        stream_cluster(&setup.log)
            .await
            .filter(|(l, _)| *l != leader)
    })
    .await;
    let after_kill = acknowledged_beyond(
        &load,
        load.count(),
        ACKS_PER_PHASE,
        "the services go on with a node down",
    )
    .await;
    setup
        .cluster
        .node_mut(killed)
        .restart()
        .unwrap_or_else(|error| panic!("{error}"));
    within_phase("the restarted node catches up", || async {
        stream_cluster(&setup.log)
            .await
            .filter(|(_, current)| *current)
    })
    .await;

    // Fault 2: the (new) leader frozen for a few seconds, then let go on.
    let (frozen, leader, connections) =
        leader_where_services_connect(&setup.cluster, &setup.log).await;
    let node = setup.cluster.node(frozen);
    node.pause().unwrap_or_else(|error| panic!("{error}"));
    println!(
        "froze the stream leader {leader} (holding {connections} of the services' connections; leader after the kill: {new_leader}) for {PAUSE:?} after {after_kill} acknowledgements"
    );
    tokio::time::sleep(PAUSE).await;
    node.resume().unwrap_or_else(|error| panic!("{error}"));
    acknowledged_beyond(
        &load,
        load.count(),
        ACKS_PER_PHASE,
        "the services go on after the frozen leader resumes",
    )
    .await;

    checks_after_faults(
        "cluster faults",
        &setup,
        &binaries,
        &channels,
        &load,
        clients,
        started,
    )
    .await;
}

/// Times each service is killed.
const SERVICE_KILLS: usize = 3;
/// Acknowledgements to see between two kills.
const ACKS_BETWEEN_KILLS: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_acknowledged_while_the_services_are_killed_again_and_again_are_in_the_log_once() {
    let started = Instant::now();
    let setup = Setup::new().await;
    let (mut binaries, channels, load, clients) = services_under_load(&setup).await;
    for round in 0..SERVICE_KILLS {
        for binary in &mut binaries {
            acknowledged_beyond(
                &load,
                load.count(),
                ACKS_BETWEEN_KILLS,
                &format!("acknowledgements before killing {} ({round})", binary.name),
            )
            .await;
            // SIGKILL with commands in flight, then the same binary on its port and folder.
            binary.child.kill().expect("SIGKILL");
            binary.child.wait().expect("wait");
            *binary = setup.start(binary.name, binary.port);
            serving_channel(binary).await;
        }
    }
    acknowledged_beyond(
        &load,
        load.count(),
        ACKS_BETWEEN_KILLS,
        "the services go on after the last kill",
    )
    .await;
    checks_after_faults(
        "service crashes",
        &setup,
        &binaries,
        &channels,
        &load,
        clients,
        started,
    )
    .await;
}
