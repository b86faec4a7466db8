//! End-to-end tests of the whole system live in one test binary,
//! `tests/tests/end_to_end/` (its harness in `support/`); this library holds
//! what the harness needs outside it: finding the workspace's built binaries.

use std::path::PathBuf;

/// The folder holding this build's binaries (`target/debug`), found from the
/// running test executable (`target/debug/deps/<test>`).
pub fn binaries_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let deps = exe.parent().map(PathBuf::from).unwrap_or_default();
    deps.parent().map(PathBuf::from).unwrap_or(deps)
}

/// A workspace binary, with a hint when it has not been built.
pub fn binary(name: &str) -> PathBuf {
    let path = binaries_dir().join(name);
    assert!(
        path.is_file(),
        "{} is not built: run `cargo build --workspace --bins` (cargo xtask test does)",
        path.display()
    );
    path
}
