//! Asking, answering, removing and blocking. One `friendships` row per pair:
//! `user_id_1` asked (or, once BLOCKED, blocked). The reply to a request never
//! says whether the other person uses Common Grounds: a request to an address
//! nobody has confirmed is kept against an unconfirmed account, exactly as a
//! sign-in request would create one, and shows as "sent" like any other.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::{Friendship, FriendshipChanges, FriendshipId, FriendshipStatus, NewFriendship};
use crate::accounts::{self, rate_limit, NewUser, Role, User, UserId};
use crate::db::schema::{friendships, users};
use crate::db::{self, DbConn, Tx};
use crate::notifications::{self, Kind, Notice};

/// Friend requests a student may send in a day.
pub const REQUESTS_PER_DAY: u32 = 50;
/// Blocks a student may make in a day: a block of a computing ID nobody
/// uses yet stores an account for it, so blocks are counted as requests are
/// (every block alike, so the limit says nothing about who has an account).
pub const BLOCKS_PER_DAY: u32 = 50;
/// A request nobody answers lapses after this long (for every request alike).
pub const REQUEST_LIFETIME_DAYS: i64 = 60;

/// Whether a request, answered or not, is still waiting: until its lifetime
/// ends, to the second. An unanswered one is then removed by the hourly
/// cleanup (`delete_lapsed_requests`), but to both students it is gone
/// already (its sender cannot withdraw it, its addressee cannot accept it),
/// so the hour between tells nothing.
///
/// A student is never told they were declined ("They are not told"): to them
/// a declined request reads as one nobody answered, listed as sent until it
/// would have lapsed, and withdrawn as any other. The declined row itself
/// stays, so asking again never reaches the student who declined.
pub fn still_waiting(row: &Friendship, now: NaiveDateTime) -> bool {
    matches!(
        row.status,
        FriendshipStatus::Pending | FriendshipStatus::Rejected
    ) && row.updated_at >= lifetime_start(now)
}

/// The oldest a request may be (its `updated_at`) and still wait at `now`.
pub fn lifetime_start(now: NaiveDateTime) -> NaiveDateTime {
    now - Duration::days(REQUEST_LIFETIME_DAYS)
}

/// When `who` asked, if their request waits under the other's block at
/// `now`. A block must not be told from a decline: the blocked student's
/// request (made before the block, or since) reads to them as a declined one
/// does, listed as sent until it would have lapsed, withdrawn like any other.
pub fn waiting_under_block(
    row: &Friendship,
    who: &UserId,
    now: NaiveDateTime,
) -> Option<NaiveDateTime> {
    (row.status == FriendshipStatus::Blocked
        && !row.blocked_by(who)
        && row.asked_by.as_ref() == Some(who))
    .then_some(row.asked_at)
    .flatten()
    .filter(|at| *at >= lifetime_start(now))
}

/// Sets (or clears) the request left under a block.
fn set_asked(
    conn: &mut DbConn,
    row: &Friendship,
    asked: Option<(&UserId, NaiveDateTime)>,
) -> QueryResult<usize> {
    diesel::update(friendships::table.find(&row.id))
        .set((
            friendships::asked_by.eq(asked.map(|(who, _)| who.clone())),
            friendships::asked_at.eq(asked.map(|(_, at)| at)),
        ))
        .execute(conn)
}

/// The time that makes a declined request read, to its sender, as lapsed.
fn lapsed_for_sender(now: NaiveDateTime) -> NaiveDateTime {
    now - Duration::days(REQUEST_LIFETIME_DAYS) - Duration::seconds(1)
}

/// What sending a request did, as far as the sender may know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestOutcome {
    /// Sent, or already waiting, or quietly dropped: the sender cannot tell which.
    Sent {
        computing_id: String,
    },
    /// They had asked first; now you are friends.
    NowFriends {
        computing_id: String,
    },
    AlreadyFriends {
        computing_id: String,
    },
    Yourself,
    /// You blocked them; unblock first.
    YouBlocked {
        computing_id: String,
    },
    /// Too many requests today.
    Limited {
        retry_at: NaiveDateTime,
    },
    /// The sender is suspended (read under the hold on their row: a
    /// suspension that landed since the request began counts).
    Suspended {
        until: NaiveDateTime,
    },
}

