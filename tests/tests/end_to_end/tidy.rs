//! Conventions the compiler cannot check, read from `cargo metadata` and the tree:
//! - only the adapter crates `case-log-jetstream` and `person-keys-jetstream` depend on
//!   async-nats, only `projection-sled` on sled;
//! - the command-line client depends on no service, adapter or server crate (it
//!   talks gRPC through `contracts` and signs tokens with `access-token`);
//! - `access-token` depends on no server, network or async runtime crate;
//! - domain crates (`[package.metadata.approdo] layer = "domain"`) depend on nothing that does I/O,
//!   and read no clock and draw no randomness (time and ids arrive as inputs);
//! - no service depends on another service, and no service appends to the log
//!   but through the runtime's kernel (`Kernel::execute`): one pipeline for all;
//! - crate folders are named after their crate; every `.rs` file starts with `//!`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Crates that do I/O, talk to the network or a store, carry a wire format, or
/// draw randomness. `time` is allowed: its values are inputs; reading its clock
/// is caught by the source scan below.
const IO_CRATES: &[&str] = &[
    "tokio",
    "async-nats",
    "sled",
    "tonic",
    "prost",
    "prost-types",
    "hyper",
    "reqwest",
    "opentelemetry",
    "tracing-subscriber",
    "contracts",
    "case-log-jetstream",
    "person-keys-jetstream",
    "projection-sled",
    "service-runtime",
    "telemetry",
    "rand",
    "uuid",
];

fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("metadata json")
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn packages(metadata: &Value) -> Vec<&Value> {
    metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .collect()
}

fn dependency_names(package: &Value) -> Vec<String> {
    package["dependencies"]
        .as_array()
        .expect("dependencies")
        .iter()
        .map(|d| d["name"].as_str().expect("name").to_owned())
        .collect()
}

fn dependents_of(metadata: &Value, dependency: &str) -> Vec<String> {
    packages(metadata)
        .into_iter()
        .filter(|p| dependency_names(p).iter().any(|d| d == dependency))
        .map(|p| p["name"].as_str().expect("name").to_owned())
        .collect()
}

#[test]
fn only_the_nats_adapters_import_async_nats_and_only_the_projection_crate_imports_sled() {
    let metadata = metadata();
    let mut nats = dependents_of(&metadata, "async-nats");
    nats.sort();
    assert_eq!(nats, ["case-log-jetstream", "person-keys-jetstream"]);
    assert_eq!(dependents_of(&metadata, "sled"), ["projection-sled"]);
}

/// Names of the service crates (those under `services/`).
fn service_crates(metadata: &Value) -> Vec<String> {
    packages(metadata)
        .into_iter()
        .filter(|p| {
            let manifest = PathBuf::from(p["manifest_path"].as_str().expect("path"));
            manifest
                .parent()
                .and_then(Path::parent)
                .and_then(Path::file_name)
                .is_some_and(|n| n == "services")
        })
        .map(|p| p["name"].as_str().expect("name").to_owned())
        .collect()
}

fn package<'a>(metadata: &'a Value, name: &str) -> &'a Value {
    packages(metadata)
        .into_iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no package {name}"))
}

#[test]
fn the_command_line_client_depends_on_no_service_adapter_or_server_crate() {
    let metadata = metadata();
    let services = service_crates(&metadata);
    assert!(!services.is_empty(), "no crate under services/");
    let mut forbidden: Vec<&str> = vec![
        "service-runtime",
        "case-log-jetstream",
        "person-keys-jetstream",
        "projection-sled",
        "async-nats",
        "sled",
    ];
    forbidden.extend(services.iter().map(String::as_str));
    for dependency in dependency_names(package(&metadata, "approdo-cli")) {
        assert!(
            !forbidden.contains(&dependency.as_str()),
            "approdo-cli depends on {dependency}"
        );
    }
}

#[test]
fn no_service_depends_on_another_service() {
    let metadata = metadata();
    let services = service_crates(&metadata);
    for service in &services {
        for dependency in dependency_names(package(&metadata, service)) {
            assert!(
                !services.contains(&dependency),
                "service {service} depends on service {dependency}"
            );
        }
    }
}

#[test]
fn services_append_to_the_log_only_through_the_kernel() {
    // The log's own `execute`/`append` are the kernel's to call: a handler that
    // calls them skips the shared checks (jurisdiction, idempotency, error mapping).
    let forbidden = [
        ".execute(&address",
        "log().execute(",
        ".append(&",
        "log.execute(",
    ];
    let mut found = Vec::new();
    visit(&workspace_root().join("services"), &mut |file| {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for pattern in forbidden {
            if text.contains(pattern) {
                found.push(format!("{}: {pattern}", file.display()));
            }
        }
    });
    assert!(found.is_empty(), "appends bypassing the kernel: {found:#?}");
}

#[test]
fn access_tokens_need_no_server_network_or_async_runtime() {
    let metadata = metadata();
    for dependency in dependency_names(package(&metadata, "access-token")) {
        assert!(
            !IO_CRATES.contains(&dependency.as_str()) || dependency == "rand",
            "access-token depends on {dependency}"
        );
    }
}

#[test]
fn domain_crates_depend_on_nothing_that_does_io() {
    let metadata = metadata();
    let domain: Vec<&Value> = packages(&metadata)
        .into_iter()
        .filter(|p| p["metadata"]["approdo"]["layer"] == "domain")
        .collect();
    assert!(!domain.is_empty(), "no crate declares layer = \"domain\"");
    for package in domain {
        for dependency in dependency_names(package) {
            assert!(
                !IO_CRATES.contains(&dependency.as_str()),
                "domain crate {} depends on {dependency}",
                package["name"]
            );
        }
    }
}

#[test]
fn domain_crates_read_no_clock_and_draw_no_randomness() {
    let metadata = metadata();
    for package in packages(&metadata) {
        if package["metadata"]["approdo"]["layer"] != "domain" {
            continue;
        }
        let manifest = PathBuf::from(package["manifest_path"].as_str().expect("path"));
        let src = manifest.parent().expect("folder").join("src");
        visit(&src, &mut |file| {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            for forbidden in [
                "now_utc",
                "SystemTime",
                "Instant::now",
                "thread_rng",
                "rand::",
                "std::fs",
                "std::net",
            ] {
                assert!(
                    !text.contains(forbidden),
                    "{} uses {forbidden}",
                    file.display()
                );
            }
        });
    }
}

#[test]
fn crate_folders_are_named_after_their_crate() {
    let metadata = metadata();
    for package in packages(&metadata) {
        let manifest = PathBuf::from(package["manifest_path"].as_str().expect("path"));
        let folder = manifest.parent().expect("folder");
        let parent = folder
            .parent()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str());
        if matches!(parent, Some("crates" | "services")) {
            assert_eq!(
                folder.file_name().and_then(|n| n.to_str()),
                package["name"].as_str(),
                "folder of {}",
                package["name"]
            );
        }
    }
}

#[test]
fn every_rust_file_starts_with_a_doc_line_saying_what_it_is_for() {
    let mut missing = Vec::new();
    for top in ["crates", "services", "tests", "xtask"] {
        visit(&workspace_root().join(top), &mut |file| {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            if !text.trim_start().starts_with("//!") {
                missing.push(file.display().to_string());
            }
        });
    }
    assert!(
        missing.is_empty(),
        "files without a leading //! line: {missing:#?}"
    );
}

fn visit(dir: &Path, on_file: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target") {
                visit(&path, on_file);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            on_file(&path);
        }
    }
}
