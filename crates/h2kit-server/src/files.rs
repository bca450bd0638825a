//! Static files: content type, length, ETag / If-None-Match, Last-Modified /
//! If-Modified-Since, single byte ranges (with If-Range), precompressed `.br` / `.gz`
//! siblings, index.html, and no way out of the root directory; a bounded cache of what was
//! found, revalidated by metadata, so that a request for a known file makes no system call
//! and no thread hop.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use h2kit::Field;
use h2kit::http::extend_response_fields;
use http::header::{
    ACCEPT_ENCODING, ACCEPT_RANGES, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE,
    ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, LAST_MODIFIED, RANGE, VARY,
};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};

use crate::body::Body;
use crate::date;
use crate::handler::{BoxFuture, FieldsAnswer, FieldsRequest, Handler};

/// A [`Handler`] serving the files under a root directory.
///
/// `GET` and `HEAD` (the same headers, no body); `POST` is answered like `GET` with its body
/// discarded (as nghttpd does, so a form posted to a static page gets the page); other
/// methods get 405. A path is percent-decoded and split into segments; `..`, segments with
/// `/`, `\` or NUL after decoding, and anything whose real path (symlinks resolved) lies
/// outside the root get 404. A directory serves its `index.html` or 404.
///
/// Responses carry `content-type` (from the extension), `content-length`, a strong `etag`
/// (size and modification time) and `last-modified`, and honour `If-None-Match` and
/// `If-Modified-Since` (304), a single `Range` (206, or 416 beyond the end) and `If-Range`.
/// Ranges of every file are served, but only files of 64 KiB or more advertise them with
/// `accept-ranges: bytes` (the header is optional, clients ask for ranges without it, and each
/// header costs every response its encoding). When a file `NAME` has a sibling `NAME.br` or `NAME.gz` (also inside
/// the root) and the request's `accept-encoding` accepts `br` or `gzip`, the sibling is served
/// in its place with `content-encoding`; every response for such a file carries
/// `vary: accept-encoding` ([`precompressed`](Self::precompressed) turns this off).
///
/// # The cache
///
/// What a path resolved to is kept in a bounded cache shared by the clones of a
/// `StaticFiles`: the file's metadata and ready-made header values, the bytes of files up to
/// [`memory_file_limit`](Self::memory_file_limit) (a hit then hands out a reference-counted
/// [`Bytes`]), and an open descriptor for larger ones, read with positional reads
/// ([`Body::from_file`]) by every response that streams them. A hit makes no system call and
/// is answered without leaving the connection's task. An entry older than
/// [`revalidate_after`](Self::revalidate_after) (default 1 s) is checked with one `stat` of
/// each of its paths before use, on the connection's task (microseconds on a local file
/// system; checking on every request measured 1.3 µs more per small response), and loaded
/// again when the file's size, modification time or identity changed (the change is seen at
/// most that late). A path not in the cache is
/// resolved and read on tokio's blocking pool, at most four at a time, once: requests for a
/// file being loaded wait for that load. Limits (all with defaults suited to serving a
/// directory on a workstation): [`cache_entries`](Self::cache_entries),
/// [`cache_memory`](Self::cache_memory), [`memory_file_limit`](Self::memory_file_limit),
/// [`cache_open_files`](Self::cache_open_files); the least recently used entries go first.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use h2kit_server::{Server, StaticFiles};
///
/// let files = StaticFiles::new("public")?
///     .cache_memory(16 << 20)
///     .revalidate_after(Duration::from_millis(200));
/// Server::builder().h2c().build().await?.serve(files).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct StaticFiles {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for StaticFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticFiles")
            .field("root", &self.inner.root)
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

/// The limits and switches set by the builder methods.
#[derive(Debug, Clone)]
struct Settings {
    entries: usize,
    memory: usize,
    memory_file_limit: u64,
    open_files: usize,
    revalidate: Duration,
    precompressed: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            entries: 4096,
            memory: 64 << 20,
            memory_file_limit: 1 << 20,
            open_files: 256,
            revalidate: Duration::from_secs(1),
            precompressed: true,
        }
    }
}

struct Inner {
    root: PathBuf,
    settings: Settings,
    cache: Mutex<Cache>,
    /// Paths being resolved on the blocking pool at once (see [`MAX_RESOLVING`]).
    resolving: tokio::sync::Semaphore,
    /// The paths being loaded now, each with the signal its waiters get when it is done:
    /// requests for a path another request is loading wait for that load.
    loading: Mutex<HashMap<Box<str>, Arc<tokio::sync::Notify>>>,
    /// Paths resolved so far (tests count them).
    #[cfg(test)]
    resolved: std::sync::atomic::AtomicUsize,
}

/// The most paths resolved on the blocking pool at once: a burst of requests for files not
/// yet cached takes a few blocking threads, not one per request. Requests for one file wait
/// for the first to load it instead of each reading it (one load and one blocking thread,
/// not four).
const MAX_RESOLVING: usize = 4;

impl StaticFiles {
    /// Serves `root` (resolved once, now; a missing root is an error), with the default
    /// cache limits.
    pub fn new(root: impl AsRef<Path>) -> std::io::Result<Self> {
        let root = std::fs::canonicalize(root)?;
        Ok(StaticFiles {
            inner: Arc::new(Inner {
                root,
                settings: Settings::default(),
                cache: Mutex::new(Cache::default()),
                resolving: tokio::sync::Semaphore::new(MAX_RESOLVING),
                loading: Mutex::default(),
                #[cfg(test)]
                resolved: Default::default(),
            }),
        })
    }

    /// The resolved root directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// A `StaticFiles` with changed settings and an empty cache of its own.
    fn with(self, change: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = self.inner.settings.clone();
        change(&mut settings);
        StaticFiles {
            inner: Arc::new(Inner {
                root: self.inner.root.clone(),
                settings,
                cache: Mutex::new(Cache::default()),
                resolving: tokio::sync::Semaphore::new(MAX_RESOLVING),
                loading: Mutex::default(),
                #[cfg(test)]
                resolved: Default::default(),
            }),
        }
    }

    /// The most paths the cache remembers (default 4096). 0 turns the cache off: every
    /// request then resolves its path and opens its file on the blocking pool.
    pub fn cache_entries(self, entries: usize) -> Self {
        self.with(|s| s.entries = entries)
    }

    /// The most bytes of file contents the cache holds in memory, over all entries (default
    /// 64 MiB). A file that does not fit is streamed from an open descriptor instead.
    pub fn cache_memory(self, bytes: usize) -> Self {
        self.with(|s| s.memory = bytes)
    }

    /// Files up to this size are read whole into the cache and served from memory (default
    /// 1 MiB); larger ones are streamed from a descriptor the cache keeps open, read only as
    /// each response's stream can send.
    pub fn memory_file_limit(self, bytes: u64) -> Self {
        self.with(|s| s.memory_file_limit = bytes)
    }

    /// The most descriptors of large files the cache keeps open (default 256; up to three
    /// per path with `.br` and `.gz` siblings). At 0, a large file is opened for each request.
    pub fn cache_open_files(self, files: usize) -> Self {
        self.with(|s| s.open_files = files)
    }

    /// How long a cache entry is used without checking the file again (default 1 s).
    /// After that, the next request for it makes one `stat` per path of the entry (the file,
    /// and its `.br` / `.gz` siblings when [`precompressed`](Self::precompressed)), and the
    /// entry is loaded again if a size, modification time or inode changed.
    /// `Duration::ZERO` checks on every request.
    pub fn revalidate_after(self, interval: Duration) -> Self {
        self.with(|s| s.revalidate = interval)
    }

    /// Whether `NAME.br` and `NAME.gz` are served for `NAME` to clients that accept them
    /// (default true).
    pub fn precompressed(self, enabled: bool) -> Self {
        self.with(|s| s.precompressed = enabled)
    }
}

