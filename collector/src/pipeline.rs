//! The pipeline between the broker and the store: a reader task turns the broker's messages into
//! [`Message`]s on a bounded channel, one ingest thread takes them in batches, hands each batch to
//! the judges ([`Ingest::start_judging`]) and stores the judged ones while the judges take the next
//! ([`spawn_ingest`]), and the receipts go back out through a [`ReceiptSink`], several of an agent
//! in one message where it reads that ([`crate::ingest::answers`]).
//!
//! The channel is bounded, so a slow store slows the reader and the broker buffers (and agents keep
//! their outboxes); a batch the store refuses (a full disk, a database down) is retried with
//! back-off rather than dropped, and answered only once stored.
//!
//! Before a message is copied into the channel, the reader checks its agent's budget
//! ([`Throttle`]): a flooding agent's excess is dropped for the cost of a topic check, so it cannot
//! fill the channel or the ingest's time that the other agents' summaries need.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::Utc;
use rumqttd::local::{LinkRx, LinkTx};
use rumqttd::Notification;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use wijk_protocol::topics;

use crate::feed::{AdviceOut, ADVICE_INTERVAL};
use crate::ingest::answers::{bundle, Publication};
use crate::ingest::throttle::{Throttle, TICK};
use crate::ingest::{Ingest, Judged, Judging, Message, NotDone, MAX_BATCH};

/// Messages waiting for the ingest thread.
pub const QUEUE: usize = 8192;

/// Where receipts and advice go.
pub trait ReceiptSink: Send {
    /// Publishes one receipt message; an error is logged (the agent sends its summaries again).
    fn publish(&mut self, out: &Publication) -> Result<(), String>;

    /// Publishes an advice document, retained; an error is logged (the next round sends it again).
    fn publish_advice(&mut self, out: &AdviceOut) -> Result<(), String>;
}

/// Receipts through the embedded broker's in-process link (`runtime` runs its async send).
#[derive(Debug)]
pub struct LinkSink(pub LinkTxHolder, pub tokio::runtime::Handle);

/// `LinkTx` with a `Debug` impl.
pub struct LinkTxHolder(pub LinkTx);

impl std::fmt::Debug for LinkTxHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkTx")
    }
}

impl ReceiptSink for LinkSink {
    fn publish(&mut self, out: &Publication) -> Result<(), String> {
        self.0 .0.publish(out.topic.clone(), out.payload.clone()).map(|_| ()).map_err(|e| e.to_string())
    }

    fn publish_advice(&mut self, out: &AdviceOut) -> Result<(), String> {
        let publish = rumqttd::protocol::Publish::new(out.topic.clone().into_bytes(), out.payload.clone(), true);
        let send = self.0 .0.send(rumqttd::protocol::Packet::Publish(publish, None));
        self.1.block_on(send).map(|_| ()).map_err(|e| e.to_string())
    }
}

/// Subscribes the embedded link to every agent's summaries. (Only to them: a receipt or advice
/// for an agent that is not subscribed is dropped by the broker, or kept as the retained advice;
/// a catch-all subscription for them would route every receipt back to this link too, where it
/// took half the room the broker gives the link per round.)
pub fn subscribe_embedded(link_tx: &mut LinkTx) -> Result<(), String> {
    link_tx.subscribe(topics::ALL_SUMMARIES).map(|_| ()).map_err(|e| e.to_string())
}

/// Reads the embedded link until `cancel`, passing summary messages within their agent's budget
/// on (`throttle`).
pub async fn read_embedded(
    mut link_rx: LinkRx,
    queue: mpsc::Sender<Message>,
    mut throttle: Throttle,
    cancel: CancellationToken,
) {
    // The throttle's bookkeeping also runs while no message comes (its log lines owed).
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // `LinkRx::next` is cancel-safe: a notification is taken only when it completes.
        let notification = tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => {
                throttle.tick_if_due();
                continue;
            }
            n = link_rx.next() => n,
        };
        match notification {
            Ok(Some(Notification::Forward(forward))) => {
                let topic = &forward.publish.topic;
                if !throttle.admit(topic) {
                    continue;
                }
                let topic = String::from_utf8_lossy(topic).into_owned();
                let message = Message::new(topic, forward.publish.payload.to_vec());
                if queue.send(message).await.is_err() {
                    return;
                }
            }
            // The router stops forwarding when the link's buffer was full, until the link says it
            // is ready again (what rumqttd's own network links do).
            Ok(Some(Notification::Unschedule)) => {
                if let Err(e) = link_rx.wake().await {
                    tracing::error!("embedded broker link closed: {e}");
                    cancel.cancel();
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!("embedded broker link closed: {e}");
                cancel.cancel();
                return;
            }
        }
    }
}

