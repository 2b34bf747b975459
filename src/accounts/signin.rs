//! Passwordless sign-in: a request emails a link and an 8-digit code; either one,
//! used once within 15 minutes, starts a session. The reply to a request never
//! says whether the address already had an account.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use rand::Rng;
use url::Url;

use super::rate_limit::{self, Limited};
use super::sessions::{self, NewlyCreated};
use super::{
    CampusEmail, MagicLink, MagicLinkId, NewMagicLink, NewUser, Role, UserChanges, UserId,
};
use crate::db::schema::{magic_links, users};
use crate::db::{self, DbConn};
use crate::mail::{self, messages::SignInEmail, OutgoingEmail};

pub const LINK_LIFETIME: Duration = Duration::minutes(15);
pub const MAX_CODE_ATTEMPTS: i32 = 5;
/// Codes are short, so they are stored with a slow hash; 10 keeps a request near 60 ms.
const BCRYPT_COST: u32 = 10;

/// The limits on asking for sign-in emails.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    pub emails_per_address_per_hour: u32,
    pub requests_per_ip_per_10_minutes: u32,
}

/// Why a sign-in step was refused.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Unknown, expired, used or replaced by a newer request: all look the same.
    #[error("this sign-in link has expired or was already used")]
    LinkInvalid,
    /// Wrong, expired, or out of tries: all look the same.
    #[error("that code is not right, or it has expired")]
    CodeInvalid,
    #[error("too many sign-in requests")]
    Limited(Limited),
    #[error("could not hash a sign-in code: {0}")]
    Hash(#[from] bcrypt::BcryptError),
    #[error("could not render the sign-in email: {0}")]
    Render(#[from] mail::MailError),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// A sign-in email ready to queue: its secrets made and the code hashed. Made
/// without a database connection, because bcrypt is the slow part (about
/// 50 ms) and a connection held that long starves every other page.
pub struct PreparedLink {
    token: String,
    code_hash: String,
    message: OutgoingEmail,
}

/// Makes the link, the code and the email for `email` (CPU only).
pub fn prepare(email: &CampusEmail, base_url: &Url) -> Result<PreparedLink, SignInError> {
    let token = sessions::random_token();
    let code = format!("{:08}", rand::rng().random_range(0..100_000_000u32));
    let code_hash = bcrypt::hash(&code, BCRYPT_COST)?;
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
    Ok(PreparedLink {
        token,
        code_hash,
        message,
    })
}

/// Queues a prepared sign-in email for `email`, creating an unconfirmed account
/// if there is none, and voids the address's older links and codes.
pub fn request(
    conn: &mut DbConn,
    email: &CampusEmail,
    prepared: &PreparedLink,
    client_ip: &str,
    limits: RequestLimits,
    now: NaiveDateTime,
) -> Result<(), SignInError> {
    let PreparedLink {
        token,
        code_hash,
        message,
    } = prepared;
    db::write_tx(conn, |conn| {
        let ip_bucket = format!("login-ip:{client_ip}");
        if let Err(limited) = rate_limit::hit(
            conn,
            &ip_bucket,
            limits.requests_per_ip_per_10_minutes,
            Duration::minutes(10),
            now,
        )? {
            return Err(SignInError::Limited(limited));
        }
        let email_bucket = format!("login-email:{}", email.as_str());
        if let Err(limited) = rate_limit::hit(
            conn,
            &email_bucket,
            limits.emails_per_address_per_hour,
            Duration::hours(1),
            now,
        )? {
            return Err(SignInError::Limited(limited));
        }
        let user_id = match super::find_by_email(conn, email.as_str())? {
            Some(user) => user.id,
            None => {
                let id = UserId::new();
                super::insert(
                    conn,
                    &NewUser {
                        id: &id,
                        email: email.as_str(),
                        computing_id: email.computing_id(),
                        email_verified: false,
                        role: Role::Student.as_str(),
                        created_at: now,
                        updated_at: now,
                    },
                )?;
                id
            }
        };
        void_pending(conn, &user_id)?;
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
            })
            .execute(conn)?;
        mail::outbox::enqueue(conn, message, now)?;
        Ok(())
    })
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
pub fn confirm_link(
    conn: &mut DbConn,
    token: &str,
    user_agent: Option<&str>,
    now: NaiveDateTime,
) -> Result<NewlyCreated, SignInError> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SignInError::LinkInvalid);
    }
    let hash = sessions::hash_token(token);
    db::write_tx(conn, |conn| {
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
        Ok(complete(conn, &user_id, user_agent, now)?)
    })
}

/// Signs in with the emailed code, on another device. Each try is counted before
/// the code is checked; after five, the code is dead even if right.
pub fn confirm_code(
    conn: &mut DbConn,
    email: &CampusEmail,
    code: &str,
    user_agent: Option<&str>,
    now: NaiveDateTime,
) -> Result<NewlyCreated, SignInError> {
    let code = code.trim();
    let well_formed = code.len() == 8 && code.bytes().all(|b| b.is_ascii_digit());
    let link: Option<MagicLink> = magic_links::table
        .inner_join(users::table)
        .filter(users::email.eq(email.as_str()))
        .filter(magic_links::used.eq(false))
        .filter(magic_links::expires_at.gt(now))
        .order(magic_links::created_at.desc())
        .select(MagicLink::as_select())
        .first(conn)
        .optional()?;
    let Some(link) = link else {
        return Err(SignInError::CodeInvalid);
    };
    let counted = db::write_tx(conn, |conn| {
        diesel::update(
            magic_links::table
                .filter(magic_links::id.eq(&link.id))
                .filter(magic_links::used.eq(false))
                .filter(magic_links::code_attempts.lt(MAX_CODE_ATTEMPTS)),
        )
        .set(magic_links::code_attempts.eq(magic_links::code_attempts + 1))
        .execute(conn)
    })?;
    if counted == 0 || !well_formed || !bcrypt::verify(code, &link.code_hash)? {
        return Err(SignInError::CodeInvalid);
    }
    db::write_tx(conn, |conn| {
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
        Ok(complete(conn, &link.user_id, user_agent, now)?)
    })
}

/// Confirms the address, records the login, voids other pending links and starts a session.
fn complete(
    conn: &mut DbConn,
    user_id: &UserId,
    user_agent: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<NewlyCreated> {
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
    count_sign_in(conn, now)?;
    sessions::create(conn, user_id, user_agent, now)
}

/// Adds one to today's sign-in count (for the admin overview).
pub fn count_sign_in(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<usize> {
    use crate::db::schema::sign_in_days;
    let day = now.format("%Y-%m-%d").to_string();
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
pub fn delete_stale_links(
    conn: &mut DbConn,
    now: NaiveDateTime,
    keep: Duration,
) -> QueryResult<usize> {
    diesel::delete(magic_links::table.filter(magic_links::expires_at.lt(now - keep))).execute(conn)
}
