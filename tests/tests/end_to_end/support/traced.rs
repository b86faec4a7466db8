//! Runs a test with its own tracing subscriber. All the tests share one
//! process, so none installs a global one: the subscriber is the default of the
//! test's thread and of every thread of a runtime built for the test (workers
//! and blocking threads), which is where the services it starts run. Other
//! tests, on other threads, neither see it nor write to it.

use std::cell::RefCell;
use std::future::Future;

use tracing::Dispatch;
use tracing::dispatcher::DefaultGuard;

thread_local! {
    static DEFAULT: RefCell<Option<DefaultGuard>> = const { RefCell::new(None) };
}

/// A second dispatcher that lives as long as the process. With exactly one
/// dispatcher registered, tracing-core decides a callsite's interest from the
/// dispatcher of whichever thread hits it first: a test beside this one (on a
/// thread with no subscriber) would then switch the callsite off for good. With
/// two, interest is decided over every dispatcher, and each thread filters.
fn keep_interest_shared() {
    static SECOND: std::sync::OnceLock<Dispatch> = std::sync::OnceLock::new();
    SECOND.get_or_init(|| Dispatch::new(tracing::subscriber::NoSubscriber::default()));
}

/// Runs `test` to completion on a two-worker runtime whose threads all record
/// to `subscriber`.
pub fn with_subscriber<S, F>(subscriber: S, test: F) -> F::Output
where
    S: Into<Dispatch>,
    F: Future,
{
    keep_interest_shared();
    let dispatch: Dispatch = subscriber.into();
    let on_start = dispatch.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            let guard = tracing::dispatcher::set_default(&on_start);
            DEFAULT.with(|default| *default.borrow_mut() = Some(guard));
        })
        .on_thread_stop(|| {
            DEFAULT.with(|default| default.borrow_mut().take());
        })
        .build()
        .expect("runtime");
    let output = tracing::dispatcher::with_default(&dispatch, || runtime.block_on(test));
    // Stop the runtime's threads while its subscriber is still this test's.
    drop(runtime);
    output
}