impl Handler for StaticFiles {
    /// A cache hit for a plain GET (no precondition, no range, a file held in memory with
    /// no precompressed sibling) is answered from the fields made when the file was loaded:
    /// the same head and body [`call`](Self::call) sends, without building `http` types.
    fn answer_fields(&self, request: &FieldsRequest<'_>) -> Option<FieldsAnswer> {
        if request.method != b"GET" {
            return None;
        }
        let conditional = request.fields.iter().any(|f| {
            matches!(
                &f.name[..],
                b"if-none-match" | b"if-modified-since" | b"range" | b"if-range"
            )
        });
        if conditional {
            return None;
        }
        let resource = self.inner.lookup(request.path, request.received)?;
        if resource.br.is_some() || resource.gzip.is_some() {
            return None;
        }
        let variant = &resource.identity;
        match &variant.content {
            Content::Memory(bytes) if bytes.len() <= request.max_body => Some(FieldsAnswer::new(
                StatusCode::OK,
                variant.fields.clone(),
                bytes.clone(),
            )),
            _ => None,
        }
    }

    fn call(&self, request: Request<Body>) -> BoxFuture {
        let method = request.method();
        if method != Method::GET && method != Method::HEAD && method != Method::POST {
            let mut r = status(StatusCode::METHOD_NOT_ALLOWED);
            r.headers_mut().insert(
                http::header::ALLOW,
                HeaderValue::from_static("GET, HEAD, POST"),
            );
            return Box::pin(std::future::ready(r));
        }
        // A hit is answered now: the future is ready on its first poll, so the connection
        // sends an in-memory body without spawning a task.
        if let Some(resource) = self.inner.lookup(request.uri().path(), Instant::now()) {
            return Box::pin(std::future::ready(respond(&request, &resource)));
        }
        let inner = self.inner.clone();
        Box::pin(async move {
            let (parts, _discarded_body) = request.into_parts();
            let request = Request::from_parts(parts, ());
            let key = request.uri().path();
            let Some(relative) = safe_relative_path(key) else {
                return status(StatusCode::NOT_FOUND);
            };
            // One load per path at a time: wait for a load under way, then look again.
            let _loading = loop {
                if let Some(resource) = inner.lookup(key, Instant::now()) {
                    return respond(&request, &resource);
                }
                match Loading::start(&inner, key) {
                    Ok(loading) => {
                        // A load that ended between the look above and the start filled
                        // the cache (it does so before it ends).
                        if let Some(resource) = inner.lookup(key, Instant::now()) {
                            return respond(&request, &resource);
                        }
                        break loading;
                    }
                    Err(done) => done.await,
                }
            };
            // The semaphore is never closed; without a permit the request goes on regardless.
            let _permit = inner.resolving.acquire().await.ok();
            let resolver = inner.clone();
            let found = tokio::task::spawn_blocking(move || resolver.resolve(&relative)).await;
            match found {
                Ok(Some(resource)) => {
                    let resource = Arc::new(resource);
                    inner.insert(key, &resource);
                    respond(&request, &resource)
                }
                _ => status(StatusCode::NOT_FOUND),
            }
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A load of one path under way; dropping it (the load ended, or its request was dropped)
/// wakes the requests waiting for it.
struct Loading {
    inner: Arc<Inner>,
    key: Box<str>,
    done: Arc<tokio::sync::Notify>,
}

impl Loading {
    /// Starts loading `key`, or, when another request is loading it, returns a future that
    /// completes when that load ends.
    fn start(
        inner: &Arc<Inner>,
        key: &str,
    ) -> Result<Loading, std::pin::Pin<Box<tokio::sync::futures::OwnedNotified>>> {
        let mut loading = lock(&inner.loading);
        if let Some(done) = loading.get(key) {
            // Registered while the map is locked: the loader's wake-up, made under the same
            // lock, cannot come between the look and the wait.
            let mut notified = Box::pin(done.clone().notified_owned());
            notified.as_mut().enable();
            return Err(notified);
        }
        let done = Arc::new(tokio::sync::Notify::new());
        loading.insert(key.into(), done.clone());
        Ok(Loading {
            inner: inner.clone(),
            key: key.into(),
            done,
        })
    }
}

impl Drop for Loading {
    fn drop(&mut self) {
        let mut loading = lock(&self.inner.loading);
        loading.remove(&self.key);
        self.done.notify_waiters();
    }
}

// ---------------------------------------------------------------- what a path resolves to

/// What identifies a file's contents between two looks at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    /// Device and inode, where the platform has them.
    id: (u64, u64),
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        #[cfg(unix)]
        let id = {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino())
        };
        #[cfg(not(unix))]
        let id = (0, 0);
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            id,
        }
    }
}

enum Content {
    Memory(Bytes),
    File(Arc<File>),
}

/// One representation of a resource: the file itself or a precompressed sibling.
struct Variant {
    stamp: Stamp,
    content: Content,
    etag: HeaderValue,
    last_modified: Option<HeaderValue>,
    /// The modification time in whole seconds since the epoch, for If-Modified-Since.
    modified_secs: Option<u64>,
    /// The headers of a 200 response serving it whole (cloning a map is cheaper than
    /// filling one).
    headers: HeaderMap,
    /// The same response head as HTTP/2 fields, `:status` first (see
    /// [`Handler::answer_fields`]).
    fields: Arc<[Field]>,
}

impl Variant {
    fn len(&self) -> u64 {
        self.stamp.len
    }
}

/// Which representation a response serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Identity,
    Br,
    Gzip,
}

/// What a request path resolved to.
struct Resource {
    /// The root joined with the request's path (and `index.html` for a directory): stat'ed
    /// to revalidate, so a symlink switched to another target is seen too.
    requested: PathBuf,
    identity: Variant,
    br: Option<Variant>,
    gzip: Option<Variant>,
    /// Whether `.br` / `.gz` siblings were looked for (and must be looked for again).
    precompressed: bool,
}

impl Resource {
    fn variants(&self) -> impl Iterator<Item = &Variant> {
        [Some(&self.identity), self.br.as_ref(), self.gzip.as_ref()]
            .into_iter()
            .flatten()
    }

    /// Bytes of file contents held in memory.
    fn memory(&self) -> usize {
        self.variants()
            .map(|v| match &v.content {
                Content::Memory(b) => b.len(),
                Content::File(_) => 0,
            })
            .sum()
    }

    /// Descriptors held open.
    fn open_files(&self) -> usize {
        self.variants()
            .filter(|v| matches!(v.content, Content::File(_)))
            .count()
    }

    /// Whether the files are still those loaded: one `stat` per path, following symlinks.
    fn unchanged(&self) -> bool {
        let same = |path: &Path, variant: Option<&Variant>| match (std::fs::metadata(path), variant)
        {
            (Ok(meta), Some(v)) => meta.is_file() && Stamp::of(&meta) == v.stamp,
            (Ok(meta), None) => !meta.is_file(),
            (Err(_), None) => true,
            (Err(_), Some(_)) => false,
        };
        same(&self.requested, Some(&self.identity))
            && (!self.precompressed
                || (same(&sibling(&self.requested, "br"), self.br.as_ref())
                    && same(&sibling(&self.requested, "gz"), self.gzip.as_ref())))
    }

    fn variant(&self, coding: Coding) -> &Variant {
        match coding {
            Coding::Br => self.br.as_ref().unwrap_or(&self.identity),
            Coding::Gzip => self.gzip.as_ref().unwrap_or(&self.identity),
            Coding::Identity => &self.identity,
        }
    }
}

