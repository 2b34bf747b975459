//! `count_of`: how many rows a query gives, as one value a statement selects.

use diesel::backend::Backend;
use diesel::expression::ValidGrouping;
use diesel::expression::{is_aggregate, AppearsOnTable, Expression, SelectableExpression};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::BigInt;
use diesel::QueryResult;

/// `(SELECT COUNT(*) FROM (<query>) AS counted)`: the number of rows `query`
/// gives, read in one pass that stops at the query's own `LIMIT`, where
/// `query.count()` would count every row the `WHERE` finds. Diesel has no
/// subquery in `FROM`, so this writes one.
///
/// `query` may name the enclosing statement's columns (a correlated count
/// per row); like `exists`, it is checked as SQL by the database, not by
/// Diesel's table types, so a test must run every statement that uses it.
pub fn count_of<Q>(query: Q) -> CountOf<Q> {
    CountOf { query }
}

#[derive(Debug, Clone, Copy, QueryId)]
pub struct CountOf<Q> {
    query: Q,
}

impl<Q> Expression for CountOf<Q> {
    type SqlType = BigInt;
}

impl<Q, GB> ValidGrouping<GB> for CountOf<Q> {
    type IsAggregate = is_aggregate::Never;
}

impl<Q, QS> AppearsOnTable<QS> for CountOf<Q> {}

impl<Q, QS> SelectableExpression<QS> for CountOf<Q> {}

impl<Q, DB> QueryFragment<DB> for CountOf<Q>
where
    DB: Backend,
    Q: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("(SELECT COUNT(*) FROM (");
        self.query.walk_ast(out.reborrow())?;
        out.push_sql(") AS counted)");
        Ok(())
    }
}