/// Reads "mst3k" or "mst3k@virginia.edu" into a computing ID.
pub fn parse_who(raw: &str, allowed_domains: &[String]) -> Result<String, String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(
            "Enter a computing ID, such as mst3k, or an address such as mst3k@virginia.edu.".into(),
        );
    }
    // The refusal quotes what was typed (the form comes back empty), and
    // speaks of the friend: the sign-in wording ("your computing ID") would
    // be about the wrong person.
    let typed: String = text.chars().take(40).collect();
    if text.contains('@') {
        return accounts::CampusEmail::parse(text, allowed_domains)
            .map(|e| e.computing_id().to_string())
            .map_err(|_| {
                format!(
                    "“{typed}” is not an address we can look up. Enter your friend's computing ID, such as mst3k, or their address made of it (mst3k@{}); an alias such as jane.doe@ cannot be looked up.",
                    allowed_domains.first().map(String::as_str).unwrap_or("virginia.edu")
                )
            });
    }
    let id = text.to_ascii_lowercase();
    if accounts::email::is_login_id(&id) {
        Ok(id)
    } else {
        // Said by what is wrong: a long run of letters is not refused for
        // its letters.
        let length = id.chars().count();
        Err(
            if length > 16 && id.chars().all(|c| c.is_ascii_alphanumeric()) {
                format!(
                "“{typed}{more}” is not a computing ID: it has {length} characters, and computing IDs have at most 16, such as mst3k. Check what you typed.",
                more = if length > 40 { "…" } else { "" }
            )
            } else {
                format!(
                "“{typed}” is not a computing ID: those are 2 to 16 letters and digits, starting with a letter, such as mst3k. Check what you typed."
            )
            },
        )
    }
}

/// Sends a request from `me` to the owner of `computing_id`, in its own write
/// transaction (the daily limit, the lookup and the insert stand or fall together).
pub fn request(
    conn: &mut DbConn,
    me: &User,
    computing_id: &str,
    placeholder_domain: &str,
    now: NaiveDateTime,
) -> QueryResult<RequestOutcome> {
    db::write_tx(conn, |tx| {
        request_in(tx, me, computing_id, placeholder_domain, now)
    })
}

/// The unconfirmed account a request or a block makes for a computing ID
/// nobody signed in with yet: the row waits for them (`delete_unconfirmed`
/// keeps it while a friendship row names it), and becomes theirs when they do.
/// Erasure makes one too, for others' blocks of the erased ID.
pub fn placeholder(
    tx: &mut Tx,
    computing_id: &str,
    placeholder_domain: &str,
    now: NaiveDateTime,
) -> QueryResult<UserId> {
    let email = format!("{computing_id}@{placeholder_domain}");
    Ok(accounts::insert_or_find(
        tx,
        &NewUser {
            id: &UserId::new(),
            email: &email,
            computing_id,
            email_verified: false,
            role: Role::Student.as_str(),
            created_at: now,
            updated_at: now,
        },
    )?
    .id)
}

