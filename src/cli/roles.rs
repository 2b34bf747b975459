//! `grant-role`: give an account a role; how the first admin is made.

use super::open_existing;
use crate::config::Config;
use crate::{clock, db};

/// `grant-role`: changes an account's role (audited, sessions ended).
pub(super) fn grant_role(config: &Config, who: &str, role: &str) -> anyhow::Result<()> {
    let role: crate::accounts::Role = role
        .parse()
        .map_err(|_| anyhow::anyhow!("'{role}' is not a role; use student, moderator or admin"))?;
    let allowed = &config.sign_in.allowed_email_domains;
    // An address no one can sign in with never has an account: said as
    // such, not as "sign in once first", which they never can.
    if who.contains('@') {
        if let Err(problem) = crate::accounts::CampusEmail::parse(who, allowed) {
            anyhow::bail!("'{}' cannot have an account here: {problem}", who.trim());
        }
    }
    let mut conn = open_existing(config)?;
    let key = crate::moderation::users::login_key(who, allowed);
    let outcome = db::write_tx(&mut conn, |c| -> anyhow::Result<_> {
        let missing =
            || anyhow::anyhow!("no account for '{who}': the person must sign in once first");
        let target = crate::moderation::users::find_by_login(c, &key)?.ok_or_else(missing)?;
        // Read again under the row's lock, as the admin page does: a
        // suspension committed meanwhile is seen, and the audit's old role is
        // the one replaced.
        crate::accounts::lock_row(c, &target.id)?;
        let target = crate::moderation::users::find_by_login(c, &key)?.ok_or_else(missing)?;
        let changed = crate::moderation::users::set_role(c, None, &target, role, clock::now())?;
        Ok((target, changed))
    })?;
    let (target, changed) = outcome;
    if changed {
        println!(
            "{} ({}) is now {}; their sessions were ended and the change is in the audit log",
            target.email,
            target.computing_id,
            role.as_str()
        );
    } else {
        println!(
            "{} is already {}; nothing changed",
            target.email,
            role.as_str()
        );
    }
    Ok(())
}
