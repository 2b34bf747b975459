//! Pseudonyms: a two-word name per student per class ("Violet Heron"), an
//! adjective and a noun from the lists we ship, chosen by the keyed
//! `HMAC-SHA256(SECRET_KEY, "name-v2:" user_id ":" class_id)`. Stable for a
//! student within a class (stored once in `chat_pseudonyms`), unrelated across
//! classes, unguessable without the key, and unique within a class. Nothing
//! here reads or shows who holds a name; only the posting transaction writes one.
//!
//! The `name-v2:` prefix keeps the names apart from the older `Anon_` names,
//! which showed the first hex of `HMAC(SECRET_KEY, user_id ":" class_id)` on
//! every message that carries one: read from that digest, a student's two-word
//! name in the same class could be worked out from any old post of theirs,
//! linking what they wrote under the two names.
//!
//! Candidates come from a keyed stream: block 0 is the digest above, block `n`
//! (from 1) is `HMAC-SHA256(SECRET_KEY, "name-v2:" user_id ":" class_id ":" n)`
//! (`n` in decimal; ids are UUIDs, without colons). Candidate `i` reads the four bytes at
//! `4 * (i % 8)` of block `i / 8`: two big-endian `u16`, the first picks the
//! adjective (modulo the list's length), the second the noun. A student takes the
//! first candidate nobody in the class holds, so a clash moves on to the next one,
//! the same way every time. Names taken before the word lists (`Anon_` and hex)
//! stay on the messages that carry them and can never equal a two-word name.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::accounts::UserId;
use crate::classes::ClassId;
use crate::db::schema::chat_pseudonyms;
use crate::db::{DbConn, Tx};

const ADJECTIVES_TXT: &str = include_str!("words/adjectives.txt");
const NOUNS_TXT: &str = include_str!("words/nouns.txt");
/// Words and pairs no name may contain, checked by this module's tests.
#[cfg(test)]
const BLOCKED_TXT: &str = include_str!("words/blocked.txt");

/// Candidates looked up in one query: clashes past the first few are rare.
const BATCH: usize = 16;
/// Candidates tried before a name takes a hex suffix (only a class of thousands
/// of students could get there).
const MAX_CANDIDATES: usize = 1024;
/// How many colours the mark beside a name has (`pm-0` to `pm-7` in app.css).
pub const MARKS: usize = 8;

fn words(list: &'static str) -> impl Iterator<Item = &'static str> {
    list.lines().map(str::trim).filter(|w| !w.is_empty())
}

/// A word list read once: its words in file order and each word's place.
/// `mark` runs for every message a chat page shows; walking the file for
/// each (splitting lines, trimming) was a tenth of the chat page's CPU.
struct WordList {
    words: Vec<&'static str>,
    places: HashMap<&'static str, usize>,
}

impl WordList {
    fn read(text: &'static str) -> WordList {
        let words: Vec<&'static str> = words(text).collect();
        let mut places = HashMap::with_capacity(words.len());
        for (i, word) in words.iter().enumerate() {
            places.entry(*word).or_insert(i);
        }
        WordList { words, places }
    }
}

static ADJECTIVES: LazyLock<WordList> = LazyLock::new(|| WordList::read(ADJECTIVES_TXT));
static NOUNS: LazyLock<WordList> = LazyLock::new(|| WordList::read(NOUNS_TXT));

/// The adjectives, in file order (a name's first word).
pub fn adjectives() -> Vec<&'static str> {
    ADJECTIVES.words.clone()
}

/// The nouns, in file order (a name's second word).
pub fn nouns() -> Vec<&'static str> {
    NOUNS.words.clone()
}

fn mac(secret: &[u8]) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length")
}

/// Block `block` of a student's name stream in a class (see the module's notes).
fn name_block(secret: &[u8], user_id: &UserId, class_id: &ClassId, block: usize) -> [u8; 32] {
    let mut mac = mac(secret);
    mac.update(b"name-v2:");
    mac.update(user_id.as_str().as_bytes());
    mac.update(b":");
    mac.update(class_id.as_str().as_bytes());
    if block > 0 {
        mac.update(format!(":{block}").as_bytes());
    }
    mac.finalize().into_bytes().into()
}

