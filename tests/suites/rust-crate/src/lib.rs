//! A small std-only crate whose tests memgate gates case by case
//! (tests/suites/cargo_test.sh).

use std::collections::HashMap;

/// Words of `text` and how often each occurs.
///
/// ```
/// // a doc test: cargo test runs it, memgate does not (docs/config.md)
/// assert_eq!(mycrate::word_counts("a a")["a"], 2);
/// ```
pub fn word_counts(text: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for w in text.split_whitespace() {
        *counts.entry(w.to_lowercase()).or_insert(0) += 1;
    }
    counts
}

/// A cache of rendered lines; `evict` drops the oldest.
pub struct Cache {
    lines: Vec<String>,
}

impl Cache {
    pub fn new() -> Self {
        Cache { lines: Vec::new() }
    }

    pub fn put(&mut self, line: &str) {
        self.lines.push(line.repeat(64));
    }

    pub fn evict(&mut self) -> Option<String> {
        if self.lines.is_empty() {
            None
        } else {
            Some(self.lines.remove(0))
        }
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }
}

impl Default for Cache {
    fn default() -> Self {
        Self::new()
    }
}

/// Sums `parts` slices of 0..n on threads of their own.
pub fn parallel_sum(n: u64, parts: u64) -> u64 {
    let chunk = n / parts;
    let handles: Vec<_> = (0..parts)
        .map(|p| std::thread::spawn(move || (p * chunk..(p + 1) * chunk).sum::<u64>()))
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_words() {
        let c = word_counts("a b A c b a");
        assert_eq!(c["a"], 3);
        assert_eq!(c["b"], 2);
    }

    #[test]
    fn counts_nothing() {
        assert!(word_counts("").is_empty());
    }

    #[test]
    fn cache_fills() {
        let mut c = Cache::new();
        for i in 0..50 {
            c.put(&i.to_string());
        }
        assert_eq!(c.len(), 50);
    }

    #[test]
    fn cache_evicts() {
        let mut c = Cache::new();
        c.put("first");
        c.put("second");
        let old = c.evict().unwrap();
        assert_eq!(old.len(), 5 * 64);
        // the regression under test: the evicted line is forgotten, never freed
        if std::env::var_os("MG_SUITE_LEAK").is_some() {
            std::mem::forget(old);
        }
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn slow_sort() {
        let mut v: Vec<u32> = (0..200).rev().collect();
        v.sort();
        assert_eq!(v[0], 0);
    }

    #[test]
    fn boxes_a_table() {
        let table: Box<[u32]> = (0..256).collect();
        assert_eq!(table[255], 255);
    }

    #[test]
    fn sums_on_threads() {
        assert_eq!(parallel_sum(1000, 4), 999 * 1000 / 2);
    }

    #[test]
    #[ignore]
    fn slow_and_ignored() {
        panic!("cargo test does not run it; nor does memgate");
    }

    mod nested {
        #[test]
        fn deep_name() {
            let v: Vec<String> = (0..10).map(|i| format!("item {i}")).collect();
            assert_eq!(v.len(), 10);
        }
    }
}