// Stays whole: the daily limit, the lookup, the block and duplicate checks and
// the insert are one transaction, read top to bottom in the order they must run.
fn request_in(
    tx: &mut Tx,
    me: &User,
    computing_id: &str,
    placeholder_domain: &str,
    now: NaiveDateTime,
) -> QueryResult<RequestOutcome> {
    if computing_id == me.computing_id {
        return Ok(RequestOutcome::Yourself);
    }
    lock_pair(tx, me, computing_id)?;
    if let accounts::Standing::Suspended(until) = accounts::hold_standing(tx, &me.id, now)? {
        return Ok(RequestOutcome::Suspended { until });
    }
    let sent = RequestOutcome::Sent {
        computing_id: computing_id.to_string(),
    };
    let existing_user = find_held(tx, computing_id)?;
    if let Some(other) = &existing_user {
        let row = match super::between_locked(tx, &me.id, &other.id)? {
            // A request past its lifetime (mine or theirs) is gone, even before
            // the cleanup removes it: asking now is a new request.
            Some(row) if row.status == FriendshipStatus::Pending && !still_waiting(&row, now) => {
                diesel::delete(friendships::table.find(&row.id)).execute(&mut **tx)?;
                None
            }
            row => row,
        };
        if let Some(row) = row {
            let i_asked = row.user_id_1 == me.id;
            let who = || computing_id.to_string();
            return match (row.status, i_asked) {
                (FriendshipStatus::Accepted, _) => Ok(RequestOutcome::AlreadyFriends {
                    computing_id: who(),
                }),
                (FriendshipStatus::Blocked, _) if row.blocked_by(&me.id) => {
                    Ok(RequestOutcome::YouBlocked {
                        computing_id: who(),
                    })
                }
                // They declined a request I no longer see: to me this is a new
                // request (counted, and listed as sent), though they hear nothing.
                (FriendshipStatus::Rejected, true) if !still_waiting(&row, now) => {
                    if let Err(limited) = spend_request(tx, me, now)? {
                        return Ok(limited);
                    }
                    set_status(tx, &row, &me.id, &other.id, FriendshipStatus::Rejected, now)?;
                    Ok(sent)
                }
                // They blocked me: as if they had declined. My request is kept
                // under the block (counted when new, listed as sent until it
                // lapses), and they hear nothing.
                (FriendshipStatus::Blocked, _) => {
                    if waiting_under_block(&row, &me.id, now).is_none() {
                        if let Err(limited) = spend_request(tx, me, now)? {
                            return Ok(limited);
                        }
                        set_asked(tx, &row, Some((&me.id, now)))?;
                    }
                    Ok(sent)
                }
                // I already asked, or they declined my request: nothing
                // changes, and the reply is the ordinary one.
                (FriendshipStatus::Pending, true) | (FriendshipStatus::Rejected, true) => Ok(sent),
                // They asked first: asking back accepts.
                (FriendshipStatus::Pending, false) => {
                    set_status(
                        tx,
                        &row,
                        &row.user_id_1,
                        &row.user_id_2,
                        FriendshipStatus::Accepted,
                        now,
                    )?;
                    notifications::friends::request_answered(tx, &me.id, &row.user_id_1, now)?;
                    tell_accepted(tx, &row.user_id_1, &me.id, now)?;
                    Ok(RequestOutcome::NowFriends {
                        computing_id: who(),
                    })
                }
                // I had declined them; now I ask: a fresh request from me.
                (FriendshipStatus::Rejected, false) => {
                    if let Err(limited) = spend_request(tx, me, now)? {
                        return Ok(limited);
                    }
                    set_status(tx, &row, &me.id, &other.id, FriendshipStatus::Pending, now)?;
                    tell_requested(tx, other, &me.id, now)?;
                    Ok(sent)
                }
            };
        }
    }
    if let Err(limited) = spend_request(tx, me, now)? {
        return Ok(limited);
    }
    let other_id = match &existing_user {
        Some(user) => user.id.clone(),
        None => placeholder(tx, computing_id, placeholder_domain, now)?,
    };
    let asked = super::insert_if_absent(
        tx,
        &NewFriendship {
            id: &FriendshipId::new(),
            user_id_1: &me.id,
            user_id_2: &other_id,
            status: FriendshipStatus::Pending.as_str(),
            created_at: now,
            updated_at: now,
        },
    )?;
    if !asked {
        // They asked me, or my own double click did, at the same moment (on
        // PostgreSQL this insert waited for theirs): the pair is there now, so
        // answer as if it had been. The race costs one of the day's 50.
        return request_in(tx, me, computing_id, placeholder_domain, now);
    }
    if let Some(user) = &existing_user {
        tell_requested(tx, user, &me.id, now)?;
    }
    Ok(sent)
}

/// The addressee of a new request hears of it, by the requester's name. Not an
/// address nobody has confirmed: a request must not make us email a stranger.
fn tell_requested(
    tx: &mut Tx,
    addressee: &User,
    requester: &UserId,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    if !addressee.email_verified {
        return Ok(false);
    }
    notifications::friends::requested(tx, &addressee.id, requester, now)
}