/// A student's candidate names in a class, in the order they are tried.
pub struct Candidates<'a> {
    secret: &'a [u8],
    user_id: &'a UserId,
    class_id: &'a ClassId,
    adjectives: &'static [&'static str],
    nouns: &'static [&'static str],
    block: [u8; 32],
    next: usize,
}

impl<'a> Candidates<'a> {
    pub fn new(secret: &'a [u8], user_id: &'a UserId, class_id: &'a ClassId) -> Candidates<'a> {
        Candidates {
            secret,
            user_id,
            class_id,
            adjectives: &ADJECTIVES.words,
            nouns: &NOUNS.words,
            block: name_block(secret, user_id, class_id, 0),
            next: 0,
        }
    }
}

impl Iterator for Candidates<'_> {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        let i = self.next;
        self.next += 1;
        let (block, at) = (i / 8, 4 * (i % 8));
        if at == 0 && block > 0 {
            self.block = name_block(self.secret, self.user_id, self.class_id, block);
        }
        let b = &self.block[at..at + 4];
        let adjective = usize::from(u16::from_be_bytes([b[0], b[1]])) % self.adjectives.len();
        let noun = usize::from(u16::from_be_bytes([b[2], b[3]])) % self.nouns.len();
        Some(format!(
            "{} {}",
            self.adjectives[adjective], self.nouns[noun]
        ))
    }
}

/// The student's first candidate in a class: their name unless it was taken.
pub fn candidate(secret: &[u8], user_id: &UserId, class_id: &ClassId) -> String {
    Candidates::new(secret, user_id, class_id)
        .next()
        .expect("the stream never ends")
}

/// The name the student holds in the class, if they posted there since the
/// two-word names came in.
pub fn held(
    conn: &mut DbConn,
    user_id: &UserId,
    class_id: &ClassId,
) -> QueryResult<Option<String>> {
    held_name!(user_id.clone(), class_id.clone())
        .first(conn)
        .optional()
}

/// A student's first `BATCH` candidate names in a class, in the order tried.
pub fn first_candidates(secret: &[u8], user_id: &UserId, class_id: &ClassId) -> [String; BATCH] {
    let mut names = Candidates::new(secret, user_id, class_id);
    std::array::from_fn(|_| names.next().expect("the stream never ends"))
}

/// Whether someone holds the name `$name` in `$class` (owned values), as an
/// expression.
macro_rules! is_taken {
    ($class:expr, $name:expr) => {{
        use $crate::db::schema::chat_pseudonyms;
        let name: String = $name;
        diesel::dsl::exists(
            chat_pseudonyms::table
                .filter(chat_pseudonyms::class_id.eq($class))
                .filter(chat_pseudonyms::name.eq(name)),
        )
    }};
}

/// The first of `$names` (a student's `first_candidates`) no one holds in
/// `$class`, or NULL when all are taken, as an expression a page's statement
/// selects beside its own columns (the class head): a CASE both databases
/// stop evaluating at the first free name, so it usually costs one probe of
/// the (class, name) index. What `first_free` finds by its first batch.
macro_rules! first_free_of {
    ($class:expr, $names:expr) => {{
        use diesel::sql_types::Text;
        use diesel::IntoSql;
        let class: ClassId = $class;
        let [n0, n1, n2, n3, n4, n5, n6, n7, n8, n9, n10, n11, n12, n13, n14, n15]: [String; 16] =
            $names;
        let free = |name: &String| {
            diesel::dsl::not($crate::chat::pseudonym::is_taken!(
                class.clone(),
                name.clone()
            ))
        };
        diesel::dsl::case_when(free(&n0), n0.clone().into_sql::<Text>())
            .when(free(&n1), n1.clone().into_sql::<Text>())
            .when(free(&n2), n2.clone().into_sql::<Text>())
            .when(free(&n3), n3.clone().into_sql::<Text>())
            .when(free(&n4), n4.clone().into_sql::<Text>())
            .when(free(&n5), n5.clone().into_sql::<Text>())
            .when(free(&n6), n6.clone().into_sql::<Text>())
            .when(free(&n7), n7.clone().into_sql::<Text>())
            .when(free(&n8), n8.clone().into_sql::<Text>())
            .when(free(&n9), n9.clone().into_sql::<Text>())
            .when(free(&n10), n10.clone().into_sql::<Text>())
            .when(free(&n11), n11.clone().into_sql::<Text>())
            .when(free(&n12), n12.clone().into_sql::<Text>())
            .when(free(&n13), n13.clone().into_sql::<Text>())
            .when(free(&n14), n14.clone().into_sql::<Text>())
            .when(free(&n15), n15.clone().into_sql::<Text>())
    }};
}
pub(crate) use {first_free_of, is_taken};

