//! Pseudonyms: `Anon_` + the first hex characters of
//! `HMAC-SHA256(SECRET_KEY, user_id ":" class_id)`. Stable for a student within a
//! class, unrelated across classes, unguessable without the key, and unique within
//! a class (the suffix grows on a clash).

use diesel::prelude::*;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::accounts::UserId;
use crate::classes::ClassId;
use crate::db::schema::class_messages;
use crate::db::{DbConn, Tx};

pub const PREFIX: &str = "Anon_";
/// Hex characters a pseudonym starts with (32 bits).
pub const DEFAULT_HEX_LEN: usize = 8;
const FULL_HEX_LEN: usize = 64;

/// The full hex HMAC for a student in a class.
pub fn digest(secret: &[u8], user_id: &UserId, class_id: &ClassId) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(user_id.as_str().as_bytes());
    mac.update(b":");
    mac.update(class_id.as_str().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The pseudonym with `hex_len` hex characters (1 to 64).
pub fn candidate(secret: &[u8], user_id: &UserId, class_id: &ClassId, hex_len: usize) -> String {
    let digest = digest(secret, user_id, class_id);
    format!("{PREFIX}{}", &digest[..hex_len.clamp(1, FULL_HEX_LEN)])
}

/// The student's pseudonym in a class: the one already stored with their messages,
/// else the shortest candidate of at least `min_hex_len` characters that no other
/// message in the class carries. It runs in the transaction that inserts the
/// message, with the class locked, so two students cannot pick the same one.
pub fn assign(
    tx: &mut Tx,
    secret: &[u8],
    user_id: &UserId,
    class_id: &ClassId,
    min_hex_len: usize,
) -> QueryResult<String> {
    let conn: &mut DbConn = tx;
    let existing: Option<String> = class_messages::table
        .filter(class_messages::class_id.eq(class_id))
        .filter(class_messages::user_id.eq(user_id))
        .select(class_messages::anonymous_identifier)
        .first(conn)
        .optional()?;
    if let Some(pseudonym) = existing {
        return Ok(pseudonym);
    }
    let digest = digest(secret, user_id, class_id);
    for len in min_hex_len.clamp(1, FULL_HEX_LEN)..FULL_HEX_LEN {
        let candidate = format!("{PREFIX}{}", &digest[..len]);
        // The student has no message here, so any holder is someone else
        // (or an account deleted since, whose pseudonym must not be reused).
        let taken: bool = diesel::select(diesel::dsl::exists(
            class_messages::table
                .filter(class_messages::class_id.eq(class_id))
                .filter(class_messages::anonymous_identifier.eq(&candidate)),
        ))
        .get_result(conn)?;
        if !taken {
            return Ok(candidate);
        }
    }
    // All 256 bits: distinct for distinct students unless HMAC-SHA256 collides.
    Ok(format!("{PREFIX}{digest}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pseudonym_is_stable_per_class_and_differs_across_classes() {
        let key = b"k".repeat(32);
        let user = UserId::new();
        let (one, two) = (ClassId::new(), ClassId::new());
        let a = candidate(&key, &user, &one, DEFAULT_HEX_LEN);
        assert_eq!(a, candidate(&key, &user, &one, DEFAULT_HEX_LEN));
        assert_ne!(a, candidate(&key, &user, &two, DEFAULT_HEX_LEN));
        assert!(a.starts_with("Anon_"));
        assert_eq!(a.len(), "Anon_".len() + DEFAULT_HEX_LEN);
        assert!(a["Anon_".len()..].bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn the_key_matters_and_the_ids_are_not_in_it() {
        let user = UserId::new();
        let class = ClassId::new();
        let a = candidate(&b"a".repeat(32), &user, &class, 64);
        let b = candidate(&b"b".repeat(32), &user, &class, 64);
        assert_ne!(a, b);
        assert!(!a.contains(user.as_str()) && !a.contains(class.as_str()));
    }

    #[test]
    fn the_separator_keeps_id_pairs_apart() {
        let key = b"k".repeat(32);
        let a = digest(&key, &UserId("ab".into()), &ClassId("c".into()));
        let b = digest(&key, &UserId("a".into()), &ClassId("bc".into()));
        assert_ne!(a, b);
    }
}
