//! Passwordless sign-in: a request emails a link and an 8-digit code; either one,
//! used once within 15 minutes, starts a session (and voids the address's other
//! pending links). The reply to a request never says whether the address already
//! had an account. Limits are counted before any hashing, and none of them can
//! keep the mailbox's owner from using an email already sent.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use rand::Rng;
use subtle::ConstantTimeEq;
use url::Url;

use super::rate_limit::{self, Limited};
use super::sessions::{self, NewlyCreated};
use super::{
    CampusEmail, MagicLink, MagicLinkId, NewMagicLink, NewUser, Role, UserChanges, UserId,
};
use crate::campus_time::CampusTime;
use crate::db::schema::{magic_links, users};
use crate::db::{self, DbConn, Tx};
use crate::mail::{self, messages::SignInEmail, OutgoingEmail};

pub const LINK_LIFETIME: Duration = Duration::minutes(15);
pub const MAX_CODE_ATTEMPTS: i32 = 5;
/// Codes are short, so they are stored with a slow hash; 10 keeps a request near 60 ms.
const BCRYPT_COST: u32 = 10;

/// Counts code hashes and checks (bcrypt, the expensive part of sign-in) for
/// `/metrics`: a flood that the rate limits refuse must not move it.
#[derive(Debug, Default)]
pub struct CodeHashes(AtomicU64);

impl CodeHashes {
    /// Codes hashed or checked since the service started.
    pub fn total(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn hash(&self, code: &str) -> Result<String, bcrypt::BcryptError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        bcrypt::hash(code, BCRYPT_COST)
    }

    fn verify(&self, code: &str, hash: &str) -> bool {
        self.0.fetch_add(1, Ordering::Relaxed);
        // A malformed stored hash (never written by us) simply does not match.
        bcrypt::verify(code, hash).unwrap_or(false)
    }
}

/// A hash no code matches, checked when an address has no live code so that the
/// answer takes as long as a real check (the timing must not say a code is pending).
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        // A string that is not eight digits can never be a submitted code.
        bcrypt::hash("no code matches this", BCRYPT_COST).unwrap_or_default()
    })
}

/// The limits on asking for sign-in emails and trying codes.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    /// New emails to one student per hour, at every allowed domain together;
    /// beyond it the emails already sent still work.
    pub emails_per_student_per_hour: u32,
    /// Requests for an email from one client per 10 minutes.
    pub requests_per_ip_per_10_minutes: u32,
    /// Code tries from one client per 10 minutes (on top of 5 tries per code).
    pub code_tries_per_ip_per_10_minutes: u32,
}

/// The rate-limit bucket of sign-in email requests from one client.
pub fn request_bucket(client: &str) -> String {
    format!("login-ip:{client}")
}

/// The rate-limit bucket of sign-in emails to one student. Keyed by computing
/// ID, not address: with two allowed domains `mst3k@` at either is the one
/// student, whose codes are checked together (`count_code_try`).
pub fn email_bucket(computing_id: &str) -> String {
    format!("login-email:{computing_id}")
}

/// The rate-limit bucket of code tries from one client.
pub fn code_bucket(client: &str) -> String {
    format!("login-code-ip:{client}")
}

