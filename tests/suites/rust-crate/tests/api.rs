// Integration tests: the crate from outside, one test executable.
use mycrate::{word_counts, Cache};

#[test]
fn round_trip() {
    let mut c = Cache::new();
    c.put("x");
    assert_eq!(c.evict().map(|s| s.len()), Some(64));
    assert!(c.evict().is_none());
}

#[test]
fn many_words() {
    let text = "lorem ipsum dolor sit amet ".repeat(20);
    assert_eq!(word_counts(&text).len(), 5);
}
