//! The write path. On PostgreSQL each write is its own transaction. On SQLite all writes go
//! through one connection, and concurrent writes share one transaction and one fsync
//! ("group commit"): each write runs inside a savepoint of the open batch transaction, then
//! waits for a committer task to commit the batch. The committer takes the same lock the
//! writers queue on (fairly), so every write that queued before it joins its batch.
//! Durability is unchanged: a write returns only after the COMMIT that contains it is on disk.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Weak};

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Transaction};
use tokio::sync::{Mutex, Notify, OwnedMutexGuard, oneshot};

use roster_core::{Error, Result};

use crate::db_err;
use crate::sql::Backend;

#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// The write connection while a batch transaction is open.
    conn: Option<PoolConnection<Any>>,
    /// The savepoint counter.
    seq: u64,
    /// A write that was dropped before it finished left this savepoint open: roll it back.
    orphan: Option<u64>,
    /// Writes done in the open transaction, waiting for its commit.
    pending: Vec<oneshot::Sender<Result<(), String>>>,
}

#[derive(Debug)]
struct Shared {
    batch: Arc<Mutex<Batch>>,
    notify: Arc<Notify>,
}

/// Hands out write transactions.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    pool: AnyPool,
    shared: Option<Arc<Shared>>,
}

impl Writer {
    pub(crate) fn new(pool: AnyPool, backend: Backend) -> Writer {
        let shared = (backend == Backend::Sqlite).then(|| {
            let shared =
                Arc::new(Shared { batch: Arc::new(Mutex::new(Batch::default())), notify: Arc::new(Notify::new()) });
            tokio::spawn(committer(Arc::downgrade(&shared)));
            shared
        });
        Writer { pool, shared }
    }

    /// The pool: for migrations and closing.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a write.
    pub(crate) async fn begin(&self) -> Result<WriteTx> {
        let Some(shared) = &self.shared else {
            return Ok(WriteTx(Inner::Own(Some(self.pool.begin().await.map_err(db_err)?))));
        };
        let mut guard = shared.batch.clone().lock_owned().await;
        let mut conn = match guard.conn.take() {
            Some(mut conn) => {
                if let Some(orphan) = guard.orphan.take()
                    && let Err(e) = roll_back_to(&mut conn, orphan).await
                {
                    guard.conn = Some(conn);
                    return Err(e);
                }
                conn
            }
            None => {
                let mut conn = self.pool.acquire().await.map_err(db_err)?;
                conn.execute("BEGIN IMMEDIATE").await.map_err(db_err)?;
                conn
            }
        };
        guard.seq += 1;
        let seq = guard.seq;
        if let Err(e) = conn.execute(sqlx::AssertSqlSafe(format!("SAVEPOINT w{seq}"))).await {
            guard.conn = Some(conn);
            return Err(db_err(e));
        }
        Ok(WriteTx(Inner::Batched { conn: Some(conn), guard: Some(guard), seq, notify: shared.notify.clone() }))
    }
}

async fn roll_back_to(conn: &mut PoolConnection<Any>, seq: u64) -> Result<()> {
    conn.execute(sqlx::AssertSqlSafe(format!("ROLLBACK TO w{seq}"))).await.map_err(db_err)?;
    conn.execute(sqlx::AssertSqlSafe(format!("RELEASE w{seq}"))).await.map_err(db_err)?;
    Ok(())
}

/// Commits batches as writers join them, until the store is dropped.
async fn committer(shared: Weak<Shared>) {
    loop {
        let Some(strong) = shared.upgrade() else { return };
        let notify = strong.notify.clone();
        let batch = strong.batch.clone();
        drop(strong);
        notify.notified().await;
        let mut batch = batch.lock().await;
        let Some(mut conn) = batch.conn.take() else { continue };
        let pending = std::mem::take(&mut batch.pending);
        let mut result = Ok(());
        if let Some(orphan) = batch.orphan.take() {
            result = roll_back_to(&mut conn, orphan).await.map_err(|e| e.to_string());
        }
        if result.is_ok() {
            result = conn.execute("COMMIT").await.map(|_| ()).map_err(|e| e.to_string());
        }
        if result.is_err() {
            let _ = conn.execute("ROLLBACK").await;
        }
        // The connection goes back to the pool between batches.
        drop(conn);
        drop(batch);
        for waiter in pending {
            let _ = waiter.send(result.clone());
        }
    }
}

#[derive(Debug)]
enum Inner {
    Own(Option<Transaction<'static, Any>>),
    Batched { conn: Option<PoolConnection<Any>>, guard: Option<OwnedMutexGuard<Batch>>, seq: u64, notify: Arc<Notify> },
}

/// One write: a transaction of its own (PostgreSQL), or a savepoint in the open batch
/// (SQLite). Dropped without [`WriteTx::commit`], it is rolled back.
#[derive(Debug)]
pub(crate) struct WriteTx(Inner);

impl WriteTx {
    /// Makes the write durable: commits it (PostgreSQL) or waits for its batch's commit.
    pub(crate) async fn commit(mut self) -> Result<()> {
        match &mut self.0 {
            Inner::Own(tx) => match tx.take() {
                Some(tx) => tx.commit().await.map_err(db_err),
                None => Err(Error::storage("write already finished")),
            },
            Inner::Batched { conn, guard, seq, notify } => {
                let (Some(mut c), Some(mut g)) = (conn.take(), guard.take()) else {
                    return Err(Error::storage("write already finished"));
                };
                let released = c.execute(sqlx::AssertSqlSafe(format!("RELEASE w{seq}"))).await;
                let (tx, rx) = oneshot::channel();
                match released {
                    Ok(_) => g.pending.push(tx),
                    Err(_) => g.orphan = Some(*seq),
                }
                g.conn = Some(c);
                drop(g);
                notify.notify_one();
                released.map_err(db_err)?;
                match rx.await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(Error::Storage(format!("commit failed: {e}"))),
                    Err(_) => Err(Error::storage("the committer stopped before committing")),
                }
            }
        }
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if let Inner::Batched { conn, guard, seq, notify } = &mut self.0
            && let (Some(c), Some(mut g)) = (conn.take(), guard.take())
        {
            // Not committed (a failed write returned early): the next user of the batch, or
            // the committer, rolls this savepoint back.
            g.orphan = Some(*seq);
            g.conn = Some(c);
            drop(g);
            notify.notify_one();
        }
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match &self.0 {
            Inner::Own(Some(tx)) => tx,
            Inner::Batched { conn: Some(c), .. } => c,
            // The connection is only taken by `commit` and `drop`, which end the write.
            _ => unreachable!("write used after it finished"),
        }
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match &mut self.0 {
            Inner::Own(Some(tx)) => tx,
            Inner::Batched { conn: Some(c), .. } => c,
            _ => unreachable!("write used after it finished"),
        }
    }
}