/// Why a sign-in step was refused.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Unknown, expired or used: all look the same.
    #[error("this sign-in link has expired or was already used")]
    LinkInvalid,
    /// Wrong, expired, or out of tries: all look the same.
    #[error("that code is not right, or it has expired")]
    CodeInvalid,
    /// The link was asked for from another browser (or none we know): the person
    /// confirming must see which account they are about to sign into (login CSRF).
    #[error("this link signs in as {email}; confirm that this is your account")]
    ConfirmAccount { email: String },
    #[error("too many sign-in requests")]
    Limited(Limited),
    #[error("could not hash a sign-in code: {0}")]
    Hash(#[from] bcrypt::BcryptError),
    #[error("could not render the sign-in email: {0}")]
    Render(#[from] mail::MailError),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Where a request for a sign-in email stands once its limits are counted.
#[derive(Debug)]
pub enum Admission {
    /// Send a new email: `prepare` it (slow), then `request` it.
    Send(Admitted),
    /// The address has had its emails for the hour. No new one is sent, and the
    /// ones already sent keep working until they expire.
    AlreadySent,
}

/// Proof that a request's limits were counted before any expensive work.
#[derive(Debug)]
pub struct Admitted(());

/// Counts a request for a sign-in email from `client` against the per-client and
/// per-student limits. Cheap (no hashing): call it before `prepare`. The per-client
/// limit refuses; the per-student one only stops new emails, so nobody can lock a
/// student out of their own mailbox by asking for it.
pub fn admit(
    conn: &mut DbConn,
    email: &CampusEmail,
    client: &str,
    limits: RequestLimits,
    now: NaiveDateTime,
) -> Result<Admission, SignInError> {
    db::write_tx(conn, |tx| {
        if let Err(limited) = rate_limit::hit(
            tx,
            &request_bucket(client),
            limits.requests_per_ip_per_10_minutes,
            Duration::minutes(10),
            now,
        )? {
            return Err(SignInError::Limited(limited));
        }
        let bucket = email_bucket(email.computing_id());
        match rate_limit::hit(
            tx,
            &bucket,
            limits.emails_per_student_per_hour,
            Duration::hours(1),
            now,
        )? {
            Ok(()) => Ok(Admission::Send(Admitted(()))),
            // The hour's emails are spent, but a link lives only 15 minutes:
            // someone else asking 5 times at the top of the hour would
            // otherwise leave the owner with dead emails for 45 minutes. So
            // "already sent" holds only while the newest email was sent less
            // than 10 minutes ago (it works for 5 more, unless used); after
            // that one more goes out. Read from the bucket's own hits, under
            // its lock: a burst of requests cannot all find none.
            Err(_) if rate_limit::reached(tx, &bucket, 1, RESEND_AFTER, now)?.is_some() => {
                Ok(Admission::AlreadySent)
            }
            Err(_) => {
                rate_limit::record(tx, &bucket, now)?;
                Ok(Admission::Send(Admitted(())))
            }
        }
    })
}

/// Beyond the hour's quota, a new email only once the newest is this old
/// (so it still works for `LINK_LIFETIME` minus this: 5 minutes).
const RESEND_AFTER: Duration = Duration::minutes(10);

/// A sign-in email ready to queue: its secrets made and the code hashed. Made
/// without a database connection, because bcrypt is the slow part (about
/// 50 ms) and a connection held that long starves every other page.
pub struct PreparedLink {
    token: String,
    code_hash: String,
    message: OutgoingEmail,
}

/// Makes the link, the code and the email for `email` (CPU only). Takes the
/// admission so that nothing hashes a code before its limits were counted.
pub fn prepare(
    admitted: Admitted,
    email: &CampusEmail,
    base_url: &Url,
    hashes: &CodeHashes,
) -> Result<(Admitted, PreparedLink), SignInError> {
    let token = sessions::random_token();
    let code = format!("{:08}", rand::rng().random_range(0..100_000_000u32));
    let code_hash = hashes.hash(&code)?;
    let mut link = base_url
        .join("/login/confirm")
        .expect("a fixed path joins any base URL");
    link.query_pairs_mut().append_pair("token", &token);
    let message = SignInEmail {
        link: link.as_str(),
        code: &code,
        minutes: LINK_LIFETIME.num_minutes(),
    }
    .render(email.as_str())?;
    Ok((
        admitted,
        PreparedLink {
            token,
            code_hash,
            message,
        },
    ))
}

/// Queues a prepared sign-in email for `email`, creating an unconfirmed account
/// if there is none. Links already sent stay valid: a newer request never voids
/// them (using any one voids the rest). `requester_hash` is the SHA-256 of the
/// asking browser's pre-session cookie, when it has one.
pub fn request(
    conn: &mut DbConn,
    _admitted: Admitted,
    email: &CampusEmail,
    prepared: &PreparedLink,
    requester_hash: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), SignInError> {
    let PreparedLink {
        token,
        code_hash,
        message,
    } = prepared;
    db::write_tx(conn, |tx| {
        // By computing ID: with two allowed domains, `mst3k@` at either is
        // the one student (and a friend request may have made their account
        // at the first). The email goes to the address asked for.
        // The account's row held first, as every sign-in takes it: the
        // cleanup of unconfirmed accounts may be deleting it right now, and
        // then it is looked for again (gone: made anew, below).
        if let Some(user) = super::find_by_computing_id(tx, email.computing_id())? {
            hold_account_first(tx, &user.id)?;
        }
        let user_id = match super::find_by_computing_id(tx, email.computing_id())? {
            // Not signed in yet: the address is the one asked at, not the
            // first allowed domain a block, decline or request made it at,
            // which would tell its student someone had.
            Some(user) if !user.email_verified && user.email != email.as_str() => {
                diesel::update(users::table.find(&user.id))
                    .set(users::email.eq(email.as_str()))
                    .execute(&mut **tx)?;
                user.id
            }
            Some(user) => user.id,
            None => {
                super::insert_or_find(
                    tx,
                    &NewUser {
                        id: &UserId::new(),
                        email: email.as_str(),
                        computing_id: email.computing_id(),
                        email_verified: false,
                        role: Role::Student.as_str(),
                        created_at: now,
                        updated_at: now,
                    },
                )?
                .id
            }
        };
        diesel::insert_into(magic_links::table)
            .values(NewMagicLink {
                id: &MagicLinkId::new(),
                user_id: &user_id,
                token_hash: &sessions::hash_token(token),
                code_hash,
                code_attempts: 0,
                expires_at: now + LINK_LIFETIME,
                used: false,
                created_at: now,
                requester_hash,
            })
            .execute(&mut **tx)?;
        mail::outbox::enqueue(tx, message, now)?;
        Ok(())
    })
}

/// Takes the account's row before any of its sign-in links. A sign-in writes
/// its link, then the account (`complete`), then the account's other links
/// (`void_pending`); a link clicked on a laptop while the code is typed on a
/// phone would otherwise each hold a link the other waits for, behind the
/// account: a deadlock on PostgreSQL, one of them answered 503.
fn hold_account_first(tx: &mut Tx, user_id: &UserId) -> QueryResult<()> {
    super::lock_row(tx, user_id)
}

fn void_pending(conn: &mut DbConn, user_id: &UserId) -> QueryResult<usize> {
    diesel::update(
        magic_links::table
            .filter(magic_links::user_id.eq(user_id))
            .filter(magic_links::used.eq(false)),
    )
    .set(magic_links::used.eq(true))
    .execute(conn)
}

/// Signs in with the token from an emailed link. The check and the consumption
/// are one UPDATE, so two racing requests cannot both succeed.
///
/// `requester_hash` is the SHA-256 of this browser's pre-session cookie. A link
/// asked for from another browser (a link someone sent you, or one opened on a
/// second device) is refused with `ConfirmAccount` until `account_confirmed`,
/// so nobody is signed into an account they did not mean to use.
pub fn confirm_link(
    conn: &mut DbConn,
    token: &str,
    requester_hash: Option<&str>,
    account_confirmed: bool,
    user_agent: Option<&str>,
    now: NaiveDateTime,
    campus: CampusTime,
) -> Result<NewlyCreated, SignInError> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SignInError::LinkInvalid);
    }
    let hash = sessions::hash_token(token);
    db::write_tx(conn, |tx| {
        // The account before its link, as every sign-in takes them (see
        // `hold_account_first`).
        let owner: Option<UserId> = magic_links::table
            .filter(magic_links::token_hash.eq(&hash))
            .select(magic_links::user_id)
            .first(&mut **tx)
            .optional()?;
        if let Some(owner) = &owner {
            hold_account_first(tx, owner)?;
        }
        let conn: &mut DbConn = tx;
        let user_id: Option<UserId> = diesel::update(
            magic_links::table
                .filter(magic_links::token_hash.eq(&hash))
                .filter(magic_links::used.eq(false))
                .filter(magic_links::expires_at.gt(now)),
        )
        .set(magic_links::used.eq(true))
        .returning(magic_links::user_id)
        .get_result(conn)
        .optional()?;
        let user_id = user_id.ok_or(SignInError::LinkInvalid)?;
        if !account_confirmed {
            let asked_by: Option<String> = magic_links::table
                .filter(magic_links::token_hash.eq(&hash))
                .select(magic_links::requester_hash)
                .first(conn)?;
            let same_browser = match (asked_by.as_deref(), requester_hash) {
                (Some(asked), Some(here)) => bool::from(asked.as_bytes().ct_eq(here.as_bytes())),
                _ => false,
            };
            if !same_browser {
                let email: String = users::table
                    .find(&user_id)
                    .select(users::email)
                    .first(conn)?;
                // Rolls back the consumption above: the link stays usable.
                return Err(SignInError::ConfirmAccount { email });
            }
        }
        Ok(complete(conn, &user_id, user_agent, now, campus)?)
    })
}

