//! Students and staff: accounts, campus addresses, sign-in links and codes,
//! sessions, roles and rate limits. No actix or HTML here.

pub mod display_name;
pub mod email;
pub mod personal_data;
pub mod rate_limit;
pub mod sessions;
pub mod signin;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{friendships, magic_links, sessions as sessions_table, users};
use crate::db::{DbConn, Tx};

pub use display_name::{DisplayName, DisplayNameError, DISPLAY_NAME_MAX};
pub use email::{CampusEmail, EmailError};

crate::define_id!(
    /// A user's id (UUID v4 text). Never shown to other students.
    UserId
);
crate::define_id!(MagicLinkId);
crate::define_id!(SessionId);

crate::text_enum!(
    /// What a user may do: students use the product, moderators and admins run it.
    Role {
        Student => "student",
        Moderator => "moderator",
        Admin => "admin",
    }
);

impl Role {
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Moderator | Role::Admin)
    }
}

/// A row of `users`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub computing_id: String,
    pub phone_hash: Option<String>,
    pub email_verified: bool,
    pub phone_verified: bool,
    #[diesel(deserialize_as = String)]
    pub role: Role,
    pub suspended_until: Option<NaiveDateTime>,
    pub suspension_reason: Option<String>,
    pub last_login_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Shown to accepted friends only; never in chat.
    pub display_name: Option<String>,
    /// Hide my classes from friends (and, mutually, theirs from me).
    pub hide_classes: bool,
    /// A moderator removed their display name: no new one before this.
    pub display_name_locked_until: Option<NaiveDateTime>,
}

impl User {
    /// Suspended now, with the end time, or None.
    pub fn suspended_at(&self, now: NaiveDateTime) -> Option<NaiveDateTime> {
        self.suspended_until.filter(|until| *until > now)
    }

    /// Waiting for a new display name now (a moderator removed theirs), with
    /// the wait's end, or None.
    pub fn name_locked_at(&self, now: NaiveDateTime) -> Option<NaiveDateTime> {
        self.display_name_locked_until.filter(|until| *until > now)
    }
}

/// A new account; created unverified when an address first asks for a link.
#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub id: &'a UserId,
    pub email: &'a str,
    pub computing_id: &'a str,
    pub email_verified: bool,
    pub role: &'a str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Changes to an account; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges<'a> {
    pub email_verified: Option<bool>,
    pub role: Option<&'a str>,
    pub suspended_until: Option<Option<NaiveDateTime>>,
    pub suspension_reason: Option<Option<&'a str>>,
    pub last_login_at: Option<Option<NaiveDateTime>>,
    pub display_name: Option<Option<&'a str>>,
    pub hide_classes: Option<bool>,
    pub display_name_locked_until: Option<Option<NaiveDateTime>>,
    pub updated_at: Option<NaiveDateTime>,
}

/// A row of `magic_links`: one sign-in request (a link token and a code).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = magic_links)]
pub struct MagicLink {
    pub id: MagicLinkId,
    pub user_id: UserId,
    pub token_hash: String,
    pub code_hash: String,
    pub code_attempts: i32,
    pub expires_at: NaiveDateTime,
    pub used: bool,
    pub created_at: NaiveDateTime,
    /// SHA-256 of the pre-session cookie of the browser that asked for it.
    pub requester_hash: Option<String>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = magic_links)]
pub struct NewMagicLink<'a> {
    pub id: &'a MagicLinkId,
    pub user_id: &'a UserId,
    pub token_hash: &'a str,
    pub code_hash: &'a str,
    pub code_attempts: i32,
    pub expires_at: NaiveDateTime,
    pub used: bool,
    pub created_at: NaiveDateTime,
    pub requester_hash: Option<&'a str>,
}

/// A row of `sessions`: one signed-in browser.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = sessions_table)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub token_hash: String,
    pub user_agent: Option<String>,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = sessions_table)]
