//! The push worker (RFC 8935): a background task in `roster serve` that POSTs each push
//! stream's SETs to its receiver, in order, at least once, off the request path.
//!
//! Several instances may run it on one PostgreSQL database: a stream is delivered by one
//! instance at a time, under a lease taken with a conditional update and renewed before each
//! POST; the cursor only moves by compare-and-set from the value the holder read. An instance
//! that stalls past its lease loses the stream and changes nothing, so events are never
//! skipped or reordered; the worst case is a duplicate (same `jti`), which at-least-once
//! delivery allows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

use roster_core::audit::{Actor, AuditEntry, AuditEvent};
use roster_core::events::{
    DeliveryEntry, DeliveryOutcome, PushResult, PushUpdate, RetryPolicy, StreamRecord, Verdict, classify,
};
use roster_core::{Clock, Core, Error, SystemClock};

/// How the worker delivers (every duration configurable so tests run fast).
#[derive(Debug, Clone)]
pub struct PushConfig {
    /// The base URL SETs are issued under (`iss` is the tenant's SCIM base).
    pub public_url: String,
    pub retry: RetryPolicy,
    /// How long one POST may take before it counts as failed.
    pub timeout: Duration,
    /// How often to look for due streams (besides being woken by local writes), which is also
    /// how soon another instance's events and due retries are noticed.
    pub poll_interval: Duration,
    /// How long a claim on a stream lasts; renewed before each POST. Longer than `timeout`.
    pub lease: Duration,
    /// SETs one claim sends before letting other streams have a turn.
    pub batch: u32,
    /// Streams delivered at once.
    pub concurrency: usize,
    /// Leases, retry times and the delivery log use this clock.
    pub clock: Arc<dyn Clock>,
}

impl PushConfig {
    pub fn new(public_url: &str) -> PushConfig {
        PushConfig {
            public_url: public_url.trim_end_matches('/').to_string(),
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(10),
            poll_interval: Duration::from_secs(1),
            lease: Duration::from_secs(60),
            batch: 100,
            concurrency: 16,
            clock: Arc::new(SystemClock),
        }
    }
}

/// The HTTP client SETs are pushed with: HTTP/1.1, TLS by rustls with the ring provider (no C
/// crypto build), receivers' certificates checked against the system's roots.
type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

