//! SQLite's plans as at UVA's scale, in a small test database: the scale
//! campus's planner statistics and `EXPLAIN QUERY PLAN`.

use common_grounds::db::DbConn;
use diesel::prelude::*;

/// The planner statistics of the scale campus (`bench/run sqlite`: 25,000
/// students, 8,000 sections, 1,000,000 messages; `ANALYZE`, then
/// `SELECT tbl, idx, stat FROM sqlite_stat1`), for the tables that grow with
/// a campus. SQLite plans from these figures alone (it is built without
/// STAT4, and the hourly refresh gathers no samples), so written into a small
/// database they make SQLite plan each page as it would at UVA's scale.
pub const SCALE_STATISTICS: &[(&str, &str, &str)] = &[
    (
        "chat_pseudonyms",
        "idx_chat_pseudonyms_user_class",
        "124135 5 1",
    ),
    (
        "chat_pseudonyms",
        "sqlite_autoindex_chat_pseudonyms_1",
        "124135 19 1",
    ),
    (
        "chat_search_docs",
        "idx_chat_search_docs_class",
        "1010339 153 4",
    ),
    (
        "chat_search_docs",
        "sqlite_autoindex_chat_search_docs_1",
        "1010339 1",
    ),
    (
        "class_meetings",
        "sqlite_autoindex_class_meetings_1",
        "8001 1",
    ),
    (
        "class_meetings",
        "sqlite_autoindex_class_meetings_2",
        "8001 1 1",
    ),
    (
        "class_messages",
        "idx_class_messages_by_activity",
        "266023 41 1 1",
    ),
    (
        "class_messages",
        "idx_class_messages_by_votes",
        "266023 41 41 1 1",
    ),
    (
        "class_messages",
        "idx_class_messages_class_created",
        "1010533 153 1 1",
    ),
    (
        "class_messages",
        "idx_class_messages_author",
        "1010533 41 9 1",
    ),
    (
        "class_messages",
        "idx_class_messages_class_pseudonym",
        "1010533 153 9",
    ),
    (
        "class_messages",
        "idx_class_messages_class_roots",
        "266023 41 1 1",
    ),
    ("class_messages", "idx_class_messages_flagged", "1190 1"),
    ("class_messages", "idx_class_messages_hidden", "194 1"),
    ("class_messages", "idx_class_messages_parent_id", "744510 3"),
    (
        "class_messages",
        "idx_class_messages_replies",
        "1010533 5 1 1 1 1 1 1",
    ),
    (
        "class_messages",
        "idx_class_messages_unread",
        "1010533 153 1 1 1 1 1 1 1",
    ),
    (
        "class_messages",
        "sqlite_autoindex_class_messages_1",
        "1010533 1",
    ),
    (
        "classes",
        "idx_classes_subject_catalog_term",
        "8000 259 2 2",
    ),
    ("classes", "idx_classes_term", "8000 8000"),
    ("classes", "sqlite_autoindex_classes_1", "8000 1"),
    ("classes", "sqlite_autoindex_classes_2", "8000 8000 1"),
    ("email_outbox", "idx_email_outbox_due", "545 545 1"),
    ("email_outbox", "idx_email_outbox_sent", "545 1"),
    ("email_outbox", "sqlite_autoindex_email_outbox_1", "545 1"),
    ("friendships", "idx_friendships_pair", "250002 11 1"),
    ("friendships", "idx_friendships_user_id_1", "250002 11 8"),
    ("friendships", "idx_friendships_user_id_2", "250002 11 8"),
    ("friendships", "sqlite_autoindex_friendships_1", "250002 1"),
    ("message_flags", "idx_message_flags_pending", "1578 2"),
    (
        "message_flags",
        "idx_message_flags_user_created",
        "1578 1 1",
    ),
    (
        "message_flags",
        "sqlite_autoindex_message_flags_1",
        "1578 2 1",
    ),
    ("sessions", "idx_sessions_expires_at", "20000 10000"),
    ("sessions", "idx_sessions_user_id", "20000 1"),
    ("sessions", "sqlite_autoindex_sessions_1", "20000 1"),
    ("sessions", "sqlite_autoindex_sessions_2", "20000 1"),
    ("user_classes", "idx_user_classes_class_user", "125000 17 1"),
    (
        "user_classes",
        "sqlite_autoindex_user_classes_1",
        "125000 5 1",
    ),
    ("users", "idx_users_staff", "2 1"),
    ("users", "idx_users_suspended", "3 1"),
    ("users", "idx_users_unverified_created", "545 1"),
    ("users", "sqlite_autoindex_users_1", "25546 1"),
    ("users", "sqlite_autoindex_users_2", "25546 1"),
    ("users", "sqlite_autoindex_users_3", "25546 1"),
    ("users", "sqlite_autoindex_users_4", "25546 25546"),
    ("users", "users_name_key_idx", "25546 324"),
];

