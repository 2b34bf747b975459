//! The outbox worker: runs inside `serve`, claims due messages, hands them to
//! the `Mailer`, and records the outcome. It stops between messages on shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use super::outbox;
use super::{MailError, Mailer};
use crate::clock;
use crate::db::Pool;

/// How long one delivery may take: well inside the outbox's two-minute lease.
const SEND_WITHIN: Duration = Duration::from_secs(90);

/// Wakes the worker when something was queued, so email leaves at once.
#[derive(Clone, Default)]
pub struct OutboxSignal(Arc<Notify>);

impl OutboxSignal {
    pub fn notify(&self) {
        self.0.notify_one();
    }
}

/// Drains the outbox until `shutdown` turns true. Database or SMTP trouble is
/// logged and retried; nothing here can end the loop but shutdown.
pub async fn run(
    pool: Pool,
    mailer: Mailer,
    signal: OutboxSignal,
    mut shutdown: watch::Receiver<bool>,
) {
    let idle = Duration::from_secs(2);
    loop {
        // A dropped sender also means stop: `changed()` would then return at once
        // and turn the idle waits below into a busy loop on the database.
        if *shutdown.borrow() || shutdown.has_changed().is_err() {
            break;
        }
        let claimed = {
            let pool = pool.clone();
            tokio::task::spawn_blocking(move || -> anyhow::Result<Option<outbox::OutboxMessage>> {
                let mut conn = pool.get()?;
                Ok(outbox::claim_next(&mut conn, clock::now())?)
            })
            .await
        };
        let message = match claimed {
            Ok(Ok(Some(message))) => message,
            Ok(Ok(None)) => {
                tokio::select! {
                    _ = signal.0.notified() => {}
                    _ = tokio::time::sleep(idle) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            Ok(Err(error)) => {
                tracing::warn!(error = %error, "outbox: cannot claim a message; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(idle) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            Err(join) => {
                tracing::error!(error = %join, "outbox: claim task failed");
                continue;
            }
        };
        let result = if message.is_stale_sign_in(clock::now()) {
            Err(MailError::Stale)
        } else {
            // Within the lease, so that no other worker takes the message over
            // while this one still may deliver it.
            match tokio::time::timeout(SEND_WITHIN, mailer.send(&message.email())).await {
                Ok(result) => result,
                Err(_) => Err(MailError::Smtp(format!(
                    "no answer from the mail server in {} s",
                    SEND_WITHIN.as_secs()
                ))),
            }
        };
        let pool = pool.clone();
        let recorded = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let mut conn = pool.get()?;
            match result {
                Ok(()) => {
                    if outbox::mark_sent(&mut conn, &message, clock::now())? == 0 {
                        tracing::warn!(outbox_id = %message.id, "email delivered after its lease ran out; another worker had it");
                    } else {
                        tracing::info!(outbox_id = %message.id, attempts = message.attempts, "email delivered");
                    }
                }
                Err(error) => {
                    let for_good = matches!(error, MailError::Refused(_) | MailError::Stale);
                    outbox::mark_failed_try(&mut conn, &message, &error.to_string(), for_good, clock::now())?;
                    // The server's words often repeat the recipient ("550 <abc1d@…>:
                    // no such user"): the log gets them without addresses.
                    let said = without_addresses(&error.to_string());
                    if for_good {
                        tracing::warn!(outbox_id = %message.id, attempts = message.attempts, error = %said, "email not delivered; given up");
                    } else {
                        tracing::warn!(outbox_id = %message.id, attempts = message.attempts, error = %said, "email not delivered; will retry");
                    }
                }
            }
            Ok(())
        })
        .await;
        // If the outcome cannot be written, the lease runs out and the message is
        // tried again: a rare duplicate, never a loss.
        if let Ok(Err(error)) = recorded {
            tracing::warn!(error = %error, "outbox: cannot record a delivery outcome");
        }
    }
    tracing::info!("outbox worker stopped");
}

/// `text` with every word that holds an `@` (an email address, however the
/// mail server wrapped it) replaced by `<address>`: for logs, which must not
/// name students.
fn without_addresses(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if word.contains('@') {
                "<address>"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn logged_mail_errors_name_no_address() {
        assert_eq!(
            super::without_addresses(
                "permanent error (550): 5.1.1 <abc1d@virginia.edu>: Recipient address rejected"
            ),
            "permanent error (550): 5.1.1 <address> Recipient address rejected"
        );
        assert_eq!(
            super::without_addresses("connection refused"),
            "connection refused"
        );
    }
}
