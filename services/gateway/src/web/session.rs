//! The web inbox's sessions: an opaque random id (the cookie's only content)
//! mapped, in the gateway's memory, to the receiving organisation and user the
//! identity provider vouched for, with the session's CSRF token. A session
//! ends at sign-out, after `idle` without a request, or `lifetime` after
//! sign-in, whichever comes first. Nothing of a session is ever logged.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Who a session acts as: taken from the identity provider's token at
/// sign-in, never from a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub organisation: String,
    pub user: String,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub principal: Principal,
    pub csrf: String,
    created: Instant,
    last_seen: Instant,
}

pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    idle: Duration,
    lifetime: Duration,
    /// The most sessions held at once (the oldest go first beyond it).
    capacity: usize,
}

/// 32 bytes from the thread's CSPRNG (ChaCha, seeded by the OS), hex.
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

impl Sessions {
    pub fn new(idle: Duration, lifetime: Duration, capacity: usize) -> Sessions {
        Sessions {
            map: Mutex::new(HashMap::new()),
            idle,
            lifetime,
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A new session for `principal`: its id (for the cookie) and the session.
    pub fn create(&self, principal: Principal, now: Instant) -> (String, Session) {
        let id = random_token();
        let session = Session {
            principal,
            csrf: random_token(),
            created: now,
            last_seen: now,
        };
        let mut map = self.lock();
        map.retain(|_, s| self.alive(s, now));
        while map.len() >= self.capacity {
            let oldest = map
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(key) => map.remove(&key),
                None => break,
            };
        }
        map.insert(id.clone(), session.clone());
        (id, session)
    }

    fn alive(&self, session: &Session, now: Instant) -> bool {
        now.duration_since(session.last_seen) < self.idle
            && now.duration_since(session.created) < self.lifetime
    }

    /// The live session of `id`, its idle time restarted; an expired one is removed.
    pub fn touch(&self, id: &str, now: Instant) -> Option<Session> {
        let mut map = self.lock();
        let alive = map.get(id).is_some_and(|s| self.alive(s, now));
        if !alive {
            map.remove(id);
            return None;
        }
        let session = map.get_mut(id)?;
        session.last_seen = now;
        Some(session.clone())
    }

    /// Whether `id` is still a live session, without restarting its idle time
    /// (a live stream is not activity).
    pub fn is_alive(&self, id: &str, now: Instant) -> bool {
        self.lock().get(id).is_some_and(|s| self.alive(s, now))
    }

    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }
}

/// Equality that takes the same time whatever the first differing byte.
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal() -> Principal {
        Principal {
            organisation: "differenza-donna".to_owned(),
            user: "operatrice-1".to_owned(),
        }
    }

    #[test]
    fn a_session_ends_when_idle_or_too_old_and_at_sign_out() {
        let sessions = Sessions::new(Duration::from_secs(60), Duration::from_secs(150), 10);
        let start = Instant::now();
        let (id, session) = sessions.create(principal(), start);
        assert_eq!(id.len(), 64);
        assert_ne!(id, session.csrf);
        assert!(
            sessions
                .touch(&id, start + Duration::from_secs(50))
                .is_some()
        );
        assert!(
            sessions
                .touch(&id, start + Duration::from_secs(100))
                .is_some()
        );
        // Used within its idle time each time, it still ends at its lifetime.
        assert!(
            sessions
                .touch(&id, start + Duration::from_secs(149))
                .is_some()
        );
        assert!(
            sessions
                .touch(&id, start + Duration::from_secs(151))
                .is_none()
        );
        let (id, _) = sessions.create(principal(), start);
        assert!(
            sessions
                .touch(&id, start + Duration::from_secs(61))
                .is_none()
        );
        assert!(
            sessions.touch(&id, start).is_none(),
            "an expired session is gone"
        );
        let (id, _) = sessions.create(principal(), start);
        sessions.remove(&id);
        assert!(sessions.touch(&id, start).is_none());
    }

    #[test]
    fn ids_are_unguessable_and_the_oldest_session_goes_beyond_capacity() {
        let sessions = Sessions::new(Duration::from_secs(60), Duration::from_secs(600), 2);
        let start = Instant::now();
        let (first, _) = sessions.create(principal(), start);
        let (second, _) = sessions.create(principal(), start + Duration::from_secs(1));
        let (third, _) = sessions.create(principal(), start + Duration::from_secs(2));
        assert_ne!(first, second);
        assert!(
            sessions
                .touch(&first, start + Duration::from_secs(3))
                .is_none()
        );
        assert!(
            sessions
                .touch(&second, start + Duration::from_secs(3))
                .is_some()
        );
        assert!(
            sessions
                .touch(&third, start + Duration::from_secs(3))
                .is_some()
        );
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "abcd"));
    }
}