/// The student who asked hears that `accepter` accepted.
fn tell_accepted(
    tx: &mut Tx,
    requester: &UserId,
    accepter: &UserId,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    notifications::notify(
        tx,
        &Notice::new(requester, Kind::FriendAccepted, now).from_user(accepter),
    )
}

/// Serializes every request and action between `me` and `computing_id`
/// (either way round) for the rest of the transaction, before anything else
/// is locked. The pair's row lock (`between_locked`) alone is not enough:
/// a copy that found no row takes the day's bucket, then (its insert beaten)
/// looks again and waits on the row, while a later copy holds the row and
/// waits on the bucket; PostgreSQL aborts one as a deadlock.
fn lock_pair(tx: &mut Tx, me: &User, computing_id: &str) -> QueryResult<()> {
    let (a, b) = (
        me.computing_id.to_ascii_lowercase(),
        computing_id.to_ascii_lowercase(),
    );
    let (first, second) = if a <= b { (a, b) } else { (b, a) };
    db::lock_key(tx, &format!("friend-pair:{first}:{second}"))
}

/// The account with `computing_id`, its row held until the transaction ends
/// (`accounts::hold_row`): an erasure in flight finishes first, and then the
/// ID is looked up again (its placeholder, or nobody). Without the hold, a
/// request or block read the erased account's id, and its insert failed the
/// reference once the erasure committed: a 500, the block lost.
fn find_held(tx: &mut Tx, computing_id: &str) -> QueryResult<Option<User>> {
    match accounts::find_by_computing_id(tx, computing_id)? {
        Some(user) if !accounts::hold_row(tx, &user.id)? => {
            accounts::find_by_computing_id(tx, computing_id)
        }
        found => Ok(found),
    }
}

fn spend_request(
    tx: &mut Tx,
    me: &User,
    now: NaiveDateTime,
) -> QueryResult<Result<(), RequestOutcome>> {
    let bucket = format!("friend-request:{}", me.id);
    Ok(
        rate_limit::hit(tx, &bucket, REQUESTS_PER_DAY, Duration::days(1), now)?.map_err(|l| {
            RequestOutcome::Limited {
                retry_at: l.retry_at,
            }
        }),
    )
}

fn set_status(
    conn: &mut DbConn,
    row: &Friendship,
    first: &UserId,
    second: &UserId,
    status: FriendshipStatus,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(friendships::table.find(&row.id))
        .set(&FriendshipChanges {
            user_id_1: Some(first),
            user_id_2: Some(second),
            status: Some(status.as_str()),
            // A row that becomes anything (even BLOCKED by one) holds no block
            // back, and no request under a block (a block sets its own after).
            blocked_back: Some(false),
            asked_by: Some(None),
            asked_at: Some(None),
            updated_at: now,
        })
        .execute(conn)
}

/// What a student can do about another student.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Accept,
    Decline,
    /// End a friendship, or withdraw a request I sent.
    Remove,
    Block,
    Unblock,
}

impl Action {
    /// Whether the action lets someone reach me (or me them) again: refused
    /// while suspended, where keeping someone away never is.
    pub fn reaches_someone(self) -> bool {
        matches!(self, Action::Accept | Action::Unblock)
    }

    pub fn parse(raw: &str) -> Option<Action> {
        Some(match raw {
            "accept" => Action::Accept,
            "decline" => Action::Decline,
            "remove" => Action::Remove,
            "block" => Action::Block,
            "unblock" => Action::Unblock,
            _ => return None,
        })
    }
}

