//! The real system for the gRPC benchmarks: a nats-server (via `nats-test-server`,
//! in the durability mode asked) and the four service binaries as separate
//! release processes, started as `tests/tests/end_to_end/services_smoke.rs` starts
//! them (environment overrides of the default configuration), with a token
//! issuer of the benchmark's own, a key-encryption key and a data folder.
//!
//! The binaries are found beside `approdo-bench` itself (`target/release/` when it
//! runs with `cargo run --release`), or in `$APPRODO_BENCH_BINARIES`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use access_token::{OrganisationType, TokenIssuer, Validity};
use anyhow::{Context, Result, bail};
use contracts::admin::v1 as admin;
use nats_test_server::{Durability, NatsServer, ServerOptions};
use synthetic_landing::{Actor, Credentials, Endpoints, registry};
use tonic::transport::Channel;

/// The services, in the order they are started and reported.
pub const SERVICES: [&str; 4] = ["screening", "referral", "safe-space", "monitoring"];
/// How long a service may take to accept connections, or a projection to catch up.
const PATIENCE: Duration = Duration::from_secs(30 * 60);
const START_PATIENCE: Duration = Duration::from_secs(60);
/// Tokens last an hour at most in the services' default configuration... and a
/// run may last longer: tokens are signed again when they are this old.
const TOKEN_LIFETIME_SECS: i64 = 3_600;
const TOKEN_RENEW_SECS: u64 = 1_800;

/// Where the service binaries are.
pub fn binaries() -> Result<PathBuf> {
    let dir = match std::env::var_os("APPRODO_BENCH_BINARIES") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::current_exe()?
            .parent()
            .map(Path::to_path_buf)
            .context("the benchmark's own folder")?,
    };
    for service in SERVICES {
        if !dir.join(service).is_file() {
            bail!(
                "{} has no {service} binary: run `cargo build --release -p screening -p referral \
                 -p safe-space -p monitoring -p bench` first (or set APPRODO_BENCH_BINARIES)",
                dir.display()
            );
        }
    }
    Ok(dir)
}

/// Tokens for the landing's actors and the benchmark's queries, signed once per
/// actor (and again when half their lifetime has passed), so that the clients
/// measure the services, not the signing.
pub struct BenchCredentials {
    issuer: TokenIssuer,
    signed: Mutex<BTreeMap<String, (Instant, String)>>,
}

impl BenchCredentials {
    fn new() -> Result<BenchCredentials> {
        Ok(BenchCredentials {
            issuer: TokenIssuer::generate("approdo-bench").context("a token issuer")?,
            signed: Mutex::new(BTreeMap::new()),
        })
    }

    /// A token for a user of `organisation`.
    pub fn for_organisation(
        &self,
        org_type: OrganisationType,
        organisation: &str,
        roles: &[&str],
        province: Option<&str>,
    ) -> String {
        let key = format!("{org_type:?}/{organisation}/{province:?}/{roles:?}");
        let mut signed = self.signed.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, token)) = signed.get(&key)
            && at.elapsed() < Duration::from_secs(TOKEN_RENEW_SECS)
        {
            return token.clone();
        }
        let token = self
            .issuer
            .token(
                "approdo-bench",
                organisation,
                org_type,
                roles,
                province,
                Validity::from_now(TOKEN_LIFETIME_SECS),
            )
            .unwrap_or_default();
        signed.insert(key, (Instant::now(), token.clone()));
        token
    }

    /// The prefecture of `province` (reads cases of the province).
    pub fn prefecture(&self, province: &str) -> String {
        self.for_organisation(
            OrganisationType::Prefecture,
            &format!("prefettura-{province}"),
            &["operator"],
            Some(province),
        )
    }

    /// An analyst (reads case histories anywhere: event types and times only).
    pub fn analyst(&self) -> String {
        self.for_organisation(
            OrganisationType::Analyst,
            "bench-analyst",
            &["analyst"],
            None,
        )
    }

    pub fn administrator(&self) -> String {
        self.token(Actor::Administrator)
    }
}

impl Credentials for BenchCredentials {
    fn token(&self, actor: Actor<'_>) -> String {
        match actor {
            Actor::Administrator => self.for_organisation(
                OrganisationType::Administrator,
                "bench-admin",
                &["admin"],
                None,
            ),
            Actor::Operator { facility, province } => self.for_organisation(
                OrganisationType::ReceptionOperator,
                facility,
                &["operator"],
                Some(province),
            ),
            Actor::Receiver { organisation } => self.for_organisation(
                OrganisationType::ReceivingService,
                organisation,
                &["operator"],
                None,
            ),
        }
    }
}

