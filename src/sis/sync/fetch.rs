//! The fetch pipeline: which subjects to sync, and every page of each, fetched
//! ahead on the async runtime and handed to the writing thread as events. It
//! touches no database.

use std::collections::BTreeSet;
use std::sync::mpsc;

use futures_util::StreamExt;

use super::SyncRequest;
use crate::sis::client::SisClient;
use crate::sis::wire::SisSection;
use crate::sis::{Subject, Term};

/// A subject with more pages than this is a server ignoring `page`, not a catalog.
const MAX_PAGES: u32 = 500;

/// What the fetching side tells the writing side.
pub(super) enum Event {
    Page {
        subject: Subject,
        page: u32,
        page_count: Option<u32>,
    },
    Fetched {
        subject: Subject,
        result: Result<Vec<SisSection>, String>,
    },
}

/// The subjects to sync, and whether they are all the term has. Given
/// subjects must be ones SIS offers, so a typo is not a silent empty sync.
pub(super) fn choose_subjects(
    client: &SisClient,
    runtime: &tokio::runtime::Handle,
    request: &SyncRequest,
) -> Result<(Vec<Subject>, bool), String> {
    let term = &request.term;
    let options = runtime
        .block_on(client.subjects(term))
        .map_err(|e| format!("cannot list the subjects of term {term}: {e}"))?;
    let mut offered: Vec<Subject> = Vec::new();
    for option in &options {
        let subject = Subject::parse(&option.subject).map_err(|_| {
            format!(
                "SIS offers a subject code that cannot be read: '{}'; not syncing rather than skipping it",
                option.subject
            )
        })?;
        if !offered.contains(&subject) {
            offered.push(subject);
        }
    }
    if offered.is_empty() {
        return Err(format!(
            "SIS lists no subjects for term {term}; nothing synced"
        ));
    }
    if request.subjects.is_empty() {
        return Ok((offered, true));
    }
    let offered_set: BTreeSet<&Subject> = offered.iter().collect();
    for subject in &request.subjects {
        if !offered_set.contains(subject) {
            let some: Vec<&str> = offered.iter().take(12).map(Subject::as_str).collect();
            return Err(format!(
                "unknown subject {subject}: SIS offers {} subjects in term {term} ({}{})",
                offered.len(),
                some.join(", "),
                if offered.len() > some.len() {
                    ", ..."
                } else {
                    ""
                }
            ));
        }
    }
    let full = offered.iter().all(|s| request.subjects.contains(s));
    Ok((request.subjects.clone(), full))
}

/// Fetches the subjects, a few at once, sending an event per page and one per
/// subject fetched whole (or given up on).
pub(super) async fn fetch_subjects(
    client: SisClient,
    term: Term,
    subjects: Vec<Subject>,
    events: mpsc::Sender<Event>,
) {
    let concurrency = client.settings().concurrency.max(1);
    futures_util::stream::iter(subjects)
        .for_each_concurrent(concurrency, |subject| {
            let client = &client;
            let term = &term;
            let events = events.clone();
            async move {
                let result = fetch_subject(client, term, &subject, &events).await;
                // The writer stops listening only when the run is over.
                let _ = events.send(Event::Fetched { subject, result });
            }
        })
        .await;
}

/// Every page of a subject, 1..=pageCount; the older shape has no count and
/// ends with `[]`. An empty page before the count's last fails the subject:
/// a subject read short would take its missing sections out of the catalog
/// ("no longer listed") at the end of a full sync.
async fn fetch_subject(
    client: &SisClient,
    term: &Term,
    subject: &Subject,
    events: &mpsc::Sender<Event>,
) -> Result<Vec<SisSection>, String> {
    let mut sections = Vec::new();
    let mut page_count = None;
    for page in 1..=MAX_PAGES {
        let got = client
            .page(term, subject, page)
            .await
            .map_err(|e| format!("page {page}: {e}"))?;
        // The largest count any page gave: a subject that grew while it was
        // read says so on its later pages, and a walk that kept page 1's
        // count would stop short and take its last sections out of the
        // catalog. Never a smaller one: an empty page saying 0 pages must
        // still read as a page missing, not as the end.
        page_count = page_count.max(got.page_count);
        let _ = events.send(Event::Page {
            subject: subject.clone(),
            page,
            page_count,
        });
        if got.sections.is_empty() {
            return match page_count {
                Some(count) if page < count => Err(format!(
                    "page {page} of {count} came back empty; SIS may have been changing while it was read"
                )),
                _ => Ok(sections),
            };
        }
        sections.extend(got.sections);
        if page_count.is_some_and(|count| page >= count) {
            return Ok(sections);
        }
    }
    Err(format!(
        "more than {MAX_PAGES} pages; SIS seems to ignore the page number"
    ))
}