/// An action that does not apply; the page says so without revealing anything
/// the student could not already see.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("There is no request from {0} to answer.")]
    NoRequest(String),
    #[error("You are not friends with {0}, and have no request to them.")]
    NotConnected(String),
    #[error("You have not blocked {0}.")]
    NotBlocked(String),
    #[error("That is you: there is no one to block.")]
    Yourself,
    /// Too many blocks today (`BLOCKS_PER_DAY`).
    #[error("You have blocked {BLOCKS_PER_DAY} people today, the most allowed.")]
    Limited { retry_at: NaiveDateTime },
    /// The student is suspended: they may read and keep people away, not
    /// let anyone in.
    #[error(
        "Your account is suspended, so you cannot accept requests or unblock anyone until it ends."
    )]
    Suspended { until: NaiveDateTime },
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Carries out `action` by `me` on the student with `computing_id`, in its own
/// write transaction. Returns a sentence saying what happened. Blocking a
/// computing ID nobody signed in with yet makes the same unconfirmed
/// placeholder a request would (at `placeholder_domain`), so the block holds
/// if they sign up, and the blocked list, like a request's reply, never says
/// whether they use Common Grounds.
pub fn act(
    conn: &mut DbConn,
    me: &User,
    computing_id: &str,
    action: Action,
    placeholder_domain: &str,
    now: NaiveDateTime,
) -> Result<String, ActionError> {
    db::write_tx(conn, |tx| {
        act_in(tx, me, computing_id, action, placeholder_domain, now)
    })
}