/// `message` with `token` as its bearer.
pub fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// One running service binary.
pub struct Service {
    pub name: &'static str,
    child: Child,
    pub channel: Channel,
}

impl Service {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// nats-server and the services. Dropping it kills every process it started.
pub struct System {
    pub nats: NatsServer,
    binaries: PathBuf,
    folder: tempfile::TempDir,
    kek: String,
    pub credentials: Arc<BenchCredentials>,
    pub services: Vec<Service>,
    /// Data folders started so far (each service start may get a fresh one).
    generation: usize,
    /// Each service's port: a service started again listens where it did, so
    /// the clients' channels (which reconnect) reach it.
    ports: BTreeMap<&'static str, u16>,
}

impl System {
    /// A nats-server in `durability` mode and the four services on a fresh data folder.
    pub async fn start(durability: Durability) -> Result<System> {
        let binaries = binaries()?;
        let nats = NatsServer::start_with(ServerOptions {
            sync: durability,
            ..ServerOptions::default()
        })
        .context("start nats-server")?;
        let mut system = System {
            nats,
            binaries,
            folder: tempfile::Builder::new()
                .prefix("approdo-bench-")
                .tempdir()?,
            kek: person_crypto::KeyEncryptionKey::generate_hex()
                .map_err(|e| anyhow::anyhow!("a key-encryption key: {e}"))?
                .to_string(),
            credentials: Arc::new(BenchCredentials::new()?),
            services: Vec::new(),
            generation: 0,
            ports: BTreeMap::new(),
        };
        for name in SERVICES {
            system.start_service(name).await?;
        }
        for name in SERVICES {
            system.wait_caught_up(name, 0).await?;
        }
        Ok(system)
    }

    /// Starts `name` on a fresh data folder (so an empty projection) and waits
    /// until it accepts connections.
    pub async fn start_service(&mut self, name: &'static str) -> Result<()> {
        self.generation += 1;
        let data = self.folder.path().join(format!("data-{}", self.generation));
        std::fs::create_dir_all(&data)?;
        let port = match self.ports.get(name) {
            Some(port) => *port,
            None => free_port()?,
        };
        self.ports.insert(name, port);
        let prefix = format!("APPRODO_{}__", name.to_uppercase().replace('-', "_"));
        let issuer = &self.credentials.issuer;
        let courts = format!(
            "[{}]",
            registry::JUVENILE_COURTS
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut command = Command::new(self.binaries.join(name));
        command
            .env(format!("{prefix}LISTEN"), format!("127.0.0.1:{port}"))
            .env(format!("{prefix}DATA_DIR"), &data)
            .env(format!("{prefix}CASE_LOG__URL"), self.nats.url())
            .env(format!("{prefix}ENCRYPTION__KEY_ENCRYPTION_KEY"), &self.kek)
            .env(
                format!("{prefix}AUTH__ISSUERS"),
                format!(
                    "[{{ issuer = \"{}\", keys = [{{ kid = \"{}\", public_key = \"{}\" }}] }}]",
                    issuer.issuer(),
                    issuer.kid(),
                    issuer.public_key_hex()
                ),
            )
            .env(format!("{prefix}TELEMETRY__FILTER"), "warn")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(
                self.folder
                    .path()
                    .join(format!("{name}-{}.log", self.generation)),
            )?);
        if name == "screening" {
            command
                .env(
                    format!("{prefix}OPTIONS__AGE_ASSESSMENT_AUTHORITIES"),
                    &courts,
                )
                .env(
                    format!("{prefix}OPTIONS__GUARDIANSHIP_AUTHORITIES"),
                    &courts,
                );
        }
        let child = command.spawn().with_context(|| format!("start {name}"))?;
        let channel = connect(port).await.with_context(|| {
            format!(
                "{name} did not accept connections (its log: {})",
                self.folder.path().display()
            )
        })?;
        self.services.push(Service {
            name,
            child,
            channel,
        });
        Ok(())
    }

    pub fn service(&self, name: &str) -> Result<&Service> {
        self.services
            .iter()
            .find(|s| s.name == name)
            .with_context(|| format!("{name} is not running"))
    }

