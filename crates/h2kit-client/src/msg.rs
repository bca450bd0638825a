//! The messages between the client's handles and its connection task, in one place: the
//! commands handles send ([`Cmd`]), the exchange through which the task answers one request
//! (its response head, then its body's items), the state both sides read ([`Shared`]), a
//! request body as the task uploads it ([`Upload`]) and a promised push as the task hands
//! it over ([`Promise`]). Everything else in the crate builds on this module; it depends on
//! none of them but the error and decoder types.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use h2kit::{FieldList, StreamId};
use http::{HeaderMap, Request};
use tokio::sync::{mpsc, oneshot};

use crate::decode::ContentDecoder;
use crate::error::Error;

/// Largest piece of upload data in one `Cmd::Data`.
pub(crate) const UPLOAD_PIECE: usize = 64 * 1024;

/// Pushed responses the application holds without having finished with them, per
/// connection; beyond it new promises are refused (RST_STREAM REFUSED_STREAM).
pub(crate) const MAX_UNREAD_PUSHES: usize = 32;

/// ALTSVC and ORIGIN as received (see [`crate::Client::alt_svc`], [`crate::Client::origins`]).
#[derive(Debug, Default)]
pub(crate) struct Advertised {
    pub(crate) alt_svc: Vec<crate::AltSvc>,
    pub(crate) origins: Vec<String>,
}

pub(crate) fn lock_advertised(shared: &Shared) -> std::sync::MutexGuard<'_, Advertised> {
    shared
        .advertised
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) type PingReply = oneshot::Sender<Result<Duration, Error>>;

/// What the handles ask of the connection task.
pub(crate) enum Cmd {
    Request(PendingRequest),
    Data {
        id: StreamId,
        data: Bytes,
        ack: oneshot::Sender<Result<(), Error>>,
    },
    Finish {
        id: StreamId,
        trailers: Option<HeaderMap>,
    },
    UploadFailed {
        id: StreamId,
        error: Error,
    },
    Release {
        id: StreamId,
        len: u32,
    },
    /// The capacity pooled in [`Shared::released`] passed [`RELEASE_POOL_WAKE`].
    Released,
    BodyDropped {
        id: StreamId,
        unreleased: u32,
        ended: bool,
    },
    Ping {
        reply: oneshot::Sender<Result<Duration, Error>>,
    },
    /// The connection's flow-control snapshot, for `Client::stats`.
    Stats {
        reply: oneshot::Sender<Result<h2kit::flow::WindowStats, Error>>,
    },
    Shutdown,
}

/// A request as the connection task queues it: its exchange, which holds what the request
/// sends ([`Outgoing`]) until its stream opens, and what the task decides by before that.
pub(crate) struct PendingRequest {
    /// Where the response goes; its receiver's drop abandons the request.
    pub(crate) tx: ItemSender,
    /// An extended CONNECT (RFC 8441): it waits for the server's SETTINGS, and after a 2xx
    /// answer the end of the response does not stop the request body.
    pub(crate) extended: bool,
    /// The request body is written through a [`Tunnel`](crate::Tunnel) (`Cmd::Data` and
    /// `Cmd::Finish`), not read from `body`: the HEADERS go out without END_STREAM.
    pub(crate) tunnel: bool,
}

/// What a request sends, and how its response is to be handed over: kept in the request's
/// exchange (one allocation per request, not two) until the connection task opens its
/// stream ([`ItemSender::open`]) or takes it ([`ItemSender::take_request`]).
pub(crate) struct Outgoing {
    pub(crate) head: RequestHead,
    pub(crate) body: Upload,
    /// Where the request's promised pushes go, when the client accepts pushes.
    pub(crate) pushes: Option<mpsc::UnboundedSender<Promise>>,
    /// The response body is decoded by its `content-encoding`.
    pub(crate) decompress: bool,
}

/// A request's head as its connection sends it. Small, as the request it travels in is
/// moved a few times (into its box, out of it).
pub(crate) enum RequestHead {
    /// HTTP/2: the HEADERS fields (shared with other requests when the client's memo kept
    /// them).
    Fields(FieldList),
    /// HTTP/1.1: the head itself.
    Http1(Box<Request<()>>),
}

