// Rebuild when a migration is added: `embed_migrations!` reads the
// migrations directories at compile time, and cargo would not otherwise
// notice a new one (the step Diesel's guide gives for embedded migrations).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
