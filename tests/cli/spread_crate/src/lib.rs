//! A std-only crate whose tests run on libtest's parallel threads: each holds a
//! buffer for a while, so the process's peak depends on which tests overlap.
use std::collections::HashMap;
use std::thread::sleep;
use std::time::Duration;

/// Sums a buffer of n bytes held for hold_ms; SPREADY_EXTRA bytes more are held
/// with it (the regression the test suite injects).
pub fn checksum(n: usize, hold_ms: u64) -> u64 {
    let extra: usize = std::env::var("SPREADY_EXTRA").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    let pad = vec![0u8; extra];
    let v: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
    sleep(Duration::from_millis(hold_ms));
    v.iter().map(|&b| b as u64).sum::<u64>() + pad.iter().map(|&b| b as u64).sum::<u64>()
}

pub fn words(n: usize) -> usize {
    let mut m: HashMap<String, usize> = HashMap::new();
    for i in 0..n {
        *m.entry(format!("w{}", i % 97)).or_insert(0) += 1;
    }
    m.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    fn expect(n: usize) -> u64 {
        (0..n).map(|i| (i % 251) as u64).sum()
    }
    #[test] fn small() { assert_eq!(checksum(50_000, 15), expect(50_000)); }
    #[test] fn medium() { assert_eq!(checksum(200_000, 25), expect(200_000)); }
    #[test] fn large() { assert_eq!(checksum(400_000, 20), expect(400_000)); }
    #[test] fn larger() { assert_eq!(checksum(300_000, 10), expect(300_000)); }
    #[test] fn tiny() { assert_eq!(checksum(1_000, 5), expect(1_000)); }
    #[test] fn map() { assert_eq!(words(5_000), 97); }
    #[test] fn map_big() { assert_eq!(words(50_000), 97); }
    #[test] fn threads() {
        let h: Vec<_> = (0..3).map(|k| std::thread::spawn(move || checksum(100_000 * (k + 1), 10))).collect();
        let s: u64 = h.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(s, expect(100_000) + expect(200_000) + expect(300_000));
    }
}
