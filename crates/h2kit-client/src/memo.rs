//! The last request head a [`Client`](crate::Client) built, kept for the next request that
//! is the same: a client that sends one request again and again (polling a resource, a load
//! test) builds its HEADERS fields once, and the connection, seeing the same shared bytes,
//! validates and encodes them once too (its HEADERS memo). A head that
//! [`Client::get`](crate::Client::get) made is kept with its path, so the same `get` again
//! parses no URI and builds no request at all.
//!
//! A head is kept from its second coming in a row (a fingerprint of the first is all that
//! is kept of it), so requests that all differ pay for the fingerprint only.

use std::sync::{Arc, Mutex, TryLockError};

use h2kit::http::{Origin, request_fields};
use h2kit::{Field, FieldList};
use http::{HeaderMap, Method, Request, Uri};

/// See the [module](self) overview. Shared by the client's handles: a handle that finds
/// it in use by another builds its head without it.
#[derive(Debug, Default)]
pub(crate) struct RequestMemo {
    inner: Mutex<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    /// The fingerprint of the last head built that was not the kept one.
    seen: u64,
    head: Option<KeptHead>,
}

#[derive(Debug)]
struct KeptHead {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    fields: Arc<[Field]>,
    /// The path of the `get` that made this head, if one did.
    get_path: Option<Box<str>>,
}

impl RequestMemo {
    /// The HEADERS fields of `head` (its URI complete), from the memo when it is the kept
    /// head; else built, and kept when the same head came just before. CONNECT requests are
    /// built every time (their fields depend on extensions too).
    pub(crate) fn fields(
        &self,
        head: &Request<()>,
        origin: &Origin,
        get_path: Option<&str>,
    ) -> FieldList {
        let Some(mut kept) = self.lock() else {
            return request_fields(head, origin).into();
        };
        if let Some(k) = &mut kept.head {
            if k.method == head.method()
                && same_uri(&k.uri, head.uri())
                && same_headers(&k.headers, head.headers())
            {
                if get_path.is_some() && k.get_path.as_deref() != get_path {
                    k.get_path = get_path.map(Box::from);
                }
                return k.fields.clone().into();
            }
        }
        let fields = request_fields(head, origin);
        if head.method() == Method::CONNECT {
            return fields.into();
        }
        let print = fingerprint(head);
        let again = print == kept.seen;
        kept.seen = print;
        if !again {
            // An owned list, which the connection keeps for a later one once written.
            return fields.into();
        }
        let fields: Arc<[Field]> = fields.into();
        kept.head = Some(KeptHead {
            method: head.method().clone(),
            uri: head.uri().clone(),
            headers: head.headers().clone(),
            fields: fields.clone(),
            get_path: get_path.map(Box::from),
        });
        fields.into()
    }

    /// The fields of the kept head when a [`Client::get`](crate::Client::get) of `path`
    /// made it.
    pub(crate) fn get_fields(&self, path: &str) -> Option<Arc<[Field]>> {
        let kept = self.lock()?;
        let head = kept.head.as_ref()?;
        (head.get_path.as_deref() == Some(path)).then(|| head.fields.clone())
    }

    fn lock(&self) -> Option<std::sync::MutexGuard<'_, Kept>> {
        match self.inner.try_lock() {
            Ok(kept) => Some(kept),
            // Nothing panics while it is held; a poisoned memo is still consistent.
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }
}

/// Whether two URIs are written the same, octet for octet (`http::Uri`'s `==` ignores the
/// case of the scheme and authority, which the fields would then not show).
fn same_uri(a: &Uri, b: &Uri) -> bool {
    a.scheme_str() == b.scheme_str()
        && a.authority().map(|x| x.as_str()) == b.authority().map(|x| x.as_str())
        && a.path_and_query().map(|x| x.as_str()) == b.path_and_query().map(|x| x.as_str())
}

/// Whether two header maps hold the same fields in the same order, sensitivity included.
fn same_headers(a: &HeaderMap, b: &HeaderMap) -> bool {
    a.len() == b.len()
        && a.iter().zip(b.iter()).all(|((n, v), (m, w))| {
            n == m && v.as_bytes() == w.as_bytes() && v.is_sensitive() == w.is_sensitive()
        })
}

/// A hint that two heads are the same: method, URI and header count.
fn fingerprint(head: &Request<()>) -> u64 {
    let uri = head.uri();
    let mut h = hash_bytes(
        head.headers().len() as u64,
        head.method().as_str().as_bytes(),
    );
    for part in [
        uri.scheme_str(),
        uri.authority().map(|a| a.as_str()),
        uri.path_and_query().map(|p| p.as_str()),
    ] {
        h = hash_bytes(h, part.unwrap_or_default().as_bytes());
    }
    h
}