/// `path` with `.ext` appended to its file name.
fn sibling(path: &Path, ext: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

impl Inner {
    /// The real path of `path` if it lies inside the root.
    fn inside_root(&self, path: &Path) -> Option<PathBuf> {
        std::fs::canonicalize(path)
            .ok()
            .filter(|real| real.starts_with(&self.root))
    }

    /// Resolves a request path (blocking calls: run on the blocking pool). `None` when there
    /// is no regular file to serve inside the root.
    fn resolve(&self, relative: &Path) -> Option<Resource> {
        #[cfg(test)]
        self.resolved
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut requested = self.root.join(relative);
        let mut real = self.inside_root(&requested)?;
        if std::fs::metadata(&real).ok()?.is_dir() {
            requested.push("index.html");
            real = self.inside_root(&requested)?;
        }
        let identity = self.load(&real, None)?;
        let precompressed = self.settings.precompressed;
        let found = |ext: &str, tag: &str| {
            let path = self.inside_root(&sibling(&requested, ext))?;
            self.load(&path, Some(tag))
        };
        let (mut br, mut gzip) = if precompressed {
            (found("br", "br"), found("gz", "gz"))
        } else {
            (None, None)
        };
        let mut identity = identity;
        let content_type = HeaderValue::from_static(content_type(&requested));
        let vary = br.is_some() || gzip.is_some();
        for (variant, coding) in [
            (Some(&mut identity), None),
            (br.as_mut(), Some("br")),
            (gzip.as_mut(), Some("gzip")),
        ] {
            let Some(v) = variant else { continue };
            let mut h = HeaderMap::with_capacity(7);
            h.insert(CONTENT_TYPE, content_type.clone());
            h.insert(ETAG, v.etag.clone());
            if let Some(lm) = &v.last_modified {
                h.insert(LAST_MODIFIED, lm.clone());
            }
            if v.len() >= ADVERTISE_RANGES {
                h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            }
            if vary {
                h.insert(VARY, HeaderValue::from_static("accept-encoding"));
            }
            if let Some(coding) = coding {
                h.insert(CONTENT_ENCODING, HeaderValue::from_static(coding));
            }
            h.insert(CONTENT_LENGTH, HeaderValue::from(v.len()));
            let mut fields = Vec::new();
            extend_response_fields(&mut fields, StatusCode::OK, &h);
            v.fields = fields.into();
            v.headers = h;
        }
        Some(Resource {
            requested,
            identity,
            br,
            gzip,
            precompressed,
        })
    }

    /// Opens a regular file and reads it whole when it is small enough to keep in memory.
    fn load(&self, path: &Path, tag: Option<&str>) -> Option<Variant> {
        let mut file = File::open(path).ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() {
            return None;
        }
        let stamp = Stamp::of(&meta);
        let len = stamp.len;
        let in_memory =
            len <= self.settings.memory_file_limit && len <= self.settings.memory as u64;
        let content = match in_memory.then(|| read_whole(&mut file, len)).flatten() {
            Some(bytes) => Content::Memory(bytes),
            None => Content::File(Arc::new(file)),
        };
        let nanos = stamp
            .modified
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let etag = match tag {
            Some(tag) => format!("\"{len:x}-{nanos:x}-{tag}\""),
            None => format!("\"{len:x}-{nanos:x}\""),
        };
        let modified_secs = stamp.modified.map(date::unix_secs);
        Some(Variant {
            stamp,
            content,
            etag: HeaderValue::from_str(&etag).ok()?,
            last_modified: modified_secs.and_then(|s| HeaderValue::from_str(&date::format(s)).ok()),
            modified_secs,
            // Filled in by `resolve`, which knows all the variants.
            headers: HeaderMap::new(),
            fields: Arc::new([]),
        })
    }

    /// The cached resource for a request path, if any and still valid at `now`.
    fn lookup(&self, key: &str, now: Instant) -> Option<Arc<Resource>> {
        if self.settings.entries == 0 {
            return None;
        }
        let resource = {
            let mut cache = self.cache();
            cache.tick += 1;
            let tick = cache.tick;
            let slot = cache.map.get_mut(key)?;
            slot.used = tick;
            if now.saturating_duration_since(slot.checked) < self.settings.revalidate {
                return Some(slot.resource.clone());
            }
            slot.resource.clone()
        };
        // Due for a look at the files: outside the lock (one stat per path).
        if resource.unchanged() {
            if let Some(slot) = self.cache().map.get_mut(key) {
                if Arc::ptr_eq(&slot.resource, &resource) {
                    slot.checked = now;
                }
            }
            Some(resource)
        } else {
            self.cache().remove(key);
            None
        }
    }

    /// Caches a freshly resolved resource, evicting the least recently used entries to stay
    /// within the limits; one that alone exceeds them is not kept.
    fn insert(&self, key: &str, resource: &Arc<Resource>) {
        let s = &self.settings;
        let (memory, files) = (resource.memory(), resource.open_files());
        if s.entries == 0 || memory > s.memory || files > s.open_files || key.len() > MAX_KEY {
            return;
        }
        let mut cache = self.cache();
        cache.remove(key);
        cache.tick += 1;
        let slot = Slot {
            resource: resource.clone(),
            checked: Instant::now(),
            used: cache.tick,
        };
        cache.memory += memory;
        cache.open_files += files;
        cache.map.insert(key.into(), slot);
        cache.evict(s);
    }

    fn cache(&self) -> MutexGuard<'_, Cache> {
        // The cache holds no invariant a panic could break half-way that matters more than
        // serving: take it back from a poisoned lock.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Files from this size on say `accept-ranges: bytes` (a resumed or split download is worth
/// it); ranges of smaller ones are served all the same.
const ADVERTISE_RANGES: u64 = 64 * 1024;

/// Request paths longer than this are served but not cached.
const MAX_KEY: usize = 1024;

/// Reads a file of `len` bytes whole; `None` if it is not that long any more.
fn read_whole(file: &mut File, len: u64) -> Option<Bytes> {
    let len = usize::try_from(len).ok()?;
    let mut data = Vec::with_capacity(len);
    // One byte more than expected shows a file that grew since its metadata was read.
    file.take(len as u64 + 1).read_to_end(&mut data).ok()?;
    (data.len() == len).then(|| Bytes::from(data))
}

struct Slot {
    resource: Arc<Resource>,
    /// When the files were last found unchanged (or loaded).
    checked: Instant,
    /// The cache's tick at the last use: the least recently used go first.
    used: u64,
}

#[derive(Default)]
struct Cache {
    /// Keyed by request path. Paths come from the peer, but only those of files that exist
    /// get in, and the entry limit bounds the map: the keyed multiply hash of stream ids
    /// serves here too, at a fraction of SipHash's cost per lookup.
    map: HashMap<Box<str>, Slot, h2kit::StreamHash>,
    tick: u64,
    /// Bytes of file contents held by the entries.
    memory: usize,
    /// Descriptors held by the entries.
    open_files: usize,
}

impl Cache {
    fn remove(&mut self, key: &str) {
        if let Some(slot) = self.map.remove(key) {
            self.memory -= slot.resource.memory();
            self.open_files -= slot.resource.open_files();
        }
    }

    /// Drops the least recently used entries while a limit is exceeded; when the entry
    /// count is, down to 15/16 of it, so that eviction (a sort) runs once per many inserts.
    fn evict(&mut self, s: &Settings) {
        let over = |c: &Cache| c.map.len() > s.entries || c.memory > s.memory;
        let over = |c: &Cache| over(c) || c.open_files > s.open_files;
        if !over(self) {
            return;
        }
        let mut by_age: Vec<(u64, Box<str>)> = self
            .map
            .iter()
            .map(|(k, slot)| (slot.used, k.clone()))
            .collect();
        by_age.sort_unstable_by_key(|(used, _)| *used);
        let target = s.entries - s.entries / 16;
        for (_, key) in by_age {
            if !over(self) && self.map.len() <= target {
                break;
            }
            self.remove(&key);
        }
    }
}

// ---------------------------------------------------------------- responses

/// The request fields a file response depends on (first value of each).
#[derive(Default)]
struct Asked<'a> {
    accept_encoding: Option<&'a HeaderValue>,
    if_none_match: Option<&'a HeaderValue>,
    if_modified_since: Option<&'a HeaderValue>,
    range: Option<&'a HeaderValue>,
    if_range: Option<&'a HeaderValue>,
}

impl<'a> Asked<'a> {
    /// One pass over the fields: cheaper than a hashed lookup per name for the few fields a
    /// request has.
    fn of(headers: &'a HeaderMap) -> Self {
        let mut asked = Asked::default();
        for (name, value) in headers {
            let slot = if name == ACCEPT_ENCODING {
                &mut asked.accept_encoding
            } else if name == IF_NONE_MATCH {
                &mut asked.if_none_match
            } else if name == IF_MODIFIED_SINCE {
                &mut asked.if_modified_since
            } else if name == RANGE {
                &mut asked.range
            } else if name == IF_RANGE {
                &mut asked.if_range
            } else {
                continue;
            };
            slot.get_or_insert(value);
        }
        asked
    }
}

fn respond<B>(request: &Request<B>, resource: &Resource) -> Response<Body> {
    let method = request.method();
    let asked = Asked::of(request.headers());
    let get_or_head = method == Method::GET || method == Method::HEAD;
    let coding = if resource.br.is_some() || resource.gzip.is_some() {
        choose_coding(asked.accept_encoding, resource)
    } else {
        Coding::Identity
    };
    let variant = resource.variant(coding);
    let mut out = variant.headers.clone();
    // Preconditions (RFC 9110 §13.2.2): If-None-Match, else If-Modified-Since, then Range.
    let not_modified = match (asked.if_none_match, asked.if_modified_since) {
        (Some(inm), _) => etag_matches(inm.as_bytes(), variant.etag.as_bytes()),
        (None, Some(ims)) if get_or_head => variant.modified_secs.is_some_and(|modified| {
            // A date in the future is invalid and ignored (RFC 9110 §13.1.3).
            date::parse(ims.as_bytes())
                .filter(|&since| since <= date::now_secs())
                .is_some_and(|since| modified <= since)
        }),
        _ => false,
    };
    if not_modified {
        out.remove(CONTENT_LENGTH);
        let code = if get_or_head {
            StatusCode::NOT_MODIFIED
        } else {
            StatusCode::PRECONDITION_FAILED
        };
        return with_headers(code, out, Body::empty());
    }
    let len = variant.len();
    let range = match asked.range {
        Some(r) if get_or_head && if_range_holds(asked.if_range, variant) => {
            parse_range(r.as_bytes(), len)
        }
        _ => Range::Ignore,
    };
    let (code, start, count) = match range {
        Range::Ignore => (StatusCode::OK, 0, len),
        Range::Unsatisfiable => {
            out.remove(CONTENT_LENGTH);
            out.insert(CONTENT_RANGE, header_value(format!("bytes */{len}")));
            return with_headers(StatusCode::RANGE_NOT_SATISFIABLE, out, Body::empty());
        }
        Range::Bytes { start, end } => {
            out.insert(
                CONTENT_RANGE,
                header_value(format!("bytes {start}-{end}/{len}")),
            );
            let count = end - start + 1;
            out.insert(CONTENT_LENGTH, HeaderValue::from(count));
            (StatusCode::PARTIAL_CONTENT, start, count)
        }
    };
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        match &variant.content {
            // `start + count <= len` (parse_range), and len is the bytes' length.
            Content::Memory(b) if count == len => Body::full(b.clone()),
            Content::Memory(b) => Body::full(b.slice(start as usize..(start + count) as usize)),
            Content::File(f) => Body::from_file(f.clone(), start, count),
        }
    };
    with_headers(code, out, body)
}