/// Counts one try of an emailed code from `client`, and returns the codes it
/// may match. The client's tries are counted first, before any hashing; then
/// the address's live codes asked for by this browser (`requester_hash`, the
/// SHA-256 of its pre-session cookie) are read, and each loses one of its five
/// tries. A code is typed where it was asked for (the check-email page), so
/// codes asked for elsewhere are neither tried nor spent: a stranger's wrong
/// guesses cannot use up the tries of the owner's codes, and the time a try
/// takes says nothing about codes another browser is waiting on. The codes are
/// checked by [`match_code`] with no connection held, then one is used by
/// [`redeem_code`].
pub fn count_code_try(
    conn: &mut DbConn,
    email: &CampusEmail,
    requester_hash: Option<&str>,
    client: &str,
    limits: RequestLimits,
    now: NaiveDateTime,
) -> Result<Vec<MagicLink>, SignInError> {
    db::write_tx(conn, |tx| {
        if let Err(limited) = rate_limit::hit(
            tx,
            &code_bucket(client),
            limits.code_tries_per_ip_per_10_minutes,
            Duration::minutes(10),
            now,
        )? {
            return Err(SignInError::Limited(limited));
        }
        let Some(requester_hash) = requester_hash else {
            return Ok(Vec::new());
        };
        let conn: &mut DbConn = tx;
        let live: Vec<MagicLink> = magic_links::table
            .inner_join(users::table)
            .filter(users::computing_id.eq(email.computing_id()))
            .filter(magic_links::requester_hash.eq(requester_hash))
            .filter(magic_links::used.eq(false))
            .filter(magic_links::expires_at.gt(now))
            .filter(magic_links::code_attempts.lt(MAX_CODE_ATTEMPTS))
            .order(magic_links::created_at.desc())
            .limit(i64::from(limits.emails_per_student_per_hour.clamp(1, 20)))
            .select(MagicLink::as_select())
            .load(conn)?;
        // The increment is the gate: it counts a try only on a code with tries
        // left as of now. On PostgreSQL, tries of one address from several
        // clients are not serialized (the advisory lock is the client's), so
        // a burst all read "tries left" before any counted; the update waits
        // for the others' and checks the count again, and only the codes it
        // counted are tried. (SQLite's immediate transactions run one at a time.)
        if let Some(link) = live.first() {
            hold_account_first(tx, &link.user_id)?;
        }
        let conn: &mut DbConn = tx;
        let ids: Vec<&MagicLinkId> = live.iter().map(|l| &l.id).collect();
        let counted: Vec<MagicLinkId> = crate::on_each_backend!(conn, |c| diesel::update(
            magic_links::table
                .filter(magic_links::id.eq_any(&ids))
                .filter(magic_links::code_attempts.lt(MAX_CODE_ATTEMPTS))
        )
        .set(magic_links::code_attempts.eq(magic_links::code_attempts + 1))
        .returning(magic_links::id)
        .get_results(c))?;
        Ok(live
            .into_iter()
            .filter(|l| counted.contains(&l.id))
            .collect())
    })
}

