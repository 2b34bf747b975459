//! Migrated template databases, made once per test run: a test that needs the
//! schema gets a copy of one (`CREATE DATABASE … TEMPLATE` on PostgreSQL, a
//! file copy on SQLite), so the migrations run once, not once per test. A
//! template is named by a hash of the migrations it holds, so an edited
//! migration or another branch's never reuses a stale one.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common_grounds::config::DatabaseUrl;
use common_grounds::db;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};
use sha2::{Digest, Sha256};

/// The first 16 hex digits of a SHA-256 over every file (name and contents)
/// under `migrations/<backend>/`.
fn migrations_hash(backend: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let mut files = Vec::new();
    list_files(&root, &mut files);
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(
            file.strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .as_bytes(),
        );
        hasher.update([0]);
        hasher.update(std::fs::read(&file).unwrap());
        hasher.update([0]);
    }
    hex::encode(&hasher.finalize()[..8])
}

fn list_files(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            list_files(&path, into);
        } else {
            into.push(path);
        }
    }
}

/// The migrated SQLite file every SQLite test database is copied from.
pub fn sqlite() -> &'static Path {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let name = format!("cg-template-{}", migrations_hash("sqlite"));
        let file = std::env::temp_dir().join(format!("{name}.db"));
        if !file.exists() {
            // Built under a name of its own and renamed when complete: another
            // test binary may be building the same template at this moment.
            let building =
                std::env::temp_dir().join(format!("{name}-{}.db", uuid::Uuid::new_v4().simple()));
            {
                let mut conn = db::Manager::new(DatabaseUrl::Sqlite(building.clone()))
                    .establish()
                    .unwrap();
                db::run_migrations(&mut conn).unwrap();
                // Everything into the main file, so copying it copies the database.
                conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    .unwrap();
            }
            for suffix in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", building.display()));
            }
            std::fs::rename(&building, &file).unwrap();
        }
        file
    })
}

#[derive(QueryableByName)]
struct Found {
    #[diesel(sql_type = Integer)]
    #[allow(dead_code)]
    found: i32,
}

/// The migrated PostgreSQL database every PostgreSQL test database is created
/// from, on the server at `admin`. Made under an advisory lock (test binaries
/// and other checkouts share the server) and renamed to its final name only
/// when complete, so a template that exists is whole.
pub fn postgres(admin: &str) -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let hash = migrations_hash("postgres");
        let name = format!("cg_template_{hash}");
        let mut conn = PgConnection::establish(admin).expect("connect to TEST_DATABASE_URL");
        let key = i64::from_str_radix(&hash[..15], 16).unwrap();
        diesel::sql_query(format!("SELECT pg_advisory_lock({key})"))
            .execute(&mut conn)
            .unwrap();
        let exists = !diesel::sql_query("SELECT 1 AS found FROM pg_database WHERE datname = $1")
            .bind::<Text, _>(&name)
            .load::<Found>(&mut conn)
            .unwrap()
            .is_empty();
        if !exists {
            let building = format!("{name}_building");
            for statement in [
                format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"),
                format!("CREATE DATABASE {building}"),
            ] {
                diesel::sql_query(statement).execute(&mut conn).unwrap();
            }
            {
                let mut url = url::Url::parse(admin).unwrap();
                url.set_path(&format!("/{building}"));
                let mut template = db::Manager::new(DatabaseUrl::Postgres(url.to_string()))
                    .establish()
                    .unwrap();
                db::run_migrations(&mut template).unwrap();
            }
            diesel::sql_query(format!("ALTER DATABASE {building} RENAME TO {name}"))
                .execute(&mut conn)
                .unwrap();
        }
        diesel::sql_query(format!("SELECT pg_advisory_unlock({key})"))
            .execute(&mut conn)
            .unwrap();
        name
    })
}