/// State the handles can read without asking the task.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// The connection accepts new requests (no GOAWAY, not terminated).
    pub(crate) open: AtomicBool,
    /// What the server advertised with ALTSVC and ORIGIN frames.
    pub(crate) advertised: std::sync::Mutex<Advertised>,
    /// Pushed responses handed to the application and not yet dropped or consumed.
    pub(crate) pushes: std::sync::atomic::AtomicUsize,
    /// Connection-level receive capacity given back by bodies whose streams had already
    /// ended (no stream window left to reopen), gathered here instead of one command each;
    /// the task returns it to the core at every wake-up.
    pub(crate) released: AtomicU64,
}

/// Pooled released capacity above which a body wakes the task with [`Cmd::Released`]
/// (below it, the next wake-up of any kind picks the pool up). Well under the smallest
/// connection window (65,535), so pooling never stalls a sender.
pub(crate) const RELEASE_POOL_WAKE: u64 = 16 * 1024;

/// What response bodies and pushed responses hold of their connection: the command channel
/// and the shared state. One per connection; the connection's handles hold it too.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) tx: mpsc::UnboundedSender<Cmd>,
    pub(crate) shared: Arc<Shared>,
}

impl Link {
    /// Gives back `len` octets of capacity of a stream whose END_STREAM was received.
    pub(crate) fn release_ended(&self, len: u32) {
        let len = u64::from(len);
        let before = self.shared.released.fetch_add(len, Ordering::AcqRel);
        if before < RELEASE_POOL_WAKE && before + len >= RELEASE_POOL_WAKE {
            let _ = self.tx.send(Cmd::Released);
        }
    }
}

/// What the connection task hands a response body.
pub(crate) enum Item {
    /// DATA; `end` when it carried END_STREAM (no `End` follows then).
    Data {
        data: Bytes,
        flow: u32,
        end: bool,
    },
    Trailers(Box<HeaderMap>),
    End,
    Error(Error),
}

/// What one request shares between the connection task (the [`ItemSender`]) and its
/// receiving side (the [`ItemReceiver`], held first by the `ResponseFuture`, then by the
/// response body): the response head, then the body's items. One plain allocation per
/// request replaces a oneshot channel for the head and a queue for the body, and the
/// receiving side's drop is the whole cancellation protocol (see [`ItemReceiver::close`]).
struct Exchange {
    /// What the request sends, until its stream opens (`None` for a promised push).
    request: Option<Outgoing>,
    /// The request's stream, once it is open.
    stream: Option<StreamId>,
    /// The response head, or why there is none, until the receiver takes it.
    head: Option<Result<Head, Error>>,
    /// The oldest item while `items` is empty: most bodies are one DATA with END_STREAM,
    /// which then needs no queue allocation.
    first: Option<Item>,
    items: VecDeque<Item>,
    waker: Option<Waker>,
    /// The body's length as the response declared it (`content-length`), when the
    /// connection task passed it on (bodies of more than one DATA frame): what
    /// [`Body::collect`](crate::Body::collect) sizes its buffer from.
    length_hint: Option<u64>,
    sender_gone: bool,
    receiver_gone: bool,
}

/// A response head as the connection task hands it over.
pub(crate) struct Head {
    pub(crate) parts: http::response::Parts,
    pub(crate) stream: StreamId,
    /// Boxed: the state is large and only compressed responses have one.
    pub(crate) decoder: Option<Box<ContentDecoder>>,
}

type SharedExchange = Arc<Mutex<Exchange>>;

fn lock(q: &SharedExchange) -> MutexGuard<'_, Exchange> {
    // Nothing panics while the lock is held; a poisoned exchange is still consistent.
    q.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The connection task's end of an exchange.
pub(crate) struct ItemSender {
    queue: SharedExchange,
    /// [`send_last`](Self::send_last) let go of the exchange already.
    finished: bool,
}

/// The receiving end of an exchange: a `ResponseFuture` or `PushedResponse` until the head
/// arrives, then the response body.
pub(crate) struct ItemReceiver {
    queue: SharedExchange,
    /// The oldest item, taken with the head in the same lock when it had arrived with it
    /// (a small response's one DATA, read in the same turn): the body's first read then
    /// needs no lock.
    ready: Option<Item>,
}

/// The exchange of one promised push.
pub(crate) fn item_channel() -> (ItemSender, ItemReceiver) {
    exchange(None)
}

/// The exchange of one request, holding what it sends until its stream opens.
pub(crate) fn request_channel(request: Outgoing) -> (ItemSender, ItemReceiver) {
    exchange(Some(request))
}