/// The most tries any of the counted codes has left after this one, or
/// None when this browser had no live code to try.
pub fn tries_left(live: &[MagicLink]) -> Option<i32> {
    live.iter()
        .map(|link| (MAX_CODE_ATTEMPTS - link.code_attempts - 1).max(0))
        .max()
}

/// The counted code the typed one matches, if any. This is the slow part of
/// sign-in (bcrypt, about 60 ms a code), so the caller holds no pooled
/// connection meanwhile: a burst of tries must not starve every page of
/// connections. An address with no live code costs the same hashing, so the
/// answer's timing does not say whether a code is pending.
pub fn match_code(code: &str, live: Vec<MagicLink>, hashes: &CodeHashes) -> Option<Matched> {
    let code = code.trim();
    let well_formed = code.len() == 8 && code.bytes().all(|b| b.is_ascii_digit());
    if live.is_empty() {
        hashes.verify(code, decoy_hash());
        return None;
    }
    live.into_iter()
        .find(|link| hashes.verify(code, &link.code_hash) && well_formed)
        .map(Matched)
}

/// A sign-in email whose code was counted and matched: only [`match_code`]
/// makes one, so [`redeem_code`] cannot start a session on a bare link.
#[derive(Debug)]
pub struct Matched(MagicLink);

/// Uses the matched code, if it is still unused and unexpired, and starts a session.
pub fn redeem_code(
    conn: &mut DbConn,
    Matched(link): &Matched,
    user_agent: Option<&str>,
    now: NaiveDateTime,
    campus: CampusTime,
) -> Result<NewlyCreated, SignInError> {
    db::write_tx(conn, |tx| {
        hold_account_first(tx, &link.user_id)?;
        let conn: &mut DbConn = tx;
        let consumed = diesel::update(
            magic_links::table
                .filter(magic_links::id.eq(&link.id))
                .filter(magic_links::used.eq(false))
                .filter(magic_links::expires_at.gt(now)),
        )
        .set(magic_links::used.eq(true))
        .execute(conn)?;
        if consumed == 0 {
            return Err(SignInError::CodeInvalid);
        }
        Ok(complete(conn, &link.user_id, user_agent, now, campus)?)
    })
}