/// Runs the ingest on a thread of its own until the queue closes; between commits (and at least
/// every [`crate::feed::ADVICE_INTERVAL`] when idle) it publishes the advice that is due.
///
/// The thread keeps the judges supplied with batches ([`Ingest::judging_ahead`] at most), so they
/// never wait for the store: it takes the oldest batch as soon as it is judged, together with
/// every batch behind it that is judged too, hands the judges new batches for those, and only then
/// commits (one transaction, one wait for the disk) while they judge.
pub fn spawn_ingest(
    mut ingest: Ingest,
    mut queue: mpsc::Receiver<Message>,
    mut sink: Box<dyn ReceiptSink>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    // The thread's own clock for waiting on the queue with a time limit (independent of the
    // service's runtime, which may be shutting down while the last batch is stored).
    let waits = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
    std::thread::Builder::new().name("ingest".into()).spawn(move || {
        // The batches with the judges, oldest first.
        let mut ahead: VecDeque<Judging> = VecDeque::new();
        loop {
            if ahead.is_empty() {
                match waits.block_on(async { tokio::time::timeout(ADVICE_INTERVAL, queue.recv()).await }) {
                    Ok(Some(first)) => hand_over(&mut ingest, &mut ahead, take_waiting(&mut queue, vec![first])),
                    Ok(None) => break,
                    Err(_) => {
                        publish_advice(&mut ingest, sink.as_mut(), true);
                        continue;
                    }
                }
            }
            top_up(&mut ingest, &mut ahead, &mut queue);
            let mut group = Vec::new();
            while let Some(judging) = ahead.pop_front() {
                group.extend(judging.wait());
                if !ahead.front_mut().is_some_and(Judging::is_done) {
                    break;
                }
            }
            top_up(&mut ingest, &mut ahead, &mut queue);
            let size = group.iter().map(Judged::len).sum();
            let first = ingest.commit(group);
            for out in &bundle(&until_done(first, size, STORE, |group| ingest.commit(group))) {
                if let Err(e) = sink.publish(out) {
                    tracing::warn!("receipt for {} summaries on {} not published: {e}", out.answers, out.topic);
                }
            }
            publish_advice(&mut ingest, sink.as_mut(), ahead.is_empty() && queue.is_empty());
        }
        let stats = ingest.stats();
        tracing::info!(
            "ingest stopped: {} stored, {} duplicates, {} rejected",
            stats.stored.load(std::sync::atomic::Ordering::Relaxed),
            stats.duplicates.load(std::sync::atomic::Ordering::Relaxed),
            stats.rejected_total()
        );
    })
}

/// Hands the judges what waits in the queue, a batch at a time, until they have
/// [`Ingest::judging_ahead`] batches or the queue is empty.
fn top_up(ingest: &mut Ingest, ahead: &mut VecDeque<Judging>, queue: &mut mpsc::Receiver<Message>) {
    while ahead.len() < ingest.judging_ahead() {
        match take_waiting(queue, Vec::new()) {
            batch if batch.is_empty() => return,
            batch => hand_over(ingest, ahead, batch),
        }
    }
}

/// Hands `batch` to the judges, again as long as the store cannot look up its agents' keys.
fn hand_over(ingest: &mut Ingest, ahead: &mut VecDeque<Judging>, batch: Vec<Message>) {
    let size = batch.len();
    let first = ingest.start_judging(batch, Utc::now());
    ahead.push_back(until_done(first, size, KEYS, |batch| ingest.start_judging(batch, Utc::now())));
}

/// `batch` and what waits in the queue after it, up to [`MAX_BATCH`] messages, without waiting.
fn take_waiting(queue: &mut mpsc::Receiver<Message>, mut batch: Vec<Message>) -> Vec<Message> {
    batch.reserve(MAX_BATCH.saturating_sub(batch.len()));
    while batch.len() < MAX_BATCH {
        match queue.try_recv() {
            Ok(m) => batch.push(m),
            Err(_) => break,
        }
    }
    batch
}

/// What the store failed to do with a batch, for the log: take it (store it), or look up its keys.
const STORE: &str = "did not take";
const KEYS: &str = "could not look up the agents of";

/// The result of an attempt that needed the store (`first`), or of the attempts after it while
/// the store fails: after each failure it logs and waits, 250 ms at first, twice as long each
/// time, at most 30 s. Nothing of the batch (`size` messages) is answered meanwhile; the agents
/// keep it in their outboxes.
fn until_done<S, T>(
    first: Result<T, Box<NotDone<S>>>,
    size: usize,
    failed_to: &str,
    mut attempt: impl FnMut(S) -> Result<T, Box<NotDone<S>>>,
) -> T {
    let mut outcome = first;
    let mut failed = 0u32;
    loop {
        match outcome {
            Ok(done) => {
                if failed > 0 {
                    tracing::info!("the store took the batch of {size} after {failed} failed attempts");
                }
                return done;
            }
            Err(not_done) => {
                let NotDone { batch: back, error: e } = *not_done;
                failed += 1;
                let wait =
                    Duration::from_millis(250).saturating_mul(1 << (failed - 1).min(7)).min(Duration::from_secs(30));
                tracing::error!(
                    "the store {failed_to} {size} summaries ({e}){}; nothing of them is answered until it does; \
                     trying again in {} ms",
                    if e.is_disk_full() { crate::store::DISK_FULL_ADVICE } else { "" },
                    wait.as_millis()
                );
                std::thread::sleep(wait);
                outcome = attempt(back);
            }
        }
    }
}

fn publish_advice(ingest: &mut Ingest, sink: &mut dyn ReceiptSink, idle: bool) {
    let due = ingest.advice_due(idle);
    let failed = due.iter().filter(|out| sink.publish_advice(out).is_err()).count();
    if failed > 0 {
        tracing::warn!("{failed} of {} advice documents not published; they go out with the next round", due.len());
    } else if !due.is_empty() {
        tracing::info!("advice published for {} agents", due.len());
    }
}