fn exchange(request: Option<Outgoing>) -> (ItemSender, ItemReceiver) {
    let queue = Arc::new(Mutex::new(Exchange {
        request,
        stream: None,
        head: None,
        first: None,
        items: VecDeque::new(),
        waker: None,
        length_hint: None,
        sender_gone: false,
        receiver_gone: false,
    }));
    (
        ItemSender {
            queue: queue.clone(),
            finished: false,
        },
        ItemReceiver { queue, ready: None },
    )
}

impl ItemSender {
    /// Whether the receiving side is gone (the request was abandoned).
    pub(crate) fn is_abandoned(&self) -> bool {
        lock(&self.queue).receiver_gone
    }

    /// Opens the request's stream by `send`, which gets what the request sends (taken out
    /// of the exchange; `None` if taken before), unless the receiving side is gone (`None`:
    /// nothing was sent), and records the stream it went out on: one lock, held while
    /// `send` runs, so the receiving side cannot let go in between (a later drop cancels
    /// the recorded stream).
    pub(crate) fn open<T, E>(
        &self,
        send: impl FnOnce(Option<Outgoing>) -> Result<(StreamId, T), E>,
    ) -> Option<Result<(StreamId, T), E>> {
        let mut q = lock(&self.queue);
        if q.receiver_gone {
            return None;
        }
        let sent = send(q.request.take());
        if let Ok((id, _)) = &sent {
            q.stream = Some(*id);
        }
        Some(sent)
    }

    /// What the request sends, taken out of the exchange (`None` if taken before).
    pub(crate) fn take_request(&self) -> Option<Outgoing> {
        lock(&self.queue).request.take()
    }

    /// Records the stream the request went out on; `false` when the receiving side is
    /// already gone (then nobody will cancel the stream but the caller).
    pub(crate) fn opened(&self, id: StreamId) -> bool {
        let mut q = lock(&self.queue);
        q.stream = Some(id);
        !q.receiver_gone
    }

    /// Hands over the response head (or the error in its place); `false` when the receiving
    /// side is gone.
    pub(crate) fn send_head(&self, head: Result<Head, Error>) -> bool {
        let mut q = lock(&self.queue);
        if q.receiver_gone {
            return false;
        }
        q.head = Some(head);
        let waker = q.waker.take();
        drop(q);
        if let Some(w) = waker {
            w.wake();
        }
        true
    }

    /// Passes on the body's declared length (see [`ItemReceiver::length_hint`]).
    pub(crate) fn hint_length(&self, len: u64) {
        lock(&self.queue).length_hint = Some(len);
    }

    /// Queues `item`; gives it back when the body is gone.
    pub(crate) fn send(&self, item: Item) -> Result<(), Item> {
        self.push(item, false)
    }

    /// Queues `item`, the last (the end of the response, or an error), and lets go of the
    /// exchange: [`send`](Self::send) and the drop in one lock instead of two. Gives the
    /// item back when the body is gone.
    pub(crate) fn send_last(mut self, item: Item) -> Result<(), Item> {
        self.finished = true;
        self.push(item, true)
    }

    fn push(&self, item: Item, last: bool) -> Result<(), Item> {
        let mut q = lock(&self.queue);
        q.sender_gone |= last;
        if q.receiver_gone {
            return Err(item);
        }
        if q.first.is_none() && q.items.is_empty() {
            q.first = Some(item);
        } else {
            q.items.push_back(item);
        }
        let waker = q.waker.take();
        drop(q);
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }
}