// Stays whole: one match over the friend actions, each a few lines, with the
// lookup they share; split apart, the rules for one friendship would scatter.
fn act_in(
    tx: &mut Tx,
    me: &User,
    computing_id: &str,
    action: Action,
    placeholder_domain: &str,
    now: NaiveDateTime,
) -> Result<String, ActionError> {
    lock_pair(tx, me, computing_id)?;
    // A suspended student reaches no one: no accepting, no unblocking. They
    // may still keep people away (decline, unfriend, withdraw, block): a
    // friend who turned hostile must not see their week until it ends.
    if action.reaches_someone() {
        if let accounts::Standing::Suspended(until) = accounts::hold_standing(tx, &me.id, now)? {
            return Err(ActionError::Suspended { until });
        }
    }
    let other = find_held(tx, computing_id)?.filter(|o| o.id != me.id);
    let row = match &other {
        Some(o) => super::between_locked(tx, &me.id, &o.id)?,
        None => None,
    };
    let conn: &mut DbConn = tx;
    // A row where the other student blocked me is, to me, no row at all
    // (unless I block them too: then it is my block), or only my request
    // under their block, which reads as a declined one (withdrawn like one).
    let row = row.filter(|r| {
        r.status != FriendshipStatus::Blocked
            || r.blocked_by(&me.id)
            || waiting_under_block(r, &me.id, now).is_some()
    });
    let cid = computing_id.to_string();
    match action {
        // Accepted already (a second tab, a double press): said so, not
        // "no request", which would read as if it had been lost.
        Action::Accept
            if row
                .as_ref()
                .is_some_and(|r| r.status == FriendshipStatus::Accepted) =>
        {
            Ok(format!("You and {cid} are already friends."))
        }
        Action::Accept | Action::Decline => {
            let row = row
                .filter(|r| {
                    r.status == FriendshipStatus::Pending
                        && r.user_id_2 == me.id
                        && still_waiting(r, now)
                })
                .ok_or_else(|| ActionError::NoRequest(cid.clone()))?;
            // A declined request keeps its time: to its sender it is still
            // the request they sent then (`overview`), and it lapses when an
            // unanswered one would (`delete_lapsed_requests`).
            let (status, at) = if action == Action::Accept {
                (FriendshipStatus::Accepted, now)
            } else {
                (FriendshipStatus::Rejected, row.updated_at)
            };
            set_status(tx, &row, &row.user_id_1, &row.user_id_2, status, at)?;
            notifications::friends::request_answered(tx, &me.id, &row.user_id_1, now)?;
            if action == Action::Accept {
                tell_accepted(tx, &row.user_id_1, &me.id, now)?;
            }
            Ok(if action == Action::Accept {
                format!("You and {cid} are now friends.")
            } else {
                // A decline leaves no list to undo it from: say how.
                format!("You declined {cid}'s request. They are not told. Changed your mind? Add {cid} as a friend: they get a request from you.")
            })
        }
        Action::Remove => {
            let row = row
                .filter(|r| match r.status {
                    FriendshipStatus::Accepted => true,
                    FriendshipStatus::Pending | FriendshipStatus::Rejected => {
                        r.user_id_1 == me.id && still_waiting(r, now)
                    }
                    // My request under their block, withdrawn as any other.
                    FriendshipStatus::Blocked => waiting_under_block(r, &me.id, now).is_some(),
                })
                .ok_or_else(|| ActionError::NotConnected(cid.clone()))?;
            if row.status == FriendshipStatus::Blocked {
                // Withdrawn, to me; under the block it stays, lapsed, as a
                // withdrawn decline does.
                set_asked(conn, &row, Some((&me.id, lapsed_for_sender(now))))?;
            } else if row.status == FriendshipStatus::Rejected {
                // Withdrawn, to me; the decline stays (`still_waiting`).
                set_status(
                    conn,
                    &row,
                    &row.user_id_1,
                    &row.user_id_2,
                    FriendshipStatus::Rejected,
                    lapsed_for_sender(now),
                )?;
            } else {
                diesel::delete(friendships::table.find(&row.id)).execute(conn)?;
            }
            if row.status == FriendshipStatus::Pending {
                notifications::friends::request_withdrawn(tx, &row.user_id_2, &me.id)?;
            }
            Ok(if row.status == FriendshipStatus::Accepted {
                format!("You and {cid} are no longer friends.")
            } else {
                format!("Your request to {cid} was withdrawn.")
            })
        }
        Action::Block => {
            if computing_id == me.computing_id {
                return Err(ActionError::Yourself);
            }
            let done = format!("{cid} is blocked: they cannot send you requests or see you.");
            let bucket = format!("friend-block:{}", me.id);
            if let Err(limited) =
                rate_limit::hit(tx, &bucket, BLOCKS_PER_DAY, Duration::days(1), now)?
            {
                return Err(ActionError::Limited {
                    retry_at: limited.retry_at,
                });
            }
            let other_id = match &other {
                Some(other) => other.id.clone(),
                // Nobody yet: blocked all the same, so the list reads as for anyone.
                None => placeholder(tx, computing_id, placeholder_domain, now)?,
            };
            // Their block (with my request under it) is met below, as no row.
            let row = row.filter(|r| r.status != FriendshipStatus::Blocked || r.blocked_by(&me.id));
            match row {
                // Mine already (or ours both ways): nothing changes.
                Some(row) if row.blocked_by(&me.id) => {}
                Some(row) => {
                    // What was asked stays under the block: their request,
                    // waiting (or declined by me), reads to them as declined;
                    // mine that they declined stays declined, so blocking and
                    // unblocking cannot lift a decline. Mine still waiting is
                    // withdrawn, its notice with it, as a withdrawal does.
                    let theirs = row.user_id_1 == other_id;
                    if theirs {
                        // Their request is answered by the block: its notice
                        // goes, so it no longer counts in my inbox or is mailed.
                        notifications::friends::request_withdrawn(tx, &me.id, &other_id)?;
                    }
                    let under = match row.status {
                        FriendshipStatus::Pending if theirs && still_waiting(&row, now) => {
                            Some((other_id.clone(), row.updated_at))
                        }
                        FriendshipStatus::Pending if !theirs => {
                            notifications::friends::request_withdrawn(tx, &other_id, &me.id)?;
                            None
                        }
                        FriendshipStatus::Rejected => Some((row.user_id_1.clone(), row.updated_at)),
                        _ => None,
                    };
                    set_status(tx, &row, &me.id, &other_id, FriendshipStatus::Blocked, now)?;
                    if let Some((asker, at)) = &under {
                        set_asked(tx, &row, Some((asker, *at)))?;
                    }
                }
                None => {
                    if let Some(pair) = super::between_locked(tx, &me.id, &other_id)? {
                        if pair.status != FriendshipStatus::Blocked || pair.user_id_1 != other_id {
                            // A row landed since the first look (a request of
                            // theirs, my own block from a second click): act on it.
                            return act_in(tx, me, computing_id, action, placeholder_domain, now);
                        }
                        // They blocked me first: the pair stays theirs, and my
                        // block is kept beside it, listed as mine like any other
                        // (its time is mine: `updated_at` is shown to no one else).
                        diesel::update(friendships::table.find(&pair.id))
                            .set((
                                friendships::blocked_back.eq(true),
                                friendships::updated_at.eq(now),
                            ))
                            .execute(&mut **tx)?;
                    } else {
                        let blocked = super::insert_if_absent(
                            tx,
                            &NewFriendship {
                                id: &FriendshipId::new(),
                                user_id_1: &me.id,
                                user_id_2: &other_id,
                                status: FriendshipStatus::Blocked.as_str(),
                                created_at: now,
                                updated_at: now,
                            },
                        )?;
                        if !blocked {
                            // A request or block of the same pair landed at the same
                            // moment: the pair is there now, so act on it.
                            return act_in(tx, me, computing_id, action, placeholder_domain, now);
                        }
                    }
                }
            }
            Ok(done)
        }
        Action::Unblock => {
            let row = row
                .filter(|r| r.blocked_by(&me.id))
                .ok_or_else(|| ActionError::NotBlocked(cid.clone()))?;
            let target = friendships::table.find(&row.id);
            if row.user_id_2 == me.id {
                // My block back ends; theirs stays.
                diesel::update(target)
                    .set(friendships::blocked_back.eq(false))
                    .execute(conn)?;
            } else if row.blocked_back {
                // My block ends; theirs stays, and the row becomes theirs, from
                // when they blocked (`updated_at` since their block back).
                diesel::update(target)
                    .set((
                        friendships::user_id_1.eq(&row.user_id_2),
                        friendships::user_id_2.eq(&row.user_id_1),
                        friendships::blocked_back.eq(false),
                        friendships::created_at.eq(row.updated_at),
                        friendships::updated_at.eq(now),
                    ))
                    .execute(conn)?;
            } else if let (Some(asker), Some(at)) = (&row.asked_by, row.asked_at) {
                // What was asked under the block is a declined request now:
                // to its sender as it was (waiting until it lapses, if it
                // does), and asking again reaches no one.
                let other = if &row.user_id_1 == asker {
                    &row.user_id_2
                } else {
                    &row.user_id_1
                };
                set_status(conn, &row, asker, other, FriendshipStatus::Rejected, at)?;
            } else {
                diesel::delete(target).execute(conn)?;
            }
            Ok(format!(
                "{cid} is unblocked. Nothing is restored: to be friends again, one of you sends a new request."
            ))
        }
    }
}

