//! Paging for every list (architecture invariant 16, bounded cost per call):
//! a page holds at most `page_size` items (default 50, at most 200: a larger
//! size is capped), in a stable key order; the page token is the key of the
//! last item returned, opaque to clients (hex), so pages stay consistent while
//! items are added.

use crate::Violations;

/// Items in a page when the request does not say.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// Items in a page at most, whatever the request says.
pub const MAX_PAGE_SIZE: usize = 200;

/// Which page a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub size: usize,
    /// The key of the last item of the previous page.
    pub after: Option<String>,
}

impl Page {
    /// Reads `page_size` and `page_token`; a token that is not one this
    /// service gave is a field violation.
    pub fn parse(v: &mut Violations, page_size: u32, page_token: &str) -> Page {
        let size = match page_size as usize {
            0 => DEFAULT_PAGE_SIZE,
            asked => asked.min(MAX_PAGE_SIZE),
        };
        let after = if page_token.is_empty() {
            None
        } else {
            v.check(
                "page_token",
                hex::decode(page_token)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or("is not a page token of this list"),
            )
        };
        Page { size, after }
    }

    /// This page of `items` in the order of `key`, and the token of the next
    /// page (empty after the last).
    pub fn take<T>(&self, items: Vec<T>, key: impl Fn(&T) -> String) -> (Vec<T>, String) {
        let mut keyed: Vec<(String, T)> = items
            .into_iter()
            .map(|item| (key(&item), item))
            .filter(|(k, _)| self.after.as_ref().is_none_or(|after| k > after))
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        let more = keyed.len() > self.size;
        keyed.truncate(self.size);
        let next = match (more, keyed.last()) {
            (true, Some((last, _))) => hex::encode(last),
            _ => String::new(),
        };
        (keyed.into_iter().map(|(_, item)| item).collect(), next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_walk_every_item_once_in_key_order() {
        let items: Vec<u32> = (0..23).rev().collect();
        let key = |n: &u32| format!("{n:04}");
        let mut v = Violations::default();
        let mut page = Page::parse(&mut v, 10, "");
        let mut seen = Vec::new();
        loop {
            let (items, next) = page.take(items.clone(), key);
            assert!(items.len() <= 10);
            seen.extend(items);
            if next.is_empty() {
                break;
            }
            page = Page::parse(&mut v, 10, &next);
        }
        assert!(v.is_empty());
        assert_eq!(seen, (0..23).collect::<Vec<_>>());
    }

    #[test]
    fn sizes_are_capped_and_foreign_tokens_refused() {
        let mut v = Violations::default();
        assert_eq!(Page::parse(&mut v, 0, "").size, DEFAULT_PAGE_SIZE);
        assert_eq!(Page::parse(&mut v, 100_000, "").size, MAX_PAGE_SIZE);
        assert!(v.is_empty());
        Page::parse(&mut v, 10, "not-hex!");
        assert!(!v.is_empty());
    }
}