pub struct NewSession<'a> {
    pub id: &'a SessionId,
    pub user_id: &'a UserId,
    pub token_hash: &'a str,
    pub user_agent: Option<&'a str>,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
}

/// Finds a user by id.
pub fn find(conn: &mut DbConn, id: &UserId) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Finds a user by their (normalized) address.
pub fn find_by_email(conn: &mut DbConn, email: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::email.eq(email))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Finds the account of a computing ID, confirmed or not. The computing ID is
/// the account's key: it is unique, friends find each other by it, and every
/// allowed domain names the same people (`mst3k@` is one student at each).
pub fn find_by_computing_id(conn: &mut DbConn, computing_id: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::computing_id.eq(computing_id))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Finds a confirmed user by computing ID: unconfirmed addresses are invisible.
pub fn find_confirmed_by_computing_id(
    conn: &mut DbConn,
    computing_id: &str,
) -> QueryResult<Option<User>> {
    users::table
        .filter(users::computing_id.eq(computing_id))
        .filter(users::email_verified.eq(true))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Inserts a new account row.
pub fn insert(conn: &mut DbConn, new: &NewUser<'_>) -> QueryResult<User> {
    // RETURNING a whole row does not compile through MultiBackend; read it back instead.
    diesel::insert_into(users::table)
        .values(new)
        .execute(conn)?;
    users::table
        .find(new.id)
        .select(User::as_select())
        .first(conn)
}

/// The account of `new`'s computing ID, made as `new` says if there is none.
/// Two requests racing to make it (a double click on "Send link", two friends
/// adding the same newcomer) both get the one row: on PostgreSQL the loser's
/// insert waits for the winner's and then does nothing, where a plain insert
/// would fail on the unique address and answer 500. (SQLite's writers take
/// turns, so there the second simply finds the row.) The row found is the
/// computing ID's, whichever unique column the insert met: with two allowed
/// domains the account may already be at the other one.
pub fn insert_or_find(conn: &mut DbConn, new: &NewUser<'_>) -> QueryResult<User> {
    crate::on_each_backend!(conn, |c| diesel::insert_into(users::table)
        .values(new)
        .on_conflict_do_nothing()
        .execute(c))?;
    find_by_computing_id(conn, new.computing_id)?.ok_or(diesel::result::Error::NotFound)
}

/// Applies changes to one account; a new display name brings its `name_key`
/// (what the classmate-naming check looks members up by) along in the same
/// statement, so the two never disagree.
pub fn update(conn: &mut DbConn, id: &UserId, changes: &UserChanges<'_>) -> QueryResult<usize> {
    match changes.display_name {
        Some(name) => diesel::update(users::table.find(id))
            .set((
                changes,
                users::name_key.eq(name.and_then(display_name::name_key)),
            ))
            .execute(conn),
        None => diesel::update(users::table.find(id))
            .set(changes)
            .execute(conn),
    }
}

/// Locks the account's row until the transaction ends (PostgreSQL: `FOR NO
/// KEY UPDATE`; SQLite's write transaction already holds the database), so
/// what is read of it next stays true until commit, and a post in flight
/// (`hold_row`) lands first or waits. Not `FOR UPDATE`: that also waits for
/// every row being written that names the account (a reply's notice to it,
/// a friend's answer), and those writers hold locks (a class's chat, a
/// friendship) an erasure takes next: a deadlock. Nor a write that changes
/// nothing, as before: that lock did not stop a post.
pub fn lock_row(tx: &mut Tx, id: &UserId) -> QueryResult<()> {
    let conn: &mut DbConn = tx;
    if let DbConn::Postgresql(pg) = conn {
        users::table
            .find(id)
            .select(users::id)
            .for_no_key_update()
            .first::<UserId>(pg)
            .optional()?;
    }
    Ok(())
}

/// Holds the account's row against an erasure (or a suspension) until the
/// transaction ends, before anything that will be written in its name; false
/// when the account is gone (erased while the request was on its way). On
/// PostgreSQL `FOR SHARE`: it waits for `lock_row` held by a transaction in
/// flight, and many such holds do not wait for each other.
pub fn hold_row(tx: &mut Tx, id: &UserId) -> QueryResult<bool> {
    let conn: &mut DbConn = tx;
    let found = match conn {
        DbConn::Postgresql(pg) => users::table
            .find(id)
            .select(users::id)
            .for_share()
            .first::<UserId>(pg)
            .optional()?,
        DbConn::Sqlite(lite) => users::table
            .find(id)
            .select(users::id)
            .first::<UserId>(lite)
            .optional()?,
    };
    Ok(found.is_some())
}

/// Where an account stands, read under `hold_row`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Active,
    /// Suspended until then.
    Suspended(NaiveDateTime),
    /// Erased while the request was on its way.
    Gone,
}

