//! The safe-space service binary.

fn main() -> std::process::ExitCode {
    service_runtime::entry::main(safe_space::NAME, safe_space::run)
}