/// Confirms the address, records the login, voids other pending links and starts a session.
fn complete(
    conn: &mut DbConn,
    user_id: &UserId,
    user_agent: Option<&str>,
    now: NaiveDateTime,
    campus: CampusTime,
) -> QueryResult<NewlyCreated> {
    // An account is as old as its first sign-in. Its row may be older: a
    // placeholder made when someone blocked or declined this computing ID
    // (or kept them past an erasure), which its student must not read off
    // their export's "created".
    diesel::update(
        users::table
            .filter(users::id.eq(user_id))
            .filter(users::email_verified.eq(false)),
    )
    .set(users::created_at.eq(now))
    .execute(conn)?;
    super::update(
        conn,
        user_id,
        &UserChanges {
            email_verified: Some(true),
            last_login_at: Some(Some(now)),
            updated_at: Some(now),
            ..Default::default()
        },
    )?;
    void_pending(conn, user_id)?;
    count_sign_in(conn, now, campus)?;
    let created = sessions::create(conn, user_id, user_agent, now)?;
    sessions::end_beyond_limit(conn, user_id)?;
    Ok(created)
}

/// Adds one to the campus day's sign-in count (for the admin overview).
pub fn count_sign_in(
    conn: &mut DbConn,
    now: NaiveDateTime,
    campus: CampusTime,
) -> QueryResult<usize> {
    use crate::db::schema::sign_in_days;
    let day = campus.date_of(now).format("%Y-%m-%d").to_string();
    crate::on_each_backend!(conn, |c| diesel::insert_into(sign_in_days::table)
        .values((sign_in_days::day.eq(&day), sign_in_days::sign_ins.eq(1)))
        .on_conflict(sign_in_days::day)
        .do_update()
        .set(sign_in_days::sign_ins.eq(sign_in_days::sign_ins + 1))
        .execute(c))
}

/// Removes links (used or not) that expired more than `keep` ago (cleanup). Every
/// link expires 15 minutes after it is made, so this also covers used ones, and
/// it runs on the `expires_at` index.
/// Voids every sign-in link not yet used (after a restore from a snapshot:
/// one used since would work again).
pub fn void_unused_links(conn: &mut DbConn) -> QueryResult<usize> {
    diesel::delete(magic_links::table.filter(magic_links::used.eq(false))).execute(conn)
}

pub fn delete_stale_links(
    conn: &mut DbConn,
    now: NaiveDateTime,
    keep: Duration,
) -> QueryResult<usize> {
    diesel::delete(magic_links::table.filter(magic_links::expires_at.lt(now - keep))).execute(conn)
}
