//! The monitoring service binary.

fn main() -> std::process::ExitCode {
    service_runtime::entry::main(monitoring::NAME, monitoring::run)
}