impl Drop for ItemSender {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut q = lock(&self.queue);
        q.sender_gone = true;
        let waker = q.waker.take();
        drop(q);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl ItemReceiver {
    /// The response head; a [`Error::ConnectionClosed`] when the connection task let go of
    /// the request without one.
    pub(crate) fn poll_head(&mut self, cx: &mut Context<'_>) -> Poll<Result<Head, Error>> {
        let mut q = lock(&self.queue);
        if let Some(head) = q.head.take() {
            // Only the oldest item: the rest stay queued, behind it.
            self.ready = q.first.take();
            return Poll::Ready(head);
        }
        if q.sender_gone {
            return Poll::Ready(Err(Error::ConnectionClosed));
        }
        match &q.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => q.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The next item; `None` once the sender is gone and the queue is empty.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        if let Some(item) = self.ready.take() {
            return Poll::Ready(Some(item));
        }
        let mut q = lock(&self.queue);
        if let Some(item) = q.first.take().or_else(|| q.items.pop_front()) {
            return Poll::Ready(Some(item));
        }
        if q.sender_gone {
            return Poll::Ready(None);
        }
        match &q.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => q.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The body's length as the response declared it, when the connection task passed it
    /// on: a hint for sizing a buffer, not a promise (a decoded body differs; a body that
    /// does not match fails, but only once it arrives).
    pub(crate) fn length_hint(&self) -> Option<u64> {
        lock(&self.queue).length_hint
    }

    /// Refuses further items and hands back the stream (when open) and the items still
    /// queued.
    pub(crate) fn close(&mut self) -> (Option<StreamId>, VecDeque<Item>) {
        let mut q = lock(&self.queue);
        q.receiver_gone = true;
        q.waker = None;
        q.head = None;
        let mut items = std::mem::take(&mut q.items);
        if let Some(first) = q.first.take() {
            items.push_front(first);
        }
        if let Some(ready) = self.ready.take() {
            items.push_front(ready);
        }
        (q.stream, items)
    }

    /// Gives the request up before its body was read to the end: closes the exchange and
    /// tells the connection task what the unread items held, so it releases their capacity
    /// and cancels the stream when the response had not ended. `input_done` says the end (or
    /// an error) was already read: then nothing is done, as the task sent that item last
    /// and let go of the exchange (nothing is queued after it, nobody looks at it again),
    /// and every chunk read gave its capacity back as it was read. Nothing is sent either
    /// for a request that never opened a stream (the task skips it).
    pub(crate) fn abandon(&mut self, cmd: &mpsc::UnboundedSender<Cmd>, input_done: bool) {
        if input_done {
            // Closing the exchange would be a lock for nothing.
            return;
        }
        let (stream, items) = self.close();
        let mut unreleased = 0u32;
        let mut ended = false;
        for item in items {
            match item {
                Item::Data { flow, end, .. } => {
                    unreleased = unreleased.saturating_add(flow);
                    ended |= end;
                }
                Item::End | Item::Trailers(_) | Item::Error(_) => ended = true,
            }
        }
        let Some(id) = stream else { return };
        let _ = cmd.send(Cmd::BodyDropped {
            id,
            unreleased,
            ended,
        });
    }
}

/// A body's chunks as a stream (a request body being uploaded).
pub(crate) type BoxStream = Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send>>;

/// A request body as the connection task uploads it: whole when it is known up front (sent
/// with the HEADERS when small), else a stream the upload task reads as the window allows.
pub(crate) struct Upload {
    /// The whole body, known up front (never set with trailers).
    pub(crate) full: Option<Bytes>,
    /// The rest of the body (when it is not `full` and not empty).
    pub(crate) rest: Option<BoxStream>,
    /// Its length, when known (Content-Length over HTTP/1.1).
    pub(crate) size: Option<u64>,
    /// Trailers to send after the data (boxed: rare).
    pub(crate) trailers: Option<Box<HeaderMap>>,
}

impl Upload {
    /// No data and no trailers: the HEADERS end the stream.
    pub(crate) fn is_empty(&self) -> bool {
        self.full.is_none() && self.rest.is_none() && self.trailers.is_none()
    }

    /// The next chunk of data.
    pub(crate) async fn chunk(&mut self) -> Option<Result<Bytes, Error>> {
        if let Some(full) = self.full.take() {
            return Some(Ok(full));
        }
        let rest = self.rest.as_mut()?;
        poll_fn(|cx| rest.as_mut().poll_next(cx)).await
    }
}

/// A promised push as the connection task hands it to the request's push stream. Counted in
/// [`Shared::pushes`] from creation; dropping it unanswered cancels the promised stream.
pub(crate) struct Promise {
    pub(crate) request: Request<()>,
    pub(crate) stream: StreamId,
    /// The pushed response's exchange, until the application takes the response.
    pub(crate) rx: Option<ItemReceiver>,
    pub(crate) link: Arc<Link>,
}

impl Promise {
    pub(crate) fn new(
        request: Request<()>,
        stream: StreamId,
        rx: ItemReceiver,
        link: Arc<Link>,
    ) -> Self {
        link.shared.pushes.fetch_add(1, Ordering::AcqRel);
        Promise {
            request,
            stream,
            rx: Some(rx),
            link,
        }
    }
}

impl Drop for Promise {
    fn drop(&mut self) {
        self.link.shared.pushes.fetch_sub(1, Ordering::AcqRel);
        if let Some(rx) = &mut self.rx {
            rx.abandon(&self.link.tx, false);
        }
    }
}
