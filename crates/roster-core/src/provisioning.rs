//! The provisioning log of SCIM requests: one-line summaries (identifiers only, never
//! attribute values), the journal rows written atomically with changes, and a batching
//! writer for everything else (reads and refused requests), so logging a GET never costs a
//! write transaction of its own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use serde_json::{Map, Value};

use roster_scim::{Notes, ResourceKind};

use crate::audit::ProvisioningEntry;
use crate::scim::{ScimCtx, WriteReport};
use crate::store::{Journal, JournalRow, MemberReport, Store, Written};

/// What the HTTP layer knows about the request being served.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    pub request_id: String,
    pub method: String,
    /// The path without its query (queries can hold attribute values).
    pub path: String,
    pub started: Instant,
}

fn kind_word(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "user",
        ResourceKind::Group => "group",
    }
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

/// "+3 members, −1 member", or "" when nothing changed.
pub fn member_delta(m: &MemberReport) -> String {
    let mut parts = Vec::new();
    if m.added > 0 {
        parts.push(format!("+{}", plural(m.added, "member")));
    }
    if m.removed > 0 {
        parts.push(format!("−{}", plural(m.removed, "member")));
    }
    parts.join(", ")
}

/// The notes of a write as one string: compatibility rules applied and skipped ids.
pub fn notes_text(notes: &Notes, members: &MemberReport) -> String {
    let mut parts: Vec<String> = notes.iter().map(ToString::to_string).collect();
    if !members.unknown.is_empty() {
        parts.push(format!(
            "{} skipped: {}",
            plural(members.unknown.len() as u64, "unknown member id"),
            members.unknown.join(", ")
        ));
    }
    parts.join("; ")
}

/// The name a log line uses for a resource: its userName or displayName.
pub fn resource_name(kind: ResourceKind, data: &Map<String, Value>) -> &str {
    let attr = if kind == ResourceKind::User { "userName" } else { "displayName" };
    data.get(attr).and_then(Value::as_str).unwrap_or_default()
}

/// The one-line summary of a successful write.
pub fn write_summary(method: &str, kind: ResourceKind, data: &Map<String, Value>, report: &WriteReport) -> String {
    let who = format!("{} {}", kind_word(kind), resource_name(kind, data));
    let delta = member_delta(&report.members);
    let unknown = if report.members.unknown.is_empty() {
        String::new()
    } else {
        format!("; {} skipped", plural(report.members.unknown.len() as u64, "unknown member id"))
    };
    match method {
        "POST" => {
            let members = if report.members.added > 0 {
                format!(" with {}", plural(report.members.added, "member"))
            } else {
                String::new()
            };
            format!("{who} created{members}{unknown}")
        }
        "DELETE" => format!("{who} deleted"),
        _ if !report.wrote => format!("{method} {who}: no change{unknown}"),
        _ => {
            if kind == ResourceKind::User && report.changed.iter().any(|c| c == "active") {
                let state = match data.get("active").and_then(Value::as_bool) {
                    Some(false) => "deactivated",
                    Some(true) => "reactivated",
                    None => "active cleared",
                };
                let others: Vec<&str> = report.changed.iter().filter(|c| *c != "active").map(String::as_str).collect();
                if others.is_empty() {
                    return format!("{who} {state}{unknown}");
                }
                return format!("{who} {state}; updated {}{unknown}", others.join(", "));
            }
            let mut parts = Vec::new();
            if !delta.is_empty() {
                parts.push(delta);
            }
            if !report.changed.is_empty() {
                parts.push(format!("updated {}", report.changed.join(", ")));
            }
            format!("{method} {who}: {}{unknown}", parts.join("; "))
        }
    }
}

/// The journal of a write: its provisioning row, built from the write's outcome inside the
/// transaction. `None` when the request is not being logged (the CLI, bulk internals).
pub fn write_journal<'a>(
    ctx: &'a ScimCtx,
    at: time::OffsetDateTime,
    status: u16,
    kind: ResourceKind,
    summarize: impl FnOnce(&Written<'_>) -> (String, String) + Send + 'a,
) -> Journal<'a> {
    let info = ctx.request.as_ref()?;
    Some(Box::new(move |written: &Written<'_>| {
        let (summary, notes) = summarize(written);
        vec![JournalRow::Provisioning(ProvisioningEntry {
            tenant: ctx.tenant.id,
            at,
            request_id: info.request_id.clone(),
            token_id: ctx.token.as_ref().map(|t| t.id.clone()),
            idp: ctx.token.as_ref().map(|t| t.idp.as_str().to_string()),
            method: info.method.clone(),
            path: info.path.clone(),
            resource_type: Some(kind.name().to_string()),
            resource_id: Some(written.resource.id.clone()),
            summary,
            notes,
            status,
            scim_type: None,
            latency_us: i64::try_from(info.started.elapsed().as_micros()).unwrap_or(i64::MAX),
        })]
    }))
}

enum Message {
    Entry(Box<ProvisioningEntry>),
    Flush(oneshot::Sender<()>),
}

/// Appends provisioning rows in batches from a background task. If the queue is full
/// (storage far behind), rows are dropped and counted rather than slowing requests.
#[derive(Debug)]
pub struct ProvisioningLogger {
    store: Arc<dyn Store>,
    sender: OnceLock<mpsc::Sender<Message>>,
    dropped: AtomicU64,
}

const QUEUE: usize = 20_000;
const BATCH: usize = 500;

impl ProvisioningLogger {
    pub fn new(store: Arc<dyn Store>) -> Self {
        ProvisioningLogger { store, sender: OnceLock::new(), dropped: AtomicU64::new(0) }
    }

    fn sender(&self) -> &mpsc::Sender<Message> {
        self.sender.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(run(self.store.clone(), rx));
            tx
        })
    }

    /// Queues a row.
    pub fn log(&self, entry: ProvisioningEntry) {
        if self.sender().try_send(Message::Entry(Box::new(entry))).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(dropped = n, "provisioning log queue is full; rows are being dropped");
            }
        }
    }

    /// Rows dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits until every row queued so far is written.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.sender().send(Message::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

async fn run(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Message>) {
    let mut batch: Vec<ProvisioningEntry> = Vec::with_capacity(BATCH);
    let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        let deadline = tokio::time::Instant::now() + Duration::from_millis(50);
        loop {
            match next.take() {
                Some(Message::Entry(e)) => batch.push(*e),
                Some(Message::Flush(w)) => {
                    waiters.push(w);
                    break;
                }
                None => {}
            }
            if batch.len() >= BATCH {
                break;
            }
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(m)) => next = Some(m),
                Ok(None) | Err(_) => break,
            }
        }
        if !batch.is_empty() {
            if let Err(e) = store.append_provisioning(&batch).await {
                tracing::error!(error = %e, rows = batch.len(), "could not write provisioning log rows");
            }
            batch.clear();
        }
        for w in waiters.drain(..) {
            let _ = w.send(());
        }
    }
}