fn with_headers(code: StatusCode, headers: HeaderMap, body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = code;
    *r.headers_mut() = headers;
    r
}

/// A header value from ASCII text we formatted (never fails; empty if it somehow did).
fn header_value(text: String) -> HeaderValue {
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Whether a Range may be honoured: no If-Range, or one naming this very representation
/// (strong comparison of the entity tag, or exactly its Last-Modified date).
fn if_range_holds(if_range: Option<&HeaderValue>, variant: &Variant) -> bool {
    let Some(value) = if_range else {
        return true;
    };
    let value = value.as_bytes().trim_ascii();
    if value.starts_with(b"\"") || value.starts_with(b"W/") {
        return value == variant.etag.as_bytes();
    }
    date::parse(value).is_some_and(|t| variant.modified_secs == Some(t))
}

/// The preferred available coding of `accept-encoding` (RFC 9110 §12.5.3): the highest
/// q-value wins, ties go to br, then gzip, then the file itself. Without the header, or with
/// nothing acceptable but the file, the file.
fn choose_coding(accept: Option<&HeaderValue>, resource: &Resource) -> Coding {
    let Some(accept) = accept else {
        return Coding::Identity;
    };
    let (mut br, mut gzip, mut identity, mut star) = (None, None, None, None);
    for item in accept.as_bytes().split(|&b| b == b',') {
        let mut params = item.split(|&b| b == b';');
        let name = params.next().unwrap_or_default().trim_ascii();
        let mut q = 1000;
        for p in params {
            let p = p.trim_ascii();
            if let Some(v) = p.strip_prefix(b"q=").or_else(|| p.strip_prefix(b"Q=")) {
                q = parse_qvalue(v).unwrap_or(0);
            }
        }
        let slot = if name.eq_ignore_ascii_case(b"br") {
            &mut br
        } else if name.eq_ignore_ascii_case(b"gzip") || name.eq_ignore_ascii_case(b"x-gzip") {
            &mut gzip
        } else if name.eq_ignore_ascii_case(b"identity") {
            &mut identity
        } else if name == b"*" {
            &mut star
        } else {
            continue;
        };
        *slot = Some(q);
    }
    let br = br.or(star).unwrap_or(0);
    let gzip = gzip.or(star).unwrap_or(0);
    // The file itself is acceptable unless excluded; when excluded it is still served if
    // nothing else is (rather than a 406).
    let identity = identity.or(star).unwrap_or(1);
    let mut best = (identity, Coding::Identity);
    if resource.gzip.is_some() && gzip > 0 && gzip >= best.0 {
        best = (gzip, Coding::Gzip);
    }
    if resource.br.is_some() && br > 0 && br >= best.0 {
        best = (br, Coding::Br);
    }
    best.1
}

/// A q-value (`0`, `0.5`, `1.000`) in thousandths; `None` if malformed.
fn parse_qvalue(v: &[u8]) -> Option<u32> {
    let (int, frac) = match v.iter().position(|&b| b == b'.') {
        Some(i) => (&v[..i], &v[i + 1..]),
        None => (v, &b""[..]),
    };
    if int.len() != 1 || frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths = 0;
    for i in 0..3 {
        thousandths = thousandths * 10 + frac.get(i).map_or(0, |d| u32::from(d - b'0'));
    }
    match int[0] {
        b'0' => Some(thousandths),
        b'1' if thousandths == 0 => Some(1000),
        _ => None,
    }
}

fn status(code: StatusCode) -> Response<Body> {
    let text = match code {
        StatusCode::NOT_FOUND => "404 Not Found\n",
        StatusCode::METHOD_NOT_ALLOWED => "405 Method Not Allowed\n",
        _ => "error\n",
    };
    let mut r = Response::new(Body::from(text));
    *r.status_mut() = code;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes one path segment; `None` for bad escapes or non-UTF-8.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let h = hex(*bytes.get(i + 1)?)?;
            let l = hex(*bytes.get(i + 2)?)?;
            out.push(h << 4 | l);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The request path as a relative path of plain segments, or `None` when it tries to leave
/// the root (`..`, encoded separators, NUL, drive or root components).
pub(crate) fn safe_relative_path(path: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for raw in path.split('/') {
        let segment = percent_decode(raw)?;
        if segment.is_empty() || segment == "." {
            continue;
        }
        if segment == ".." || segment.contains(['/', '\\', '\0']) {
            return None;
        }
        let mut components = Path::new(&segment).components();
        match (components.next(), components.next()) {
            (Some(Component::Normal(_)), None) => out.push(&segment),
            _ => return None,
        }
    }
    Some(out)
}

/// Whether an If-None-Match value names `etag` (weak comparison, RFC 9110 §8.8.3.2), or is
/// `*`.
fn etag_matches(header: &[u8], etag: &[u8]) -> bool {
    fn opaque(t: &[u8]) -> &[u8] {
        t.strip_prefix(b"W/").unwrap_or(t)
    }
    let ours = opaque(etag);
    header.split(|&b| b == b',').any(|t| {
        let t = t.trim_ascii();
        t == b"*" || opaque(t) == ours
    })
}

#[derive(Debug, PartialEq, Eq)]
enum Range {
    /// Not a single `bytes` range we understand: serve the whole file.
    Ignore,
    Unsatisfiable,
    /// Inclusive bounds.
    Bytes {
        start: u64,
        end: u64,
    },
}

fn parse_range(value: &[u8], len: u64) -> Range {
    let Some(spec) = value.trim_ascii().strip_prefix(b"bytes=") else {
        return Range::Ignore;
    };
    if spec.contains(&b',') {
        return Range::Ignore;
    }
    let Ok(spec) = std::str::from_utf8(spec) else {
        return Range::Ignore;
    };
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Range::Ignore;
    };
    let (a, b) = (a.trim(), b.trim());
    let parse = |s: &str| s.parse::<u64>().ok();
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Range::Ignore,
        (true, false) => match parse(b) {
            Some(0) => Range::Unsatisfiable,
            Some(n) if len > 0 => Range::Bytes {
                start: len.saturating_sub(n),
                end: len - 1,
            },
            Some(_) => Range::Unsatisfiable,
            None => Range::Ignore,
        },
        (false, _) => {
            let Some(start) = parse(a) else {
                return Range::Ignore;
            };
            let end = if b.is_empty() {
                Some(u64::MAX)
            } else {
                parse(b)
            };
            match end {
                None => Range::Ignore,
                Some(end) if end < start => Range::Ignore,
                Some(_) if start >= len => Range::Unsatisfiable,
                Some(end) => Range::Bytes {
                    start,
                    end: end.min(len - 1),
                },
            }
        }
    }
}

fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("txt" | "md") => "text/plain; charset=utf-8",
        Some("xml") => "application/xml",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        Some("wasm") => "application/wasm",
        Some("pdf") => "application/pdf",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("mp4") => "video/mp4",
        Some("zip") => "application/zip",
        Some("gz") => "application/gzip",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_paths_are_rejected() {
        for bad in [
            "/../etc/passwd",
            "/a/../../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/%2E%2E/x",
            "/a/%2e%2e%2f%2e%2e/x",
            "/..%2fx",
            "/a%5c..%5cb",
            "/%00",
            "/%zz",
        ] {
            assert_eq!(safe_relative_path(bad), None, "{bad}");
        }
        assert_eq!(
            safe_relative_path("/a/./b//c%20d.txt"),
            Some(PathBuf::from("a/b/c d.txt"))
        );
        assert_eq!(safe_relative_path("/"), Some(PathBuf::new()));
        // An absolute path in the URL is just segments under the root.
        assert_eq!(
            safe_relative_path("//etc/passwd"),
            Some(PathBuf::from("etc/passwd"))
        );
    }

    #[test]
    fn ranges_parse() {
        assert_eq!(
            parse_range(b"bytes=0-9", 100),
            Range::Bytes { start: 0, end: 9 }
        );
        assert_eq!(
            parse_range(b"bytes=90-", 100),
            Range::Bytes { start: 90, end: 99 }
        );
        assert_eq!(
            parse_range(b"bytes=-10", 100),
            Range::Bytes { start: 90, end: 99 }
        );
        assert_eq!(
            parse_range(b"bytes=-1000", 100),
            Range::Bytes { start: 0, end: 99 }
        );
        assert_eq!(
            parse_range(b"bytes=50-1000", 100),
            Range::Bytes { start: 50, end: 99 }
        );
        assert_eq!(parse_range(b"bytes=100-", 100), Range::Unsatisfiable);
        assert_eq!(parse_range(b"bytes=-0", 100), Range::Unsatisfiable);
        assert_eq!(parse_range(b"bytes=0-1,5-6", 100), Range::Ignore);
        assert_eq!(parse_range(b"bytes=9-1", 100), Range::Ignore);
        assert_eq!(parse_range(b"items=0-1", 100), Range::Ignore);
        assert_eq!(parse_range(b"bytes=-5", 0), Range::Unsatisfiable);
    }

    #[test]
    fn etags_compare_weakly() {
        assert!(etag_matches(b"\"a-1\"", b"\"a-1\""));
        assert!(etag_matches(b"W/\"a-1\"", b"\"a-1\""));
        assert!(etag_matches(b"\"x\", \"a-1\"", b"\"a-1\""));
        assert!(etag_matches(b"*", b"\"a-1\""));
        assert!(!etag_matches(b"\"a-2\"", b"\"a-1\""));
    }

    // ------------------------------------------------------------ the handler, in memory

    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Dir {
            let dir =
                std::env::temp_dir().join(format!("h2kit-files-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("root")).unwrap();
            Dir(dir)
        }

        fn root(&self) -> PathBuf {
            self.0.join("root")
        }

        fn write(&self, name: &str, data: impl AsRef<[u8]>) {
            std::fs::write(self.root().join(name), data).unwrap();
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn request(method: Method, path: &str, headers: &[(&str, &str)]) -> Request<Body> {
        let mut r = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            r = r.header(*name, *value);
        }
        r.body(Body::empty()).unwrap()
    }

    struct Answer {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
    }

    impl Answer {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers.get(name).map(|v| v.to_str().unwrap())
        }
    }

    async fn fetch(files: &StaticFiles, req: Request<Body>) -> Answer {
        let (parts, body) = files.call(req).await.into_parts();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body: body.collect(usize::MAX).await.unwrap().data,
        }
    }

    async fn get(files: &StaticFiles, path: &str, headers: &[(&str, &str)]) -> Answer {
        fetch(files, request(Method::GET, path, headers)).await
    }

    /// Sets a file's modification time to `secs` after the epoch.
    fn set_mtime(path: &Path, secs: u64) {
        let file = File::options().write(true).open(path).unwrap();
        file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
            .unwrap();
    }

    /// Whether the handler's future for this request is ready on its first poll (then the
    /// connection answers it in place: no task, no thread hop).
    fn ready_at_once(files: &StaticFiles, path: &str) -> bool {
        let mut future = files.call(request(Method::GET, path, &[]));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        future.as_mut().poll(&mut cx).is_ready()
    }

    #[tokio::test]
    async fn a_cached_file_is_served_from_memory_without_waiting() {
        let dir = Dir::new("hit");
        dir.write("a.txt", "hello\n");
        let files = StaticFiles::new(dir.root()).unwrap();
        // A miss goes to the blocking pool (whose answer may come before the next poll, so
        // only the cache says it was a miss).
        assert!(files.inner.cache().map.is_empty());
        let first = get(&files, "/a.txt", &[]).await;
        assert_eq!(first.status, StatusCode::OK);
        assert_eq!(&first.body[..], b"hello\n");
        assert_eq!(
            first.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(first.header("content-length"), Some("6"));
        assert!(first.header("accept-ranges").is_none(), "a small file");
        assert!(first.header("vary").is_none());
        assert!(ready_at_once(&files, "/a.txt"), "a hit is answered at once");
        let second = get(&files, "/a.txt", &[]).await;
        assert_eq!(second.headers, first.headers);
        assert_eq!(second.body, first.body);
        // The clones share the cache.
        assert!(ready_at_once(&files.clone(), "/a.txt"));
        assert_eq!(files.inner.cache().map.len(), 1);
    }

    #[tokio::test]
    async fn a_cache_hit_sees_a_change_of_size_or_mtime_once_revalidated() {
        let dir = Dir::new("change");
        let path = dir.root().join("f.txt");
        dir.write("f.txt", "one");
        set_mtime(&path, 1_000_000);
        let files = StaticFiles::new(dir.root())
            .unwrap()
            .revalidate_after(Duration::ZERO);
        let a = get(&files, "/f.txt", &[]).await;
        assert_eq!(&a.body[..], b"one");
        // Same mtime, another size.
        dir.write("f.txt", "three");
        set_mtime(&path, 1_000_000);
        let b = get(&files, "/f.txt", &[]).await;
        assert_eq!(&b.body[..], b"three");
        assert_ne!(a.header("etag"), b.header("etag"));
        // Same size, another mtime.
        dir.write("f.txt", "THREE");
        set_mtime(&path, 2_000_000);
        let c = get(&files, "/f.txt", &[]).await;
        assert_eq!(&c.body[..], b"THREE");
        assert_ne!(b.header("etag"), c.header("etag"));
        assert_eq!(
            c.header("last-modified"),
            Some("Sat, 24 Jan 1970 03:33:20 GMT")
        );
        // Gone: 404, and the entry with it.
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            get(&files, "/f.txt", &[]).await.status,
            StatusCode::NOT_FOUND
        );
        assert!(files.inner.cache().map.is_empty());

        // With an interval, a change is seen once the entry is due.
        dir.write("g.txt", "old");
        let files = StaticFiles::new(dir.root())
            .unwrap()
            .revalidate_after(Duration::from_millis(200));
        assert_eq!(&get(&files, "/g.txt", &[]).await.body[..], b"old");
        dir.write("g.txt", "newer");
        assert_eq!(&get(&files, "/g.txt", &[]).await.body[..], b"old");
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(&get(&files, "/g.txt", &[]).await.body[..], b"newer");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_cached_path_replaced_by_a_symlink_out_of_the_root_is_not_found() {
        let dir = Dir::new("swap");
        std::fs::write(dir.0.join("secret"), "secret").unwrap();
        dir.write("x", "public");
        let files = StaticFiles::new(dir.root())
            .unwrap()
            .revalidate_after(Duration::ZERO);
        assert_eq!(&get(&files, "/x", &[]).await.body[..], b"public");
        std::fs::remove_file(dir.root().join("x")).unwrap();
        std::os::unix::fs::symlink(dir.0.join("secret"), dir.root().join("x")).unwrap();
        let a = get(&files, "/x", &[]).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
        assert!(!a.body.windows(6).any(|w| w == b"secret"));
        // A symlink switched to another target inside the root is followed.
        std::fs::create_dir_all(dir.root().join("v1")).unwrap();
        std::fs::create_dir_all(dir.root().join("v2")).unwrap();
        std::fs::write(dir.root().join("v1/app.js"), "v1").unwrap();
        std::fs::write(dir.root().join("v2/app.js"), "v2").unwrap();
        std::os::unix::fs::symlink("v1", dir.root().join("current")).unwrap();
        assert_eq!(&get(&files, "/current/app.js", &[]).await.body[..], b"v1");
        std::fs::remove_file(dir.root().join("current")).unwrap();
        std::os::unix::fs::symlink("v2", dir.root().join("current")).unwrap();
        assert_eq!(&get(&files, "/current/app.js", &[]).await.body[..], b"v2");
    }

    #[tokio::test]
    async fn if_modified_since_and_if_none_match_give_304() {
        let dir = Dir::new("ims");
        let path = dir.root().join("page.html");
        dir.write("page.html", "<p>hi</p>");
        set_mtime(&path, 784_111_777);
        let files = StaticFiles::new(dir.root()).unwrap();
        let full = get(&files, "/page.html", &[]).await;
        let lm = full.header("last-modified").unwrap().to_owned();
        assert_eq!(lm, "Sun, 06 Nov 1994 08:49:37 GMT");
        let etag = full.header("etag").unwrap().to_owned();
        for (headers, expected) in [
            (vec![("if-modified-since", lm.as_str())], 304),
            (
                vec![("if-modified-since", "Sun, 06 Nov 1994 08:49:38 GMT")],
                304,
            ),
            (
                vec![("if-modified-since", "Sunday, 06-Nov-94 08:49:37 GMT")],
                304,
            ),
            (vec![("if-modified-since", "Sun Nov  6 08:49:37 1994")], 304),
            (
                vec![("if-modified-since", "Sun, 06 Nov 1994 08:49:36 GMT")],
                200,
            ),
            (
                vec![("if-modified-since", "Fri, 01 Jan 9999 00:00:00 GMT")],
                200,
            ),
            (vec![("if-modified-since", "not a date")], 200),
            (vec![("if-none-match", etag.as_str())], 304),
            (vec![("if-none-match", "\"other\"")], 200),
            // If-None-Match decides alone when present.
            (
                vec![
                    ("if-none-match", "\"other\""),
                    ("if-modified-since", lm.as_str()),
                ],
                200,
            ),
        ] {
            let a = get(&files, "/page.html", &headers).await;
            assert_eq!(a.status.as_u16(), expected, "{headers:?}");
            if expected == 304 {
                assert!(a.body.is_empty());
                assert_eq!(a.header("etag"), Some(etag.as_str()));
                assert_eq!(a.header("last-modified"), Some(lm.as_str()));
                assert!(a.header("content-length").is_none());
            } else {
                assert_eq!(a.body, full.body);
            }
        }
        // HEAD too; POST (served like GET) is not conditional on dates, and a matching
        // If-None-Match fails its precondition.
        let head = fetch(
            &files,
            request(Method::HEAD, "/page.html", &[("if-modified-since", &lm)]),
        )
        .await;
        assert_eq!(head.status, StatusCode::NOT_MODIFIED);
        let post = fetch(
            &files,
            request(Method::POST, "/page.html", &[("if-modified-since", &lm)]),
        )
        .await;
        assert_eq!(post.status, StatusCode::OK);
        let post = fetch(
            &files,
            request(Method::POST, "/page.html", &[("if-none-match", &etag)]),
        )
        .await;
        assert_eq!(post.status, StatusCode::PRECONDITION_FAILED);
    }

    #[tokio::test]
    async fn head_answers_the_headers_of_get_without_a_body() {
        let dir = Dir::new("head");
        dir.write("small.css", "body{}");
        dir.write("large.bin", vec![7u8; 200_000]);
        let files = StaticFiles::new(dir.root())
            .unwrap()
            .memory_file_limit(1000);
        for path in ["/small.css", "/large.bin"] {
            let get = get(&files, path, &[]).await;
            let head = fetch(&files, request(Method::HEAD, path, &[])).await;
            assert_eq!(head.status, StatusCode::OK);
            assert_eq!(head.headers, get.headers, "{path}");
            let ranges = (path == "/large.bin").then_some("bytes");
            assert_eq!(head.header("accept-ranges"), ranges, "{path}");
            assert!(head.body.is_empty());
            assert_eq!(
                head.header("content-length").unwrap(),
                get.body.len().to_string()
            );
            let range = fetch(
                &files,
                request(Method::HEAD, path, &[("range", "bytes=1-3")]),
            )
            .await;
            assert_eq!(range.status, StatusCode::PARTIAL_CONTENT);
            assert_eq!(range.header("content-length"), Some("3"));
            assert!(range.body.is_empty());
        }
        let missing = fetch(&files, request(Method::HEAD, "/nope", &[])).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        let put = fetch(&files, request(Method::PUT, "/small.css", &[])).await;
        assert_eq!(put.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(put.header("allow"), Some("GET, HEAD, POST"));
    }

    #[tokio::test]
    async fn precompressed_siblings_are_chosen_by_accept_encoding() {
        let dir = Dir::new("precompressed");
        dir.write("app.js", "plain");
        dir.write("app.js.gz", "gzipped");
        dir.write("app.js.br", "brotli");
        dir.write("only-gz.css", "plain css");
        dir.write("only-gz.css.gz", "gzipped css");
        dir.write("none.txt", "text");
        let files = StaticFiles::new(dir.root()).unwrap();
        for (accept, body, encoding) in [
            (None, "plain", None),
            (Some("gzip"), "gzipped", Some("gzip")),
            (Some("br"), "brotli", Some("br")),
            (Some("gzip, deflate, br, zstd"), "brotli", Some("br")),
            (Some("gzip;q=1, br;q=0.5"), "gzipped", Some("gzip")),
            (Some("br;q=0, gzip;q=0"), "plain", None),
            (Some("br;q=0.1, identity"), "plain", None),
            (Some("*"), "brotli", Some("br")),
            (Some("*;q=0.5, br;q=0"), "gzipped", Some("gzip")),
            (Some("identity;q=0, deflate"), "plain", None),
            (Some("GZIP;Q=0.8"), "gzipped", Some("gzip")),
            (Some("br;q=2, gzip;q=x"), "plain", None),
        ] {
            let headers: Vec<(&str, &str)> =
                accept.iter().map(|a| ("accept-encoding", *a)).collect();
            let a = get(&files, "/app.js", &headers).await;
            assert_eq!(a.status, StatusCode::OK);
            assert_eq!(std::str::from_utf8(&a.body).unwrap(), body, "{accept:?}");
            assert_eq!(a.header("content-encoding"), encoding, "{accept:?}");
            assert_eq!(a.header("vary"), Some("accept-encoding"));
            assert_eq!(
                a.header("content-type"),
                Some("text/javascript; charset=utf-8")
            );
            assert_eq!(
                a.header("content-length"),
                Some(body.len().to_string().as_str())
            );
        }
        let plain = get(&files, "/app.js", &[]).await;
        let br = get(&files, "/app.js", &[("accept-encoding", "br")]).await;
        let gz = get(&files, "/app.js", &[("accept-encoding", "gzip")]).await;
        let tags = [plain.header("etag"), br.header("etag"), gz.header("etag")];
        assert!(tags[0] != tags[1] && tags[1] != tags[2] && tags[0] != tags[2]);
        // A validator names one representation.
        let inm = [
            ("accept-encoding", "br"),
            ("if-none-match", tags[1].unwrap()),
        ];
        assert_eq!(
            get(&files, "/app.js", &inm).await.status,
            StatusCode::NOT_MODIFIED
        );
        let inm = [
            ("accept-encoding", "gzip"),
            ("if-none-match", tags[1].unwrap()),
        ];
        assert_eq!(get(&files, "/app.js", &inm).await.status, StatusCode::OK);
        // A range of the compressed bytes.
        let r = get(
            &files,
            "/app.js",
            &[("accept-encoding", "gzip"), ("range", "bytes=1-3")],
        )
        .await;
        assert_eq!(
            (r.status, &r.body[..]),
            (StatusCode::PARTIAL_CONTENT, &b"zip"[..])
        );
        assert_eq!(r.header("content-encoding"), Some("gzip"));
        let only = get(&files, "/only-gz.css", &[("accept-encoding", "br, gzip")]).await;
        assert_eq!(&only.body[..], b"gzipped css");
        let none = get(&files, "/none.txt", &[("accept-encoding", "br, gzip")]).await;
        assert_eq!(&none.body[..], b"text");
        assert!(none.header("vary").is_none());
        // The sibling itself is a file like any other.
        let direct = get(&files, "/app.js.gz", &[]).await;
        assert_eq!(&direct.body[..], b"gzipped");
        assert_eq!(direct.header("content-type"), Some("application/gzip"));
        assert!(direct.header("content-encoding").is_none());
        // Turned off.
        let off = StaticFiles::new(dir.root()).unwrap().precompressed(false);
        let a = get(&off, "/app.js", &[("accept-encoding", "br, gzip")]).await;
        assert_eq!(&a.body[..], b"plain");
        assert!(a.header("vary").is_none() && a.header("content-encoding").is_none());
    }

    #[tokio::test]
    async fn a_sibling_added_or_removed_later_is_seen() {
        let dir = Dir::new("sibling-change");
        dir.write("a.css", "plain");
        let files = StaticFiles::new(dir.root())
            .unwrap()
            .revalidate_after(Duration::ZERO);
        let gz = [("accept-encoding", "gzip")];
        assert_eq!(&get(&files, "/a.css", &gz).await.body[..], b"plain");
        dir.write("a.css.gz", "gz");
        assert_eq!(&get(&files, "/a.css", &gz).await.body[..], b"gz");
        std::fs::remove_file(dir.root().join("a.css.gz")).unwrap();
        assert_eq!(&get(&files, "/a.css", &gz).await.body[..], b"plain");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_sibling_outside_the_root_is_not_served() {
        let dir = Dir::new("sibling-out");
        std::fs::write(dir.0.join("secret.gz"), "secret").unwrap();
        dir.write("a.txt", "plain");
        std::os::unix::fs::symlink(dir.0.join("secret.gz"), dir.root().join("a.txt.gz")).unwrap();
        let files = StaticFiles::new(dir.root()).unwrap();
        let a = get(&files, "/a.txt", &[("accept-encoding", "gzip")]).await;
        assert_eq!(&a.body[..], b"plain");
        assert!(a.header("content-encoding").is_none());
    }

    #[tokio::test]
    async fn ranges_of_a_cached_file_and_if_range() {
        let dir = Dir::new("range");
        dir.write("digits", "0123456789");
        let files = StaticFiles::new(dir.root()).unwrap();
        let full = get(&files, "/digits", &[]).await;
        assert!(ready_at_once(&files, "/digits"));
        let etag = full.header("etag").unwrap().to_owned();
        let lm = full.header("last-modified").unwrap().to_owned();
        for (range, status, body, content_range) in [
            ("bytes=2-5", 206, "2345", Some("bytes 2-5/10")),
            ("bytes=-3", 206, "789", Some("bytes 7-9/10")),
            ("bytes=8-", 206, "89", Some("bytes 8-9/10")),
            ("bytes=0-99", 206, "0123456789", Some("bytes 0-9/10")),
            ("bytes=10-", 416, "", Some("bytes */10")),
            ("bytes=1-2,4-5", 200, "0123456789", None),
            ("lines=1-2", 200, "0123456789", None),
        ] {
            let a = get(&files, "/digits", &[("range", range)]).await;
            assert_eq!(a.status.as_u16(), status, "{range}");
            assert_eq!(std::str::from_utf8(&a.body).unwrap(), body, "{range}");
            assert_eq!(a.header("content-range"), content_range, "{range}");
            if status != 416 {
                assert_eq!(a.header("content-length").unwrap(), body.len().to_string());
            }
        }
        for (if_range, status) in [
            (etag.as_str(), 206),
            (lm.as_str(), 206),
            ("\"stale\"", 200),
            ("W/\"weak\"", 200),
            ("Thu, 01 Jan 1970 00:00:00 GMT", 200),
        ] {
            let a = get(
                &files,
                "/digits",
                &[("range", "bytes=0-0"), ("if-range", if_range)],
            )
            .await;
            assert_eq!(a.status.as_u16(), status, "{if_range}");
        }
    }

    #[tokio::test]
    async fn a_file_over_the_memory_limit_streams_from_a_shared_descriptor() {
        let dir = Dir::new("large");
        let data: Vec<u8> = (0..700_001u32).map(|i| (i % 251) as u8).collect();
        dir.write("big.bin", &data);
        dir.write("small.bin", [1u8; 100]);
        let files = StaticFiles::new(dir.root())
            .unwrap()
            .cache_memory(64 * 1024);
        let a = get(&files, "/big.bin", &[]).await;
        assert_eq!(a.status, StatusCode::OK);
        assert!(a.body[..] == data[..]);
        {
            let cache = files.inner.cache();
            assert_eq!((cache.memory, cache.open_files), (0, 1));
        }
        // Cached: a hit still streams, and so does a range of it.
        let (parts, _) = files
            .call(request(Method::GET, "/big.bin", &[]))
            .await
            .into_parts();
        assert_eq!(parts.headers["content-length"], "700001");
        let r = get(&files, "/big.bin", &[("range", "bytes=300000-600000")]).await;
        assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
        assert!(r.body[..] == data[300_000..=600_000]);
        let small = get(&files, "/small.bin", &[]).await;
        assert_eq!(&small.body[..], &[1u8; 100]);
        {
            let cache = files.inner.cache();
            assert_eq!((cache.memory, cache.open_files), (100, 1));
        }
        // No descriptors kept: still served.
        let files = StaticFiles::new(dir.root())
            .unwrap()
            .memory_file_limit(0)
            .cache_open_files(0);
        for _ in 0..2 {
            let a = get(&files, "/big.bin", &[]).await;
            assert!(a.body[..] == data[..]);
        }
        assert!(files.inner.cache().map.is_empty());
    }

    #[tokio::test]
    async fn the_cache_stays_within_its_limits() {
        let dir = Dir::new("limits");
        for i in 0..40 {
            dir.write(&format!("f{i}"), vec![b'a' + (i % 26) as u8; 1000 + i]);
        }
        let files = StaticFiles::new(dir.root())
            .unwrap()
            .cache_entries(16)
            .cache_memory(10_000)
            .memory_file_limit(1020)
            .cache_open_files(3);
        for round in 0..3 {
            for i in 0..40usize {
                let a = get(&files, &format!("/f{i}"), &[]).await;
                assert_eq!(a.body.len(), 1000 + i, "round {round}");
                assert!(a.body.iter().all(|&b| b == b'a' + (i % 26) as u8));
                let cache = files.inner.cache();
                assert!(cache.map.len() <= 16);
                assert!(cache.memory <= 10_000);
                assert!(cache.open_files <= 3);
                let memory: usize = cache.map.values().map(|s| s.resource.memory()).sum();
                let open: usize = cache.map.values().map(|s| s.resource.open_files()).sum();
                assert_eq!((memory, open), (cache.memory, cache.open_files));
            }
        }
        // The most recently used stay.
        assert!(ready_at_once(&files, "/f39"));
        let off = StaticFiles::new(dir.root()).unwrap().cache_entries(0);
        assert_eq!(get(&off, "/f3", &[]).await.body.len(), 1003);
        assert!(off.inner.cache().map.is_empty());
    }

    #[tokio::test]
    async fn directories_serve_their_index_and_paths_stay_inside() {
        let dir = Dir::new("index");
        std::fs::create_dir_all(dir.root().join("sub")).unwrap();
        dir.write("sub/index.html", "<h1>sub</h1>");
        std::fs::write(dir.0.join("outside.txt"), "outside").unwrap();
        let files = StaticFiles::new(dir.root()).unwrap();
        let a = get(&files, "/sub/", &[]).await;
        assert_eq!(
            (a.status, &a.body[..]),
            (StatusCode::OK, &b"<h1>sub</h1>"[..])
        );
        assert_eq!(a.header("content-type"), Some("text/html; charset=utf-8"));
        assert_eq!(&get(&files, "/sub", &[]).await.body[..], b"<h1>sub</h1>");
        assert_eq!(get(&files, "/", &[]).await.status, StatusCode::NOT_FOUND);
        for path in [
            "/../outside.txt",
            "/sub/../../outside.txt",
            "/%2e%2e/outside.txt",
        ] {
            assert_eq!(
                get(&files, path, &[]).await.status,
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
        // POST is answered like GET.
        let post = fetch(&files, request(Method::POST, "/sub/", &[])).await;
        assert_eq!(&post.body[..], b"<h1>sub</h1>");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_misses_for_one_file_loads_it_once() {
        let dir = Dir::new("burst");
        dir.write("a.txt", "burst");
        let files = StaticFiles::new(dir.root()).unwrap();
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let files = files.clone();
                tokio::spawn(async move { get(&files, "/a.txt", &[]).await })
            })
            .collect();
        for t in tasks {
            assert_eq!(&t.await.unwrap().body[..], b"burst");
        }
        let resolved = files
            .inner
            .resolved
            .load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(resolved, 1, "{resolved} resolves for one file");
    }

    /// `answer_fields` for a GET of `path` with `headers`.
    fn answer(files: &StaticFiles, path: &str, headers: &[(&str, &str)]) -> Option<FieldsAnswer> {
        let mut fields = vec![
            Field::new(":method", "GET"),
            Field::new(":scheme", "https"),
            Field::new(":authority", "example.com"),
            Field::new(":path", path.to_owned()),
        ];
        for (name, value) in headers {
            fields.push(Field::new(name.to_string(), value.to_string()));
        }
        let path = path.split('?').next().unwrap();
        files.answer_fields(&FieldsRequest {
            method: b"GET",
            path,
            fields: &fields,
            max_body: 1 << 20,
            received: Instant::now(),
        })
    }

    #[tokio::test]
    async fn a_cached_plain_get_is_answered_from_fields_as_call_answers_it() {
        let dir = Dir::new("fields");
        dir.write("a.txt", "hello fields");
        dir.write("z.js", "zipped");
        dir.write("z.js.gz", "gz");
        let files = StaticFiles::new(dir.root()).unwrap();
        // Not cached yet: the usual way.
        assert!(answer(&files, "/a.txt", &[]).is_none());
        let called = get(&files, "/a.txt", &[]).await;
        let fast = answer(&files, "/a.txt?q=1", &[("accept", "*/*")]).expect("a cache hit");
        assert_eq!(fast.status, called.status);
        assert_eq!(fast.body, called.body);
        let mut expected = Vec::new();
        extend_response_fields(&mut expected, called.status, &called.headers);
        assert_eq!(&fast.fields[..], &expected[..]);
        // Preconditions, ranges and precompressed siblings take the usual way.
        for header in [
            ("if-none-match", "\"x\""),
            ("if-modified-since", "Thu, 01 Jan 1970 00:00:00 GMT"),
            ("range", "bytes=0-1"),
            ("if-range", "\"x\""),
        ] {
            assert!(answer(&files, "/a.txt", &[header]).is_none(), "{header:?}");
        }
        get(&files, "/z.js", &[]).await;
        assert!(answer(&files, "/z.js", &[]).is_none());
        assert!(answer(&files, "/missing", &[]).is_none());
        // A body over the connection's limit, and other methods, too.
        let mut fields = vec![Field::new(":method", "HEAD")];
        let head = FieldsRequest {
            method: b"HEAD",
            path: "/a.txt",
            fields: &fields,
            max_body: 1 << 20,
            received: Instant::now(),
        };
        assert!(files.answer_fields(&head).is_none());
        fields[0] = Field::new(":method", "GET");
        let small = FieldsRequest {
            method: b"GET",
            path: "/a.txt",
            fields: &fields,
            max_body: 4,
            received: Instant::now(),
        };
        assert!(files.answer_fields(&small).is_none());
    }

    #[test]
    fn qvalues_parse() {
        for (text, q) in [
            ("1", Some(1000)),
            ("1.000", Some(1000)),
            ("0", Some(0)),
            ("0.5", Some(500)),
            ("0.125", Some(125)),
        ] {
            assert_eq!(parse_qvalue(text.as_bytes()), q, "{text}");
        }
        for bad in ["", "2", "1.5", "0.1234", "0.x", ".5", "01"] {
            assert_eq!(parse_qvalue(bad.as_bytes()), None, "{bad}");
        }
    }
}
