//! `student export` and `student erase`: a student's data for a request made
//! to the university rather than on the account page (a graduate who can no
//! longer sign in, a records office asking on a student's behalf). The same
//! document the account page downloads, and the same erasure as "Delete my
//! account", so the two ways can never disagree.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;

use super::open_existing;
use crate::accounts::User;
use crate::config::Config;
use crate::moderation::{self, AuditAction, AuditId, NewAuditEntry};
use crate::ops::student_data;
use crate::{clock, db};

#[derive(Subcommand)]
pub enum StudentCommand {
    /// Write everything stored about the student as JSON (what "Download my
    /// data" on their account page gives) to FILE, or to standard output.
    Export {
        /// The student's computing ID, email address or account id (as the audit log names it).
        who: String,
        /// A new file to write (an existing one is never overwritten); it is
        /// readable by its owner only.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Why, for the audit log (a request's reference, say).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Erase the student's account as "Delete my account" does: their
    /// messages others replied to, and evidence under review, stay as
    /// authorless placeholders; everything else of theirs goes. A staff
    /// account must be made a student first (grant-role, audited).
    Erase {
        /// The student's computing ID, email address or account id (as the audit log names it).
        who: String,
        /// The student's computing ID again, so a typo erases no one.
        #[arg(long)]
        confirm: String,
    },
}

/// Runs a `student` command.
pub(super) fn student(config: &Config, action: StudentCommand) -> anyhow::Result<()> {
    // A request about a student is answered from the database that holds them.
    let mut conn = open_existing(config)?;
    // `mst3k@email.virginia.edu` is the student stored as `mst3k@virginia.edu`.
    let key =
        |who: &str| crate::moderation::users::login_key(who, &config.sign_in.allowed_email_domains);
    match action {
        StudentCommand::Export { who, out, reason } => {
            export(&mut conn, &key(&who), out.as_deref(), reason.as_deref())
        }
        StudentCommand::Erase { who, confirm } => erase(&mut conn, &key(&who), &confirm),
    }
}

fn find(conn: &mut db::DbConn, who: &str) -> anyhow::Result<User> {
    // An account id too: after a restore, the audit log's erasure entries
    // name the accounts to erase again by id (README, Backups).
    let by_id = match crate::accounts::UserId::parse(who.trim()) {
        Some(id) => crate::accounts::find(conn, &id)?,
        None => None,
    };
    let user = match by_id {
        Some(user) => user,
        None => crate::moderation::users::find_by_login(conn, who)?.ok_or_else(|| {
            anyhow::anyhow!(
                "no account for '{}' in this database: check the computing ID or address (the account may also have been erased)",
                who.trim()
            )
        })?,
    };
    // Never signed in: the row is what others' friend requests or blocks
    // keep for the computing ID (one made when someone asked for or blocked
    // it, or when its account was erased), holding nothing of the person's.
    if !user.email_verified {
        anyhow::bail!(
            "no account for '{}' in this database: {} never signed in (or its account was erased); the row for it only keeps other students' friend requests or blocks of that computing ID, which are their data, not this person's; nothing was done",
            who.trim(),
            user.computing_id
        );
    }
    Ok(user)
}

/// The audit log's entry for a command run on `user` (no actor: the command line).
fn audit(
    tx: &mut db::Tx,
    action: AuditAction,
    user: &User,
    reason: Option<&str>,
    now: chrono::NaiveDateTime,
) -> diesel::QueryResult<usize> {
    let reason = reason.map(moderation::one_line).filter(|r| !r.is_empty());
    moderation::record(
        tx,
        &NewAuditEntry {
            id: &AuditId::new(),
            actor_id: None,
            action: action.as_str(),
            target_type: "user",
            target_id: user.id.as_str(),
            reason: reason.as_deref(),
            details: None,
            created_at: now,
            class_id: None,
            category: None,
        },
    )
}

fn export(
    conn: &mut db::DbConn,
    who: &str,
    out: Option<&Path>,
    reason: Option<&str>,
) -> anyhow::Result<()> {
    // The file first, so a refused path leaves no audit entry behind; then the
    // data read and audited in one transaction, before anything is written
    // out: an export hands over every message the student wrote.
    let file = out.map(crate::ops::private::create_new).transpose()?;
    let read = db::write_tx(conn, |tx| -> anyhow::Result<_> {
        // One snapshot for every read of the export, as on the web (there,
        // `db::read_snapshot`; here the audit row shares the transaction).
        // SQLite's BEGIN IMMEDIATE is one already.
        if let db::DbConn::Postgresql(pg) = &mut **tx {
            use diesel::connection::SimpleConnection;
            pg.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")?;
        }
        let user = find(tx, who)?;
        let now = clock::now();
        let data = student_data::export(tx, &user, now)?;
        audit(tx, AuditAction::ExportData, &user, reason, now)?;
        Ok((user, data))
    });
    let (user, data) = match read {
        Ok(read) => read,
        Err(refused) => {
            if let Some(path) = out {
                // Still empty: nothing of anyone's is in it.
                let _ = std::fs::remove_file(path);
            }
            return Err(refused);
        }
    };
    let mut json = serde_json::to_string_pretty(&data)?;
    json.push('\n');
    match (file, out) {
        (Some(mut file), Some(path)) => {
            file.write_all(json.as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "wrote the data of {} ({} bytes) to {}",
                user.computing_id,
                json.len(),
                path.display()
            );
        }
        _ => std::io::stdout().write_all(json.as_bytes())?,
    }
    Ok(())
}

fn erase(conn: &mut db::DbConn, who: &str, confirm: &str) -> anyhow::Result<()> {
    // The checks, the erasure and its audit entry in one transaction, the
    // account's row locked before its role is read (on PostgreSQL; SQLite's
    // write transaction holds the whole database): a role granted meanwhile
    // cannot slip a staff account past the check.
    let (user, erased) = db::write_tx(conn, |tx| -> anyhow::Result<_> {
        let found = find(tx, who)?;
        crate::accounts::lock_row(tx, &found.id)?;
        let user = find(tx, who)?;
        // Its staff actions stay attributed, whatever its role now: a
        // demotion then an erasure would leave who approved each reveal to
        // "a deleted account".
        if moderation::acted_as_staff(tx, &user.id)? {
            anyhow::bail!(
                "{} took staff actions (moderation or reveals) that the audit log keeps under its name, so it is not erased: the record of who hid, removed or revealed what must stay whole; nothing was erased",
                user.computing_id
            );
        }
        if user.role.is_staff() {
            anyhow::bail!(
            "{} is {}; a staff account's actions are in the audit log, so make it a student first (`common-grounds grant-role {} student`, which is audited); nothing was erased",
            user.computing_id,
            match user.role.as_str() {
                "admin" => "an admin",
                _ => "a moderator",
            },
            user.computing_id
        );
        }
        if !confirm.trim().eq_ignore_ascii_case(&user.computing_id) {
            anyhow::bail!(
            "--confirm must repeat the computing ID of the account '{}' names; nothing was erased",
            who.trim()
        );
        }
        let now = clock::now();
        let erased = student_data::erase(tx, &user, now)?;
        // No reason: the entry must not name whom it erased, or staff could
        // tie the authorless evidence it leaves back to a person.
        moderation::record_erasure(tx, &user.id, None, now)?;
        Ok((user, erased))
    })?;
    println!(
        "erased {}: {} message(s) removed, {} kept as authorless placeholders ({} of them evidence under review)",
        user.computing_id,
        erased.messages_removed,
        erased.messages_kept_as_placeholders,
        erased.messages_kept_as_evidence
    );
    Ok(())
}