/// The name `$user` holds in `$class` (owned ids), as a query: `held`, or a
/// one-value subquery of a page's statement (the class page's head).
macro_rules! held_name {
    ($user:expr, $class:expr) => {{
        use $crate::db::schema::chat_pseudonyms;
        chat_pseudonyms::table
            .filter(chat_pseudonyms::class_id.eq($class))
            .filter(chat_pseudonyms::user_id.eq($user))
            .select(chat_pseudonyms::name)
    }};
}
pub(crate) use held_name;

/// The student's name in a class: the one already taken, else the first free
/// candidate, taken now. It runs in the transaction that inserts the message,
/// with the class locked, so two students cannot take the same one. A name stays
/// taken for the class's life, also after its holder's account is erased.
pub fn assign(
    tx: &mut Tx,
    secret: &[u8],
    user_id: &UserId,
    class_id: &ClassId,
    now: NaiveDateTime,
) -> QueryResult<String> {
    let conn: &mut DbConn = tx;
    if let Some(name) = held(conn, user_id, class_id)? {
        return Ok(name);
    }
    let name = first_free(conn, secret, user_id, class_id)?;
    diesel::insert_into(chat_pseudonyms::table)
        .values((
            chat_pseudonyms::class_id.eq(class_id),
            chat_pseudonyms::name.eq(&name),
            chat_pseudonyms::user_id.eq(Some(user_id)),
            chat_pseudonyms::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(name)
}

/// The first candidate no one holds in the class, `BATCH` candidates a query.
pub fn first_free(
    conn: &mut DbConn,
    secret: &[u8],
    user_id: &UserId,
    class_id: &ClassId,
) -> QueryResult<String> {
    let mut candidates = Candidates::new(secret, user_id, class_id);
    for _ in 0..MAX_CANDIDATES / BATCH {
        let batch: Vec<String> = candidates.by_ref().take(BATCH).collect();
        let taken: HashSet<String> = chat_pseudonyms::table
            .filter(chat_pseudonyms::class_id.eq(class_id))
            .filter(chat_pseudonyms::name.eq_any(&batch))
            .select(chat_pseudonyms::name)
            .load::<String>(conn)?
            .into_iter()
            .collect();
        if let Some(free) = batch.into_iter().find(|name| !taken.contains(name)) {
            return Ok(free);
        }
    }
    // Past 1024 taken candidates: the first one with block 0's first 12 hex
    // characters, distinct for distinct students unless HMAC-SHA256 collides.
    let digest = hex::encode(name_block(secret, user_id, class_id, 0));
    Ok(format!(
        "{} {}",
        candidate(secret, user_id, class_id),
        &digest[..12]
    ))
}

/// A name taken by history imported in bulk (the demo campus, load tests).
#[derive(Debug, Insertable)]
#[diesel(table_name = chat_pseudonyms)]
pub struct ImportedName {
    pub class_id: String,
    pub name: String,
    pub user_id: Option<String>,
    pub created_at: NaiveDateTime,
}

/// Records names that imported messages carry, so a later post never takes one.
pub fn import(tx: &mut Tx<'_>, names: &[ImportedName]) -> QueryResult<()> {
    // Four binds a row, well under both backends' limits.
    for chunk in names.chunks(5_000) {
        crate::on_each_backend!(tx, |c| diesel::insert_into(chat_pseudonyms::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// The colour of the small mark beside a name (0 to `MARKS - 1`): a pure function
/// of its two word indices, of the hex of an older `Anon_` name, or else of its
/// bytes. Decorative: the name itself is what tells authors apart.
pub fn mark(name: &str) -> usize {
    let mut parts = name.split(' ');
    if let (Some(first), Some(second)) = (parts.next(), parts.next()) {
        let adjective = ADJECTIVES.places.get(first).copied();
        let noun = NOUNS.places.get(second).copied();
        if let (Some(a), Some(n)) = (adjective, noun) {
            // Neighbours in either list land on different colours.
            return (a + 3 * n) % MARKS;
        }
    }
    if let Some(hex) = name.strip_prefix("Anon_") {
        if let Some(v) = hex.get(..2).and_then(|h| u8::from_str_radix(h, 16).ok()) {
            return usize::from(v) % MARKS;
        }
    }
    name.bytes().map(usize::from).sum::<usize>() % MARKS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_stable_per_class_and_differs_across_classes() {
        let key = b"k".repeat(32);
        let user = UserId::new();
        let (one, two) = (ClassId::new(), ClassId::new());
        let a = candidate(&key, &user, &one);
        assert_eq!(a, candidate(&key, &user, &one));
        assert_ne!(a, candidate(&key, &user, &two));
        let (adjective, noun) = a.split_once(' ').expect("two words");
        assert!(adjectives().contains(&adjective), "{a}");
        assert!(nouns().contains(&noun), "{a}");
    }

    #[test]
    fn the_first_candidate_reads_the_digest_and_later_ones_the_stream() {
        let key = b"k".repeat(32);
        let (user, class) = (UserId::new(), ClassId::new());
        let digest = name_block(&key, &user, &class, 0);
        let (adj, noun) = (adjectives(), nouns());
        let pick = |b: &[u8]| {
            format!(
                "{} {}",
                adj[usize::from(u16::from_be_bytes([b[0], b[1]])) % adj.len()],
                noun[usize::from(u16::from_be_bytes([b[2], b[3]])) % noun.len()]
            )
        };
        let first: Vec<String> = Candidates::new(&key, &user, &class).take(20).collect();
        assert_eq!(first[0], pick(&digest[0..4]));
        assert_eq!(first[7], pick(&digest[28..32]));
        let mut mac = mac(&key);
        mac.update(format!("name-v2:{}:{}:1", user.as_str(), class.as_str()).as_bytes());
        let block1: [u8; 32] = mac.finalize().into_bytes().into();
        assert_eq!(first[8], pick(&block1[0..4]));
        assert_eq!(first[9], pick(&block1[4..8]));
        let again: Vec<String> = Candidates::new(&key, &user, &class).take(20).collect();
        assert_eq!(first, again, "deterministic");
        let distinct: HashSet<&String> = first.iter().collect();
        assert!(distinct.len() > 15, "the stream moves on: {first:?}");
    }

    #[test]
    fn the_key_matters_and_the_ids_are_not_in_it() {
        let user = UserId::new();
        let class = ClassId::new();
        let a: Vec<String> = Candidates::new(&b"a".repeat(32), &user, &class)
            .take(4)
            .collect();
        let b: Vec<String> = Candidates::new(&b"b".repeat(32), &user, &class)
            .take(4)
            .collect();
        assert_ne!(a, b);
        assert!(!a[0].contains(user.as_str()) && !a[0].contains(class.as_str()));
    }

    #[test]
    fn the_separator_keeps_id_pairs_apart() {
        let key = b"k".repeat(32);
        let a = name_block(&key, &UserId("ab".into()), &ClassId("c".into()), 0);
        let b = name_block(&key, &UserId("a".into()), &ClassId("bc".into()), 0);
        assert_ne!(a, b);
    }

    /// An old `Anon_` name showed the hex of `HMAC(key, user ":" class)`; the
    /// two-word name must not be read from that digest, or anyone could work
    /// out a student's new name in a class from an old post of theirs there.
    #[test]
    fn an_old_anon_name_does_not_give_away_the_new_one() {
        let key = b"k".repeat(32);
        let (adj, noun) = (adjectives(), nouns());
        let from_old_name = |user: &UserId, class: &ClassId| {
            let mut old = mac(&key);
            old.update(format!("{}:{}", user.as_str(), class.as_str()).as_bytes());
            let b: [u8; 32] = old.finalize().into_bytes().into();
            format!(
                "{} {}",
                adj[usize::from(u16::from_be_bytes([b[0], b[1]])) % adj.len()],
                noun[usize::from(u16::from_be_bytes([b[2], b[3]])) % noun.len()]
            )
        };
        let guessed = (0..20)
            .filter(|_| {
                let (user, class) = (UserId::new(), ClassId::new());
                candidate(&key, &user, &class) == from_old_name(&user, &class)
            })
            .count();
        assert!(guessed < 3, "{guessed} of 20 names read off the old digest");
    }

    #[test]
    fn the_word_lists_are_short_friendly_words_each_once() {
        for (list, name) in [(adjectives(), "adjectives"), (nouns(), "nouns")] {
            assert!(
                (100..=200).contains(&list.len()),
                "{name}: {} words",
                list.len()
            );
            let mut seen = HashSet::new();
            for word in &list {
                assert!(
                    (2..=8).contains(&word.len()),
                    "{name}: '{word}' is not 2 to 8 letters"
                );
                assert!(
                    word.bytes().all(|b| b.is_ascii_alphabetic()),
                    "{name}: '{word}' is not ASCII letters"
                );
                assert!(
                    word.as_bytes()[0].is_ascii_uppercase()
                        && word[1..].bytes().all(|b| b.is_ascii_lowercase()),
                    "{name}: '{word}' is not capitalized"
                );
                assert!(
                    seen.insert(word.to_ascii_lowercase()),
                    "{name}: '{word}' twice"
                );
            }
        }
        let adjectives: HashSet<&str> = adjectives().into_iter().collect();
        for noun in nouns() {
            assert!(!adjectives.contains(noun), "'{noun}' is in both lists");
        }
    }

    #[test]
    fn no_word_and_no_pair_contains_a_blocked_word() {
        let blocked: Vec<String> = BLOCKED_TXT
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_ascii_lowercase)
            .collect();
        assert!(blocked.len() > 20, "the list is there");
        let single: Vec<&String> = blocked.iter().filter(|b| !b.contains(' ')).collect();
        for word in adjectives().into_iter().chain(nouns()) {
            let lower = word.to_ascii_lowercase();
            for b in &single {
                assert!(!lower.contains(b.as_str()), "'{word}' contains '{b}'");
            }
        }
        let mut pairs = 0;
        for adjective in adjectives() {
            for noun in nouns() {
                let spaced = format!("{adjective} {noun}").to_ascii_lowercase();
                let joined = format!("{adjective}{noun}").to_ascii_lowercase();
                for b in &blocked {
                    assert!(
                        !spaced.contains(b.as_str()) && !joined.contains(b.as_str()),
                        "'{adjective} {noun}' contains '{b}'"
                    );
                }
                pairs += 1;
            }
        }
        assert!(pairs > 10_000, "{pairs} names, enough for large classes");
    }

    #[test]
    fn the_mark_follows_the_words_and_old_names_get_one_too() {
        let adj = adjectives();
        let noun = nouns();
        let name = format!("{} {}", adj[4], noun[2]);
        assert_eq!(mark(&name), (4 + 3 * 2) % MARKS);
        // Neighbours differ.
        assert_ne!(
            mark(&format!("{} {}", adj[0], noun[0])),
            mark(&format!("{} {}", adj[1], noun[0]))
        );
        assert_ne!(
            mark(&format!("{} {}", adj[0], noun[0])),
            mark(&format!("{} {}", adj[0], noun[1]))
        );
        assert_eq!(mark("Anon_0a3df3e1"), 0x0a % MARKS);
        assert_eq!(mark("Anon_ff"), 0xff % MARKS);
        assert!(mark("Anon_deleted") < MARKS);
        assert!(mark("") < MARKS);
        let used: HashSet<usize> = (0..40)
            .map(|i| mark(&format!("{} {}", adj[i], noun[i * 2])))
            .collect();
        assert_eq!(used.len(), MARKS, "every colour is used");
    }

    #[test]
    fn a_two_word_name_never_looks_like_an_old_one() {
        let key = b"k".repeat(32);
        for name in Candidates::new(&key, &UserId::new(), &ClassId::new()).take(64) {
            assert!(!name.starts_with("Anon_") && name.contains(' '), "{name}");
        }
    }
}
