// threads.rs - threads, a channel and a mutex that leak nothing: std's blocks are the runtime's
//
// What std keeps at exit varies from run to run (a thread handle of 48 bytes
// is there or not, as threads finish), and glibc keeps each finished
// thread's TLS vector with its cached stack: none of it is the program's.
use std::sync::{mpsc, Arc, Mutex};
use std::thread;

fn main() {
    let (tx, rx) = mpsc::channel();
    let m = Arc::new(Mutex::new(Vec::new()));
    let mut hs = Vec::new();
    for i in 0..4 {
        let tx = tx.clone();
        let m = m.clone();
        hs.push(thread::spawn(move || {
            m.lock().unwrap().push(i);
            tx.send(i * 2).unwrap();
        }));
    }
    drop(tx);
    let s: i32 = rx.iter().sum();
    for h in hs {
        h.join().unwrap();
    }
    let named = thread::Builder::new().name("worker".into()).spawn(|| 1).unwrap();
    println!("{} {} {}", s, m.lock().unwrap().len(), named.join().unwrap());
}