fn hash_bytes(h: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(h ^ bytes.len() as u64, |h, &b| {
        (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin::new(
            http::uri::Scheme::HTTP,
            Some("example.com".parse().unwrap()),
        )
    }

    fn get(uri: &str) -> Request<()> {
        Request::get(uri).body(()).unwrap()
    }

    fn shared(list: FieldList) -> Arc<[Field]> {
        match list {
            FieldList::Shared(fields) => fields,
            FieldList::Owned(fields) => fields.into(),
        }
    }

    #[test]
    fn the_same_head_is_built_twice_then_shared() {
        let (memo, origin) = (RequestMemo::default(), origin());
        let head = get("http://example.com/a");
        let first = memo.fields(&head, &origin, None);
        assert!(matches!(first, FieldList::Owned(_)));
        let (first, second) = (shared(first), shared(memo.fields(&head, &origin, None)));
        assert!(!Arc::ptr_eq(&first, &second), "built again, then kept");
        let third = shared(memo.fields(&get("http://example.com/a"), &origin, None));
        assert!(Arc::ptr_eq(&second, &third));
        assert_eq!(first[..], third[..]);
    }

    #[test]
    fn any_difference_is_built_afresh() {
        let (memo, origin) = (RequestMemo::default(), origin());
        let head = get("http://example.com/a");
        memo.fields(&head, &origin, None);
        let kept = shared(memo.fields(&head, &origin, None));
        let mut others = vec![
            get("http://example.com/b"),
            get("http://Example.com/a"),
            get("http://example.com/a?q"),
            Request::head("http://example.com/a").body(()).unwrap(),
            Request::get("http://example.com/a")
                .header("accept", "*/*")
                .body(())
                .unwrap(),
        ];
        let mut sensitive = get("http://example.com/a");
        let mut value = http::HeaderValue::from_static("x");
        value.set_sensitive(true);
        sensitive.headers_mut().insert("authorization", value);
        others.push(sensitive);
        for other in &others {
            let fields = shared(memo.fields(other, &origin, None));
            assert!(!Arc::ptr_eq(&fields, &kept), "{other:?}");
            assert_eq!(fields[..], request_fields(other, &origin)[..], "{other:?}");
            // The head asked for again gets its own fields (the kept list unless a head of
            // the same fingerprint came twice in a row meanwhile and took its place).
            assert_eq!(
                memo.fields(&head, &origin, None)[..],
                request_fields(&head, &origin)[..]
            );
        }
    }

    #[test]
    fn a_sensitive_value_is_not_answered_by_a_kept_plain_one() {
        let (memo, origin) = (RequestMemo::default(), origin());
        let with = |sensitive: bool| {
            let mut value = http::HeaderValue::from_static("secret");
            value.set_sensitive(sensitive);
            let mut head = get("http://example.com/a");
            head.headers_mut().insert("authorization", value);
            head
        };
        let plain = with(false);
        memo.fields(&plain, &origin, None);
        let kept = shared(memo.fields(&plain, &origin, None));
        let fields = memo.fields(&with(true), &origin, None);
        assert_eq!(fields[..], request_fields(&with(true), &origin)[..]);
        assert_ne!(fields[4].repr, kept[4].repr, "never indexed");
    }

    #[test]
    fn a_kept_head_answers_a_get_of_the_path_that_made_it() {
        let (memo, origin) = (RequestMemo::default(), origin());
        let head = get("http://example.com/a");
        assert!(memo.get_fields("/a").is_none());
        memo.fields(&head, &origin, Some("/a"));
        assert!(memo.get_fields("/a").is_none(), "not kept yet");
        let kept = shared(memo.fields(&head, &origin, Some("/a")));
        let answer = memo.get_fields("/a").expect("kept");
        assert!(Arc::ptr_eq(&answer, &kept));
        assert!(memo.get_fields("/b").is_none());
        assert!(memo.get_fields("http://example.com/a").is_none());
        // The same head from `send`: still the kept one, still known by its path.
        memo.fields(&head, &origin, None);
        assert!(memo.get_fields("/a").is_some());
        // Another head kept in its place: the path answers no more.
        let other = get("http://example.com/b");
        memo.fields(&other, &origin, None);
        memo.fields(&other, &origin, None);
        assert!(memo.get_fields("/a").is_none());
    }
}