    pub fn endpoints(&self) -> Result<Endpoints> {
        Ok(Endpoints {
            screening: self.service("screening")?.channel.clone(),
            referral: self.service("referral")?.channel.clone(),
            safe_space: self.service("safe-space")?.channel.clone(),
        })
    }

    /// The projection's admin status.
    pub async fn status(&self, name: &str) -> Result<admin::ProjectionStatus> {
        let service = self.service(name)?;
        let mut client = admin::projection_admin_service_client::ProjectionAdminServiceClient::new(
            service.channel.clone(),
        );
        client
            .get_projection_status(with_token(
                admin::GetProjectionStatusRequest::default(),
                &self.credentials.administrator(),
            ))
            .await?
            .into_inner()
            .status
            .context("a status")
    }

    /// Waits until `name`'s projection is live, has no lag and has reached
    /// `position`; its status then.
    pub async fn wait_caught_up(
        &self,
        name: &str,
        position: u64,
    ) -> Result<admin::ProjectionStatus> {
        let started = Instant::now();
        loop {
            if let Ok(status) = self.status(name).await {
                if status.state() == admin::ProjectionState::Failed {
                    bail!("{name}'s projection failed at {}", status.failed_sequence);
                }
                if status.state() == admin::ProjectionState::Live
                    && status.lag == 0
                    && status.position >= position
                {
                    return Ok(status);
                }
            }
            if started.elapsed() > PATIENCE {
                bail!("{name} did not catch up within {PATIENCE:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops `name` with SIGTERM (it drains and flushes) and forgets it.
    pub async fn stop_service(&mut self, name: &str) -> Result<()> {
        let index = self
            .services
            .iter()
            .position(|s| s.name == name)
            .with_context(|| format!("{name} is not running"))?;
        let mut service = self.services.remove(index);
        terminate(&mut service.child).await;
        Ok(())
    }

    /// Resident memory of `name` (VmRSS), in MiB.
    pub fn rss_mib(&self, name: &str) -> Result<f64> {
        let pid = self.service(name)?.pid();
        rss_mib(pid)
    }

    /// Stops every service, in reverse order.
    pub async fn stop(&mut self) {
        while let Some(mut service) = self.services.pop() {
            terminate(&mut service.child).await;
        }
    }
}

impl Drop for System {
    fn drop(&mut self) {
        for service in &mut self.services {
            let _ = service.child.kill();
            let _ = service.child.wait();
        }
    }
}

/// SIGTERM, then SIGKILL after 15 s.
async fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(15) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// VmRSS of process `pid` in MiB, from `/proc/<pid>/status`.
pub fn rss_mib(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_vm_rss_kib(&status)
        .map(|kib| kib as f64 / 1024.0)
        .context("no VmRSS in /proc/<pid>/status")
}

/// The `VmRSS:   12345 kB` line's number.
pub fn parse_vm_rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn connect(port: u16) -> Result<Channel> {
    let started = Instant::now();
    loop {
        let endpoint = Channel::from_shared(format!("http://127.0.0.1:{port}"))?;
        if let Ok(channel) = endpoint.connect().await {
            return Ok(channel);
        }
        if started.elapsed() > START_PATIENCE {
            bail!("nothing answers on port {port}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The machine, for the output's header: CPU model, cores, kernel.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_owned())
        .unwrap_or_default();
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|r| r.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map_or(String::new(), |kib| {
            format!(", {:.1} GiB memory", kib as f64 / 1024.0 / 1024.0)
        });
    format!("{cpu}, {cores} cores{memory}, Linux {kernel}")
}

/// `nats-server --version`'s answer.
pub fn nats_version() -> String {
    nats_test_server::nats_server_binary()
        .ok()
        .and_then(|binary| Command::new(binary).arg("--version").output().ok())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_else(|| "nats-server (version unknown)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_resident_memory_from_proc_status() {
        let status = "Name:\tscreening\nVmPeak:\t  900 kB\nVmRSS:\t   20480 kB\nThreads:\t4\n";
        assert_eq!(parse_vm_rss_kib(status), Some(20_480));
        assert_eq!(parse_vm_rss_kib("Name:\tx\n"), None);
        // This process has a resident set.
        assert!(rss_mib(std::process::id()).expect("own VmRSS") > 0.0);
    }
}
