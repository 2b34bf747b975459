//! A student's email choices: per `Topic` a `Delivery` (off, right away, or in
//! the daily digest) and the campus-time hour their digest goes out. A missing
//! row means the default (`Topic::default_delivery`, `DEFAULT_DIGEST_HOUR`).
//! Changing a topic also moves that student's notifications still waiting to be
//! emailed to the new delivery, in the same transaction, so "off" stops what is
//! already queued for the digest (and what "off" stopped stays in the inbox
//! only: `set_delivery`). It writes only `notification_settings`,
//! `notification_schedules` and the waiting rows' `delivery`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{Delivery, Kind, Topic};
use crate::accounts::UserId;
use crate::db::schema::{notification_schedules, notification_settings, notifications};
use crate::db::{self, DbConn, Tx};

/// The digest hour when a student has not chosen one: 5 PM campus time, after
/// classes (written down in the README).
pub const DEFAULT_DIGEST_HOUR: DigestHour = DigestHour(17);

/// An hour of the campus day, 0-23, when the daily digest goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DigestHour(u8);

impl DigestHour {
    /// Accepts 0-23 only.
    pub fn new(hour: u32) -> Option<DigestHour> {
        u8::try_from(hour).ok().filter(|h| *h < 24).map(DigestHour)
    }

    /// Parses a form's value ("17").
    pub fn parse(raw: &str) -> Option<DigestHour> {
        raw.trim().parse::<u32>().ok().and_then(DigestHour::new)
    }

    pub fn get(self) -> u32 {
        u32::from(self.0)
    }

    /// Every hour of the day, for the settings page's select.
    pub fn all() -> impl Iterator<Item = DigestHour> {
        (0..24).map(DigestHour)
    }

    /// "5 PM", "12 AM" (midnight), "12 PM" (noon).
    pub fn label(self) -> String {
        let (twelve, half) = match self.0 {
            0 => (12, "AM"),
            h @ 1..=11 => (h, "AM"),
            12 => (12, "PM"),
            h => (h - 12, "PM"),
        };
        format!("{twelve} {half}")
    }
}

/// Everything the settings page shows and saves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailChoices {
    /// One entry per topic, in `Topic::ALL` order.
    pub deliveries: Vec<(Topic, Delivery)>,
    pub digest_hour: DigestHour,
}

impl EmailChoices {
    /// How the student hears of `topic`.
    pub fn delivery(&self, topic: Topic) -> Delivery {
        self.deliveries
            .iter()
            .find(|(t, _)| *t == topic)
            .map(|(_, d)| *d)
            .unwrap_or_else(|| topic.default_delivery())
    }
}

/// The student's choices, with defaults for what they never chose. Two statements.
pub fn load(conn: &mut DbConn, user: &UserId) -> QueryResult<EmailChoices> {
    let chosen: Vec<(String, String)> = notification_settings::table
        .filter(notification_settings::user_id.eq(user))
        .select((
            notification_settings::topic,
            notification_settings::delivery,
        ))
        .load(conn)?;
    let deliveries = Topic::ALL
        .iter()
        .map(|topic| {
            let delivery = topic.delivery_from(
                chosen
                    .iter()
                    .find(|(t, _)| t == topic.as_str())
                    .map(|(_, d)| d.as_str()),
            );
            (*topic, delivery)
        })
        .collect();
    Ok(EmailChoices {
        deliveries,
        digest_hour: digest_hour(conn, user)?,
    })
}

/// The student's digest hour, or the default.
pub fn digest_hour(conn: &mut DbConn, user: &UserId) -> QueryResult<DigestHour> {
    let hour: Option<i32> = notification_schedules::table
        .find(user)
        .select(notification_schedules::digest_hour)
        .first(conn)
        .optional()?;
    Ok(hour
        .and_then(|h| u32::try_from(h).ok())
        .and_then(DigestHour::new)
        .unwrap_or(DEFAULT_DIGEST_HOUR))
}