/// Replaces this database's planner statistics with the scale campus's and
/// has this connection read them (other connections keep what they loaded).
pub fn use_scale_statistics(conn: &mut DbConn) {
    // ANALYZE makes `sqlite_stat1`, whose rows are then replaced.
    diesel::sql_query("ANALYZE").execute(conn).unwrap();
    diesel::sql_query("DELETE FROM sqlite_stat1")
        .execute(conn)
        .unwrap();
    for (table, index, stat) in SCALE_STATISTICS {
        diesel::sql_query("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)")
            .bind::<diesel::sql_types::Text, _>(table)
            .bind::<diesel::sql_types::Text, _>(index)
            .bind::<diesel::sql_types::Text, _>(stat)
            .execute(conn)
            .unwrap();
    }
    diesel::sql_query("ANALYZE sqlite_schema")
        .execute(conn)
        .unwrap();
}

/// What `EXPLAIN QUERY PLAN` says SQLite will do for a statement.
pub fn plan_of(conn: &mut DbConn, sql: &str) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Step {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }
    // Unbound parameters are NULL; without STAT4 the plan does not depend on them.
    diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
        .load::<Step>(conn)
        .unwrap_or_else(|e| panic!("EXPLAIN {sql}: {e}"))
        .into_iter()
        .map(|s| s.detail)
        .collect()
}

/// The steps of a statement's plan that read one of the `large` tables whole
/// (`SCAN`) and that `allowed(table, step)` does not excuse. A table read
/// through an alias (`class_messages AS h`, `message_flags f`) goes by the
/// table's own name.
pub fn whole_table_reads(
    conn: &mut DbConn,
    sql: &str,
    large: &[&str],
    allowed: impl Fn(&str, &str) -> bool,
) -> Vec<String> {
    let aliases = aliases_in(sql);
    plan_of(conn, sql)
        .into_iter()
        .filter(|step| {
            let Some(name) = step
                .strip_prefix("SCAN ")
                .and_then(|rest| rest.split_whitespace().next())
            else {
                return false;
            };
            let table = aliases.get(name).map_or(name, String::as_str);
            large.contains(&table) && !allowed(table, step)
        })
        .collect()
}

/// The partial indexes of this database (`CREATE INDEX … WHERE …`): reading
/// one whole reads only the rows its condition holds.
pub fn partial_indexes(conn: &mut DbConn) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    diesel::sql_query(
        "SELECT name FROM sqlite_schema WHERE type = 'index' AND sql LIKE '% WHERE %'",
    )
    .load::<Name>(conn)
    .unwrap()
    .into_iter()
    .map(|n| n.name)
    .collect()
}

/// Alias → table, for each `FROM t a`, `FROM t AS a`, `JOIN t AS a` in `sql`.
fn aliases_in(sql: &str) -> std::collections::HashMap<String, String> {
    const NOT_ALIASES: &[&str] = &[
        "WHERE", "ON", "INNER", "LEFT", "JOIN", "ORDER", "GROUP", "LIMIT", "UNION", "CROSS",
    ];
    let words: Vec<String> = sql
        .replace(['(', ')', ','], " ")
        .split_whitespace()
        .map(|w| w.trim_matches(['`', '"']).to_string())
        .collect();
    let mut aliases = std::collections::HashMap::new();
    for (i, word) in words.iter().enumerate() {
        if !(word.eq_ignore_ascii_case("FROM") || word.eq_ignore_ascii_case("JOIN")) {
            continue;
        }
        let (Some(table), Some(next)) = (words.get(i + 1), words.get(i + 2)) else {
            continue;
        };
        let alias = if next.eq_ignore_ascii_case("AS") {
            words.get(i + 3)
        } else if NOT_ALIASES.iter().any(|k| next.eq_ignore_ascii_case(k)) {
            None
        } else {
            Some(next)
        };
        if let Some(alias) = alias {
            aliases.insert(alias.clone(), table.clone());
        }
    }
    aliases
}
