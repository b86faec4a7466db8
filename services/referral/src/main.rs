//! The referral service binary.

fn main() -> std::process::ExitCode {
    service_runtime::entry::main(referral::NAME, referral::run)
}
