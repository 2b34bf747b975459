//! `load_shaped!`: a boxed query kept in Diesel's statement cache by its shape.
//!
//! Diesel caches a prepared statement under its query's type when the type
//! alone fixes the SQL. A boxed query's type does not (its filters are chosen
//! at run time), so on every execution Diesel writes out the whole SQL to use
//! as the cache key and hashes it: for the class page's thread list (about
//! 10 kB of SQL) that was 6% of the page's instructions (`bench/instructions`,
//! session 40). A page that builds one of a few fixed statements can name
//! which one by a small number, its shape, and Diesel then keys it by type as
//! it does a plain query: [`Shaped`] carries the shape in its type.
//!
//! The shape must tell every statement the caller can build apart: two
//! statements under one shape would run one's prepared SQL with the other's
//! binds. Debug builds (every test) check it: the first statement seen under
//! a shape is remembered, and a later one with other SQL panics there
//! (`check_shape`).

use std::marker::PhantomData;

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::{QueryResult, RunQueryDsl};

/// `query`, cached by (`Tag`, `SHAPE`). `Tag` is a type of the caller's own,
/// so two callers' shapes never meet.
pub struct Shaped<const SHAPE: u8, Q, Tag> {
    query: Q,
    tag: PhantomData<Tag>,
}

impl<const SHAPE: u8, Q, Tag> Shaped<SHAPE, Q, Tag> {
    pub fn new(query: Q) -> Self {
        Shaped {
            query,
            tag: PhantomData,
        }
    }
}

impl<const SHAPE: u8, Q, Tag: 'static> QueryId for Shaped<SHAPE, Q, Tag> {
    type QueryId = Shaped<SHAPE, (), Tag>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<const SHAPE: u8, Q: Query, Tag> Query for Shaped<SHAPE, Q, Tag> {
    type SqlType = Q::SqlType;
}

impl<const SHAPE: u8, Q, Tag, DB> QueryFragment<DB> for Shaped<SHAPE, Q, Tag>
where
    DB: Backend,
    Q: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.query.walk_ast(out)
    }
}

impl<const SHAPE: u8, Q, Tag, Conn> RunQueryDsl<Conn> for Shaped<SHAPE, Q, Tag> {}

/// Debug builds: panics when `query`'s SQL is not the SQL first seen under
/// (`Tag`, `shape`) on this backend: when the caller's shape does not fix
/// its SQL. Release builds: nothing.
pub fn check_shape<Tag: 'static, C, Q>(shape: u8, query: &Q, _conn: &C)
where
    C: diesel::Connection,
    C::Backend: Default + 'static,
    <C::Backend as Backend>::QueryBuilder: Default,
    Q: QueryFragment<C::Backend>,
{
    #[cfg(debug_assertions)]
    {
        use std::any::TypeId;
        use std::collections::HashMap;
        use std::sync::{Mutex, OnceLock};
        type Seen = Mutex<HashMap<(TypeId, TypeId, u8), String>>;
        static SEEN: OnceLock<Seen> = OnceLock::new();
        let shown = diesel::debug_query::<C::Backend, _>(query).to_string();
        let sql = shown.split(" -- binds: ").next().unwrap_or_default();
        let mut seen = SEEN
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let key = (TypeId::of::<Tag>(), TypeId::of::<C::Backend>(), shape);
        let first = seen.entry(key).or_insert_with(|| sql.to_string());
        assert!(
            first == sql,
            "shape {shape} names two statements:\n{first}\n{sql}"
        );
    }
    #[cfg(not(debug_assertions))]
    let _ = (shape, query);
}

/// As `query.load(conn)` (`query` a boxed query, `conn` a backend's own
/// connection), with the statement cached by `shape`, which the caller
/// computes from every choice that changes the query's SQL. Shapes 0 to 23
/// are cached by type; a larger one loads as a plain boxed query (keyed by
/// its SQL, as before).
#[macro_export]
macro_rules! load_shaped {
    ($tag:ty, $shape:expr, $query:expr, $conn:expr) => {{
        let query = $query;
        let shape: u8 = $shape;
        let conn = $conn;
        $crate::db::shaped::check_shape::<$tag, _, _>(shape, &query, &*conn);
        $crate::load_shaped!(@arms $tag, shape, query, conn,
            0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23)
    }};
    (@arms $tag:ty, $shape:ident, $query:ident, $conn:ident, $($n:literal)*) => {
        match $shape {
            $($n => $crate::db::shaped::Shaped::<$n, _, $tag>::new($query).load($conn),)*
            _ => $query.load($conn),
        }
    };
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;
    use diesel::sqlite::SqliteConnection;

    use super::*;

    struct Numbers;

    fn conn() -> SqliteConnection {
        let mut conn = SqliteConnection::establish(":memory:").expect("in-memory SQLite");
        diesel::sql_query("CREATE TABLE numbers (n INTEGER NOT NULL PRIMARY KEY)")
            .execute(&mut conn)
            .expect("table");
        diesel::sql_query("INSERT INTO numbers VALUES (1), (2), (3)")
            .execute(&mut conn)
            .expect("rows");
        conn
    }

    diesel::table! {
        numbers (n) {
            n -> Integer,
        }
    }

    type Query = numbers::BoxedQuery<'static, diesel::sqlite::Sqlite, diesel::sql_types::Integer>;

    fn above(bound: Option<i32>) -> Query {
        let query = numbers::table
            .select(numbers::n)
            .order(numbers::n)
            .into_boxed();
        match bound {
            Some(b) => query.filter(numbers::n.gt(b)),
            None => query,
        }
    }

    #[test]
    fn each_shape_is_its_own_statement_by_type() {
        use std::any::TypeId;
        let id = |shape| match shape {
            0 => <Shaped<0, Query, Numbers> as QueryId>::query_id(),
            _ => <Shaped<1, Query, Numbers> as QueryId>::query_id(),
        };
        assert_eq!(id(0), Some(TypeId::of::<Shaped<0, (), Numbers>>()));
        assert_ne!(id(0), id(1));
        let mut conn = conn();
        for _ in 0..2 {
            let all: Vec<i32> = crate::load_shaped!(Numbers, 0, above(None), &mut conn).unwrap();
            let some: Vec<i32> =
                crate::load_shaped!(Numbers, 1, above(Some(1)), &mut conn).unwrap();
            let beyond: Vec<i32> =
                crate::load_shaped!(Numbers, 40, above(Some(2)), &mut conn).unwrap();
            assert_eq!((all, some, beyond), (vec![1, 2, 3], vec![2, 3], vec![3]));
        }
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "shape 2 names two statements")]
    fn a_shape_that_names_two_statements_fails_in_debug_builds() {
        let mut conn = conn();
        let _: Vec<i32> = crate::load_shaped!(Numbers, 2, above(None), &mut conn).unwrap();
        let _: Vec<i32> = crate::load_shaped!(Numbers, 2, above(Some(1)), &mut conn).unwrap();
    }
}