fn http_client() -> Result<HttpClient, String> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
        .map_err(|e| format!("cannot load the system's root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// A running push worker; stops when [`PushWorker::stop`] is called or it is dropped.
#[derive(Debug)]
pub struct PushWorker {
    stop: watch::Sender<bool>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl PushWorker {
    /// Starts the worker for `core`'s database.
    pub fn spawn(core: Arc<Core>, config: PushConfig) -> Result<PushWorker, String> {
        let client = http_client()?;
        let mut owner = [0u8; 8];
        core.ids.fill(&mut owner).map_err(|e| e.to_string())?;
        let owner: String = owner.iter().map(|b| format!("{b:02x}")).collect();
        let (stop, stopped) = watch::channel(false);
        let handle = tokio::spawn(run(core, Arc::new(config), client, owner, stopped));
        Ok(PushWorker { stop, handle: Some(handle) })
    }

    /// Stops the worker and the deliveries it has in flight (their streams are released when
    /// their leases run out, and redelivered from where they were).
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
    }
}

impl Drop for PushWorker {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn to_time(d: Duration) -> time::Duration {
    time::Duration::try_from(d).unwrap_or(time::Duration::MAX)
}

async fn run(
    core: Arc<Core>,
    config: Arc<PushConfig>,
    client: HttpClient,
    owner: String,
    mut stopped: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let kick = Arc::new(Notify::new());
    let mut tasks = JoinSet::new();
    loop {
        if *stopped.borrow() {
            break;
        }
        while tasks.try_join_next().is_some() {}
        // Registered before looking, so a write during the look still wakes us.
        let woken = core.events.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let kicked = kick.notified();
        tokio::pin!(kicked);
        kicked.as_mut().enable();
        let free = slots.available_permits();
        if free > 0 {
            let now = config.clock.now();
            let until = now + to_time(config.lease);
            match core.store.claim_push_streams(&owner, now, until, u32::try_from(free).unwrap_or(u32::MAX)).await {
                Ok(streams) => {
                    for stream in streams {
                        let Ok(permit) = slots.clone().acquire_owned().await else { break };
                        let (core, config, client, owner, kick) =
                            (core.clone(), config.clone(), client.clone(), owner.clone(), kick.clone());
                        tasks.spawn(async move {
                            let id = stream.id.clone();
                            if let Err(e) = deliver(&core, &config, &client, &owner, stream).await {
                                tracing::warn!(stream = %id, error = %e, "event push failed");
                                let _ = core.store.record_push(&id, &owner, PushUpdate::Release, None, None).await;
                            }
                            drop(permit);
                            kick.notify_one();
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not look for event streams to push"),
            }
        }
        tokio::select! {
            _ = &mut woken => {}
            _ = &mut kicked => {}
            _ = tokio::time::sleep(config.poll_interval) => {}
            _ = stopped.changed() => {}
        }
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

/// A number in 0..=1 for backoff jitter.
fn jitter(core: &Core) -> f64 {
    let mut b = [0u8; 1];
    match core.ids.fill(&mut b) {
        Ok(()) => f64::from(b[0]) / 255.0,
        Err(_) => 1.0,
    }
}

/// Delivers a claimed stream's SETs in order until it is caught up, the batch is done, or an
/// attempt fails; then lets go of it.
async fn deliver(
    core: &Core,
    config: &PushConfig,
    client: &HttpClient,
    owner: &str,
    mut stream: StreamRecord,
) -> Result<(), Error> {
    let store = &core.store;
    let tenant = core.tenant(&stream.tenant_slug).await?;
    let key = if stream.signed { Some(core.signing_key(&tenant).await?) } else { None };
    let mut sent = 0u32;
    loop {
        let (events, latest) = core.next_push(&stream, 16).await?;
        if events.is_empty() {
            // Caught up: the events in between (if any) are not meant for this stream.
            if latest > stream.cursor {
                let update = PushUpdate::Advance { from: stream.cursor, to: latest, at: config.clock.now() };
                store.record_push(&stream.id, owner, update, None, None).await?;
            }
            store.record_push(&stream.id, owner, PushUpdate::Release, None, None).await?;
            return Ok(());
        }
        for event in events {
            let Some(set) = core.issue_set(&tenant, &stream, &event, &config.public_url, key.as_ref()).await? else {
                let update = PushUpdate::Advance { from: stream.cursor, to: event.seq, at: config.clock.now() };
                if !store.record_push(&stream.id, owner, update, None, None).await? {
                    return Ok(());
                }
                stream.cursor = event.seq;
                continue;
            };
            let now = config.clock.now();
            if !store.renew_push_lease(&stream.id, owner, now + to_time(config.lease)).await? {
                // Another instance has it now, or it was paused.
                return Ok(());
            }
            let jti = stream.jti(event.seq);
            let attempt = stream.attempts + 1;
            let started = Instant::now();
            let result = post(client, &stream, &set, config.timeout).await;
            let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
            let at = config.clock.now();
            let status = match &result {
                PushResult::Response { status, .. } => Some(*status),
                PushResult::Transport(_) => None,
            };
            let log = |outcome, error: Option<String>| DeliveryEntry {
                stream_id: stream.id.clone(),
                at,
                seq: event.seq,
                jti: jti.clone(),
                attempt,
                outcome,
                status,
                error,
                latency_ms,
            };
            match classify(&result) {
                Verdict::Delivered => {
                    let update = PushUpdate::Advance { from: stream.cursor, to: event.seq, at };
                    let log = log(DeliveryOutcome::Delivered, None);
                    if !store.record_push(&stream.id, owner, update, Some(log), None).await? {
                        return Ok(());
                    }
                    stream.cursor = event.seq;
                    stream.attempts = 0;
                    sent += 1;
                }
                Verdict::Rejected(error) => {
                    let reason = format!("the receiver rejected {jti}: {error}");
                    tracing::warn!(stream = %stream.id, %reason, "event stream paused");
                    let audit = paused_audit(&stream, at, &reason);
                    let update = PushUpdate::Failed {
                        attempts: attempt,
                        at,
                        retry_at: at,
                        error: error.clone(),
                        pause: Some(reason),
                    };
                    let log = log(DeliveryOutcome::Rejected, Some(error));
                    store.record_push(&stream.id, owner, update, Some(log), Some(audit)).await?;
                    return Ok(());
                }
                Verdict::Retry { error, retry_after } => {
                    let pause = (attempt >= config.retry.max_attempts)
                        .then(|| format!("paused after {attempt} failed attempts to deliver {jti}; last: {error}"));
                    let delay = config.retry.delay(attempt, jitter(core), retry_after);
                    let audit = pause.as_deref().map(|reason| {
                        tracing::warn!(stream = %stream.id, %reason, "event stream paused");
                        paused_audit(&stream, at, reason)
                    });
                    let update = PushUpdate::Failed {
                        attempts: attempt,
                        at,
                        retry_at: at + to_time(delay),
                        error: error.clone(),
                        pause,
                    };
                    let log = log(DeliveryOutcome::Failed, Some(error));
                    store.record_push(&stream.id, owner, update, Some(log), audit).await?;
                    return Ok(());
                }
            }
            if sent >= config.batch {
                store.record_push(&stream.id, owner, PushUpdate::Release, None, None).await?;
                return Ok(());
            }
        }
    }
}

fn paused_audit(stream: &StreamRecord, at: time::OffsetDateTime, reason: &str) -> AuditEntry {
    AuditEntry {
        tenant: Some(stream.tenant),
        at,
        actor: Actor::system(),
        event: AuditEvent::EventStreamPaused,
        target: format!("event stream {}", stream.id),
        details: reason.to_string(),
    }
}

/// One SET transmission (RFC 8935 §2.1). Redirects are not followed (a 3xx is a failure).
async fn post(client: &HttpClient, stream: &StreamRecord, set: &str, timeout: Duration) -> PushResult {
    let Some(endpoint) = &stream.endpoint else {
        return PushResult::Transport("the stream has no endpoint".into());
    };
    let mut request = http::Request::post(endpoint.as_str())
        .header(http::header::CONTENT_TYPE, "application/secevent+jwt")
        .header(http::header::ACCEPT, "application/json")
        .header(http::header::USER_AGENT, concat!("roster/", env!("CARGO_PKG_VERSION")));
    if let Some(authorization) = &stream.authorization {
        request = request.header(http::header::AUTHORIZATION, authorization.as_str());
    }
    let request = match request.body(Full::new(Bytes::from(set.to_string()))) {
        Ok(r) => r,
        Err(e) => return PushResult::Transport(format!("invalid request: {e}")),
    };
    let exchange = async {
        let response = client.request(request).await.map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        // The body matters only for errors; a receiver cannot make Roster read megabytes.
        let body = match Limited::new(response.into_body(), 64 * 1024).collect().await {
            Ok(b) => {
                let b = b.to_bytes();
                String::from_utf8_lossy(&b[..b.len().min(4096)]).into_owned()
            }
            Err(_) => String::new(),
        };
        Ok::<_, String>(PushResult::Response { status, body, retry_after })
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => PushResult::Transport(e),
        Err(_) => PushResult::Transport(format!("no response within {} ms", timeout.as_millis())),
    }
}

fn describe(e: &hyper_util::client::legacy::Error) -> String {
    use std::error::Error as _;
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    if e.is_connect() { format!("could not connect: {text}") } else { text }
}