/// Saves every choice of the settings page in one transaction.
pub fn save(
    conn: &mut DbConn,
    user: &UserId,
    choices: &EmailChoices,
    now: NaiveDateTime,
) -> QueryResult<()> {
    db::write_tx(conn, |tx| {
        for (topic, delivery) in &choices.deliveries {
            set_delivery(tx, user, *topic, *delivery, now)?;
        }
        set_digest_hour(tx, user, choices.digest_hour, now)
    })
}

/// Turns the given topics off for the student (the one-click unsubscribe), in
/// one transaction.
pub fn turn_off(
    conn: &mut DbConn,
    user: &UserId,
    topics: &[Topic],
    now: NaiveDateTime,
) -> QueryResult<()> {
    db::write_tx(conn, |tx| {
        for topic in topics {
            set_delivery(tx, user, *topic, Delivery::Off, now)?;
        }
        Ok(())
    })
}

/// Records how the student hears of `topic`, and moves their notifications of
/// that topic still waiting for an email (not yet emailed, not in a digest) to
/// it. Returns how many waiting rows moved. A notice that is `Off` stays off:
/// it came while the topic was off, was written for the inbox only (a
/// friend request asked again in the day), or was waiting when the student
/// turned the topic off (the one-click unsubscribe too), and is no email's
/// to send now (else turning replies back on would mail a month of them,
/// and saving the page would mail every request a day's limit kept quiet).
/// It stays in the inbox.
pub fn set_delivery(
    tx: &mut Tx,
    user: &UserId,
    topic: Topic,
    delivery: Delivery,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let row = (
        notification_settings::user_id.eq(user),
        notification_settings::topic.eq(topic.as_str()),
        notification_settings::delivery.eq(delivery.as_str()),
        notification_settings::updated_at.eq(now),
    );
    crate::on_each_backend!(tx, |c| diesel::insert_into(notification_settings::table)
        .values(row)
        .on_conflict((notification_settings::user_id, notification_settings::topic,))
        .do_update()
        .set((
            notification_settings::delivery.eq(delivery.as_str()),
            notification_settings::updated_at.eq(now),
        ))
        .execute(c))?;
    let kinds: Vec<&'static str> = Kind::of_topic(topic)
        .into_iter()
        .map(Kind::as_str)
        .collect();
    let conn: &mut DbConn = tx;
    diesel::update(
        notifications::table
            .filter(notifications::user_id.eq(user))
            .filter(notifications::kind.eq_any(kinds))
            .filter(notifications::emailed_at.is_null())
            .filter(notifications::digest_id.is_null())
            .filter(notifications::delivery.ne(delivery.as_str()))
            .filter(notifications::delivery.ne(Delivery::Off.as_str())),
    )
    .set(notifications::delivery.eq(delivery.as_str()))
    .execute(conn)
}

/// Records the student's digest hour.
pub fn set_digest_hour(
    tx: &mut Tx,
    user: &UserId,
    hour: DigestHour,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let value = hour.get() as i32;
    let row = (
        notification_schedules::user_id.eq(user),
        notification_schedules::digest_hour.eq(value),
        notification_schedules::updated_at.eq(now),
    );
    crate::on_each_backend!(tx, |c| diesel::insert_into(notification_schedules::table)
        .values(row)
        .on_conflict(notification_schedules::user_id)
        .do_update()
        .set((
            notification_schedules::digest_hour.eq(value),
            notification_schedules::updated_at.eq(now),
        ))
        .execute(c))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_read_as_a_twelve_hour_clock() {
        assert_eq!(DEFAULT_DIGEST_HOUR.label(), "5 PM");
        assert_eq!(DigestHour::new(0).unwrap().label(), "12 AM");
        assert_eq!(DigestHour::new(12).unwrap().label(), "12 PM");
        assert_eq!(DigestHour::new(9).unwrap().label(), "9 AM");
        assert_eq!(DigestHour::all().count(), 24);
    }

    #[test]
    fn only_hours_of_a_day_parse() {
        assert_eq!(DigestHour::parse("23").map(DigestHour::get), Some(23));
        assert_eq!(DigestHour::parse("24"), None);
        assert_eq!(DigestHour::parse("-1"), None);
        assert_eq!(DigestHour::parse("5 PM"), None);
    }
}
