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

/// Runs `test` to completion on a two-worker runtime whose threads all record
/// to `subscriber`.
pub fn with_subscriber<F>(subscriber: impl Into<Dispatch>, test: F) -> F::Output
where
    F: Future,
{
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
