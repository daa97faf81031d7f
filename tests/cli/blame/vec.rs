// vec.rs - a Vec grown by the crate's own function; n (argv[1]) u64 leaked
//
// The growth happens deep in liballoc (finish_grow < grow_amortized < ...):
// the regression is explained by vec::collect_items, demangled, no hash.
// Single-threaded: std's own blocks (the main thread's info) are the runtime's.
#[inline(never)]
fn collect_items(n: u64) -> Vec<u64> {
    let mut v = Vec::new();
    for i in 0..n {
        v.push(i); // @vec_push
    }
    v
}

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let v = collect_items(n);
    println!("{}", v.len());
    std::mem::forget(v);
}