/// `hold_row`, then the account's suspension read again under the hold. A
/// check made when the request began can miss a suspension that committed
/// since; one made here cannot (the suspension's `lock_row` is waited for).
pub fn hold_standing(tx: &mut Tx, id: &UserId, now: NaiveDateTime) -> QueryResult<Standing> {
    if !hold_row(tx, id)? {
        return Ok(Standing::Gone);
    }
    let conn: &mut DbConn = tx;
    let until: Option<NaiveDateTime> = users::table
        .find(id)
        .select(users::suspended_until)
        .first(conn)?;
    Ok(match until.filter(|until| *until > now) {
        Some(until) => Standing::Suspended(until),
        None => Standing::Active,
    })
}

/// Ends the account's suspension if one is running at `now`; whether it did.
/// One conditional write, so of two moderators lifting at once one ends it.
pub fn end_running_suspension(
    conn: &mut DbConn,
    id: &UserId,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let ended = diesel::update(users::table.find(id).filter(users::suspended_until.gt(now)))
        .set((
            users::suspended_until.eq(None::<NaiveDateTime>),
            users::suspension_reason.eq(None::<String>),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(ended > 0)
}

/// Fills `name_key` for accounts whose display name has none (rows from
/// before the column, or written around `update`); returns how many. Runs
/// after migrations: idempotent, and a no-op read once every key is set.
pub fn fill_name_keys(conn: &mut DbConn) -> QueryResult<usize> {
    let missing: Vec<(UserId, Option<String>)> = users::table
        .filter(users::display_name.is_not_null())
        .filter(users::name_key.is_null())
        .select((users::id, users::display_name))
        .load(conn)?;
    let mut filled = 0;
    for (id, name) in missing {
        let Some(key) = name.as_deref().and_then(display_name::name_key) else {
            continue;
        };
        // Only while the row still has this name and no key: a rename
        // meanwhile wrote its own key, which this one must not replace.
        let Some(name) = name else { continue };
        filled += diesel::update(
            users::table
                .find(&id)
                .filter(users::name_key.is_null())
                .filter(users::display_name.eq(name)),
        )
        .set(users::name_key.eq(key))
        .execute(conn)?;
    }
    Ok(filled)
}

/// Most display-name changes a student may make in 24 hours. Without a limit a
/// student could rename themself through a class's everyday words ("Homework",
/// "Exam") to have classmates' posts warned and held (`chat::naming`), or push
/// a classmate toward the naming answers' hourly limit.
pub const NAME_CHANGES_PER_DAY: u32 = 3;

/// How long a student waits for a new display name after a moderator removed
/// one: long enough that a name chosen to abuse is not back the same evening,
/// short enough that a mistaken removal costs a week, not a term.
pub const NAME_LOCK_AFTER_REMOVAL_DAYS: i64 = 7;

/// Why a new display name was not saved (the classes setting still was).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRefused {
    /// `NAME_CHANGES_PER_DAY` already used; a new one is allowed at `retry_at`.
    TooOften { retry_at: NaiveDateTime },
    /// A moderator removed their name; a new one is allowed at `until`.
    Removed { until: NaiveDateTime },
}

/// The bucket that counts a student's new display names, and that every
/// change of the name locks first, so a rename and a moderator's removal
/// happen one after the other.
fn name_bucket(id: &UserId) -> String {
    format!("display-name:{id}")
}

/// Saves the account page's privacy form. A new display name counts toward
/// `NAME_CHANGES_PER_DAY` (clearing one, or saving the same one, does not),
/// and is refused while a moderator's removal holds; refused, the name is kept
/// as it was, the classes setting is still saved, and the answer says when a
/// new name is allowed.
pub fn set_privacy(
    conn: &mut DbConn,
    id: &UserId,
    display_name: Option<&DisplayName>,
    hide_classes: bool,
    now: NaiveDateTime,
) -> QueryResult<Result<(), NameRefused>> {
    crate::db::write_tx(conn, |tx| {
        let name = display_name.map(DisplayName::as_str);
        // Locked before the stored name is read, so two saves at once (or a
        // save and a moderator's removal) are compared one after the other.
        let bucket = name_bucket(id);
        rate_limit::lock(tx, &bucket)?;
        let conn: &mut DbConn = tx;
        let (current, locked_until): (Option<String>, Option<NaiveDateTime>) = users::table
            .find(id)
            .select((users::display_name, users::display_name_locked_until))
            .first(conn)?;
        let mut verdict = Ok(());
        if name.is_some() && name != current.as_deref() {
            if let Some(until) = locked_until.filter(|until| *until > now) {
                verdict = Err(NameRefused::Removed { until });
            } else {
                // Read under the lock taken above, so recorded without reading again.
                let day = chrono::Duration::days(1);
                match rate_limit::reached(tx, &bucket, NAME_CHANGES_PER_DAY, day, now)? {
                    Some(limited) => {
                        verdict = Err(NameRefused::TooOften {
                            retry_at: limited.retry_at,
                        })
                    }
                    None => rate_limit::record(tx, &bucket, now)?,
                }
            }
        }
        update(
            tx,
            id,
            &UserChanges {
                // Refused, the name stays as it was.
                display_name: verdict.is_ok().then_some(name),
                hide_classes: Some(hide_classes),
                updated_at: Some(now),
                ..Default::default()
            },
        )?;
        Ok(verdict)
    })
}

/// Saves only "hide my classes", for a save whose display name was refused
/// before it reached `set_privacy`: the choice must not be dropped with it.
pub fn set_hide_classes(
    conn: &mut DbConn,
    id: &UserId,
    hide_classes: bool,
    now: NaiveDateTime,
) -> QueryResult<()> {
    update(
        conn,
        id,
        &UserChanges {
            hide_classes: Some(hide_classes),
            updated_at: Some(now),
            ..Default::default()
        },
    )
    .map(drop)
}

/// What `remove_display_name` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameRemoval {
    /// The name was the one seen, and is gone.
    Removed,
    /// The account is named otherwise now (a rename since the page loaded):
    /// nothing was changed, and nobody waits a week for a name no one judged.
    Changed(String),
    /// The account has no name: nothing was changed.
    NoName,
}

