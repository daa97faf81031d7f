// harness.rs - a #[test] run by libtest (rustc --test): the test's own leak is the
// program's, libtest's and std's blocks around it are the runtime's
#[cfg(test)]
mod tests {
    #[test]
    fn grows() {
        let mut v = Vec::new();
        for i in 0..1000u64 {
            v.push(i);
        }
        std::mem::forget(v); // 1024 x 8 bytes
    }
}
