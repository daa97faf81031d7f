// A binary of the crate: its unit tests are under `mycrate-bin` (docs/config.md).
fn greeting(name: &str) -> String {
    format!("hello, {name}")
}

fn main() {
    println!("{}", greeting("world"));
}

#[cfg(test)]
mod tests {
    #[test]
    fn greets() {
        assert_eq!(super::greeting("memgate"), "hello, memgate");
    }
}