/// Another student as a friends page shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub computing_id: String,
    /// Only for accepted friends and students who asked me: they chose to
    /// reach out. Never for requests I sent: showing the name of whoever owns a
    /// computing ID I typed would let anyone look names up by ID.
    pub display_name: Option<String>,
    pub since: NaiveDateTime,
}

impl Person {
    /// "Jane Doe (jd4ab)" or "jd4ab".
    pub fn label(&self) -> String {
        super::label(self.display_name.as_deref(), &self.computing_id)
    }
}

/// An accepted friend, as the friends page lists them.
#[derive(Debug, Clone)]
pub struct Friend {
    pub id: UserId,
    pub person: Person,
    /// They keep their classes from friends: there is no count to show.
    pub hides_classes: bool,
}

/// Everyone a student has a relation with, as that student may see it.
#[derive(Debug, Clone, Default)]
pub struct Overview {
    pub friends: Vec<Friend>,
    pub incoming: Vec<Person>,
    pub outgoing: Vec<Person>,
    pub blocked: Vec<Person>,
}

/// The friends page's lists, in one statement: the rows where I am either
/// side, each joined to the other student (by the side that is not me).
pub fn overview(conn: &mut DbConn, me: &UserId, now: NaiveDateTime) -> QueryResult<Overview> {
    let other = diesel::dsl::case_when(
        friendships::user_id_1.eq(me.clone()),
        friendships::user_id_2,
    )
    .otherwise(friendships::user_id_1);
    let rows: Vec<(Friendship, UserId, String, Option<String>, bool)> = friendships::table
        .inner_join(users::table.on(users::id.eq(other)))
        .filter(
            friendships::user_id_1
                .eq(me)
                .or(friendships::user_id_2.eq(me)),
        )
        .select((
            Friendship::as_select(),
            users::id,
            users::computing_id,
            users::display_name,
            users::hide_classes,
        ))
        .load(conn)?;
    let mut out = Overview::default();
    for (row, other_id, computing_id, display_name, hides_classes) in rows {
        let i_am_first = row.user_id_1 == *me;
        let person = |named: bool| Person {
            computing_id: computing_id.clone(),
            display_name: if named { display_name.clone() } else { None },
            since: row.updated_at,
        };
        if let Some(asked_at) = waiting_under_block(&row, me, now) {
            // Mine, under their block: listed as any request of mine.
            out.outgoing.push(Person {
                since: asked_at,
                ..person(false)
            });
            continue;
        }
        match row.status {
            FriendshipStatus::Accepted => out.friends.push(Friend {
                id: other_id.clone(),
                person: person(true),
                hides_classes,
            }),
            // Mine, answered or not, while it lives (a declined one reads as waiting).
            FriendshipStatus::Pending | FriendshipStatus::Rejected
                if i_am_first && still_waiting(&row, now) =>
            {
                out.outgoing.push(person(false))
            }
            // The requester chose to reach out, so their name shows (see `Person`).
            FriendshipStatus::Pending if !i_am_first && still_waiting(&row, now) => {
                out.incoming.push(person(true))
            }
            FriendshipStatus::Blocked if row.blocked_by(me) => out.blocked.push(person(false)),
            // My lapsed requests, requests I declined and blocks against me are not shown.
            FriendshipStatus::Pending | FriendshipStatus::Blocked | FriendshipStatus::Rejected => {}
        }
    }
    out.friends.sort_by_key(|f| f.person.label().to_lowercase());
    for list in [&mut out.incoming, &mut out.outgoing, &mut out.blocked] {
        list.sort_by(|a, b| a.computing_id.cmp(&b.computing_id));
    }
    Ok(out)
}

