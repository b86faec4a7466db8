//! Waiting on eventual consistency: poll a condition until it holds, within a
//! patience, instead of sleeping and then asserting.

use std::future::Future;
use std::time::{Duration, Instant};

/// How long a condition may take to hold before the test fails. Ten seconds,
/// or `APPRODO_TEST_PATIENCE_SECS` on a slow machine.
pub fn patience() -> Duration {
    std::env::var("APPRODO_TEST_PATIENCE_SECS")
        .ok()
        .and_then(|secs| secs.parse().ok())
        .map_or(Duration::from_secs(10), Duration::from_secs)
}

const POLL: Duration = Duration::from_millis(25);

/// Polls `check` until it holds, at most [`patience`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    until_some(what, || {
        let holds = check();
        async move { holds.await.then_some(()) }
    })
    .await;
}

/// Polls `attempt` until it gives a value, at most [`patience`]; that value.
pub async fn until_some<T, F, Fut>(what: &str, attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    match within(patience(), attempt).await {
        Some(value) => value,
        None => panic!("never within {:?}: {what}", patience()),
    }
}

/// Polls `attempt` until it gives a value or `limit` has passed.
pub async fn within<T, F, Fut>(limit: Duration, mut attempt: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = attempt().await {
            return Some(value);
        }
        if started.elapsed() >= limit {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}