/// Removes the display name `seen` of `id` for a moderator (who audits it in
/// the same transaction) and keeps a new one off until `until`, only while
/// `seen` is still the name stored.
pub fn remove_display_name(
    tx: &mut Tx,
    id: &UserId,
    seen: &str,
    until: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<NameRemoval> {
    rate_limit::lock(tx, &name_bucket(id))?;
    let conn: &mut DbConn = tx;
    let current: Option<String> = users::table
        .find(id)
        .select(users::display_name)
        .first(conn)?;
    match current {
        None => return Ok(NameRemoval::NoName),
        Some(other) if other != seen => return Ok(NameRemoval::Changed(other)),
        Some(_) => {}
    }
    update(
        conn,
        id,
        &UserChanges {
            display_name: Some(None),
            display_name_locked_until: Some(Some(until)),
            updated_at: Some(now),
            ..Default::default()
        },
    )?;
    Ok(NameRemoval::Removed)
}

/// Ends the wait a moderator's removal set on a new display name, now, if it
/// is still the wait `seen` (the one the moderator's page showed) and still
/// running; whether it did. Under the rename lock, and conditional on the
/// wait shown, so of two moderators ending it at once one does, and a page
/// left open since an earlier wait ends no newer one.
pub fn end_name_wait(
    tx: &mut Tx,
    id: &UserId,
    seen: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    rate_limit::lock(tx, &name_bucket(id))?;
    let conn: &mut DbConn = tx;
    let ended = diesel::update(
        users::table
            .find(id)
            .filter(users::display_name_locked_until.eq(seen))
            .filter(users::display_name_locked_until.gt(now)),
    )
    .set((
        users::display_name_locked_until.eq(now),
        users::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(ended > 0)
}

/// Deletes accounts whose address was never confirmed a day after they were
/// made, unless a friendship row names them (a request still waiting for
/// them, or a choice kept for an erased student's ID: a block against it, or
/// its declined request, `friends::personal_data::keep_for`), or a running
/// suspension or display-name wait was kept for that ID, or a sign-in email
/// to it still works. Returns how many.
///
/// On PostgreSQL the candidates are locked first, and the delete (a statement
/// of its own, so reading what committed meanwhile) decides after: a block,
/// a request or a sign-in link being written for one of them right now (its
/// writer holds the row `FOR SHARE` or `FOR KEY SHARE`) is waited for and
/// seen, instead of cascaded away with the row by a delete that judged the
/// account from before it.
pub fn delete_unconfirmed(tx: &mut Tx, now: NaiveDateTime) -> QueryResult<usize> {
    let conn: &mut DbConn = tx;
    if let DbConn::Postgresql(pg) = conn {
        users::table
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                "users.email_verified = FALSE",
            ))
            .filter(users::created_at.lt(now - chrono::Duration::days(1)))
            .select(users::id)
            .for_update()
            .load::<UserId>(pg)?;
    }
    diesel::delete(
        users::table
            // Literal SQL, the very condition of the partial index
            // `idx_users_unverified_created`, which SQLite (built with the
            // planner stability guarantee) will not match to a bound value.
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                "users.email_verified = FALSE",
            ))
            .filter(users::created_at.lt(now - chrono::Duration::days(1)))
            // A role is never granted to such an account (`set_role`); kept
            // all the same, rather than lose one granted before that rule.
            .filter(users::role.eq(Role::Student.as_str()))
            // A sign-in email still working: its link would die with the row
            // (an account a friend request made long ago, asked for today).
            .filter(diesel::dsl::not(diesel::dsl::exists(
                magic_links::table
                    .filter(magic_links::user_id.eq(users::id))
                    .filter(magic_links::used.eq(false))
                    .filter(magic_links::expires_at.gt(now)),
            )))
            .filter(
                users::suspended_until
                    .is_null()
                    .or(users::suspended_until.le(now)),
            )
            .filter(
                users::display_name_locked_until
                    .is_null()
                    .or(users::display_name_locked_until.le(now)),
            )
            // A friend request waits for its addressee even before they
            // sign up; dropping it early would tell the sender they never did.
            // A decline kept for an erased student names its placeholder
            // first: dropped (and its row with it), signing up again would
            // let them ask once more, as if never declined.
            .filter(diesel::dsl::not(diesel::dsl::exists(
                friendships::table.filter(
                    friendships::user_id_2
                        .eq(users::id)
                        .or(friendships::user_id_1.eq(users::id)),
                ),
            ))),
    )
    .execute(conn)
}
