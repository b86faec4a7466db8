//! The screening service binary.

fn main() -> std::process::ExitCode {
    service_runtime::entry::main(screening::NAME, screening::run)
}
