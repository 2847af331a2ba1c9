// `sqlx::migrate!` embeds the migrations at compile time. It notices edits to a migration it
// already knows, but not a new file in the directory, so rebuild whenever the directory changes.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations/sqlite");
    println!("cargo:rerun-if-changed=../../migrations/postgres");
}
