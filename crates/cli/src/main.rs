//! The `oxbpf` command.

fn main() {
    todo!("cli")
}