/// Pending requests sent to `me` still waiting at `now`, newest first (for
/// the home page), with each requester's display name when they set one.
pub fn incoming(conn: &mut DbConn, me: &UserId, now: NaiveDateTime) -> QueryResult<Vec<Person>> {
    let rows: Vec<(NaiveDateTime, String, Option<String>)> = friendships::table
        .inner_join(users::table.on(users::id.eq(friendships::user_id_1)))
        .filter(friendships::user_id_2.eq(me))
        .filter(friendships::status.eq(FriendshipStatus::Pending.as_str()))
        .filter(friendships::updated_at.ge(lifetime_start(now)))
        .order(friendships::updated_at.desc())
        .select((
            friendships::updated_at,
            users::computing_id,
            users::display_name,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(since, computing_id, display_name)| Person {
            computing_id,
            display_name,
            since,
        })
        .collect())
}

/// An accepted friend by computing ID, or None (not a friend, unknown, or blocked).
pub fn accepted_friend(
    conn: &mut DbConn,
    me: &UserId,
    computing_id: &str,
) -> QueryResult<Option<User>> {
    // One statement: the person by ID, through an accepted friendship with
    // `me` either way round (a pair has one friendship row).
    crate::on_each_backend!(conn, |c| users::table
        .inner_join(
            friendships::table.on(friendships::user_id_1
                .eq(me)
                .and(friendships::user_id_2.eq(users::id))
                .or(friendships::user_id_2
                    .eq(me)
                    .and(friendships::user_id_1.eq(users::id)))),
        )
        .filter(friendships::status.eq(FriendshipStatus::Accepted.as_str()))
        .filter(users::computing_id.eq(computing_id))
        .select(User::as_select())
        .first(c)
        .optional())
}

/// Removes requests nobody answered within `REQUEST_LIFETIME_DAYS`. Declined
/// ones stay (so a declined sender cannot ask again with a notification), and
/// to their senders they lapse at the same age (`still_waiting`).
pub fn delete_lapsed_requests(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(
        friendships::table
            .filter(friendships::status.eq(FriendshipStatus::Pending.as_str()))
            .filter(friendships::updated_at.lt(lifetime_start(now))),
    )
    .execute(conn)
}
