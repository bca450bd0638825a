//! A real browser against `h2kit serve`: headless Chromium, driven over WebDriver by
//! `chromedriver`, loads a page of 80 subresources (24 scripts: deferred, async and blocking;
//! 16 stylesheets; 20 PNG and 20 SVG images) and then fetches a 4 MiB file, all from
//! `h2kit serve DIR` over TLS with its self-signed certificate (`--ignore-certificate-errors`).
//!
//! The page itself records what arrived (scripts that ran, stylesheets applied, images decoded,
//! the large file's length and byte sum) and the browser's Resource Timing entries; the test
//! asserts from the browser side that every resource arrived whole (status 200, the file's
//! size) over `h2` (`nextHopProtocol`), the page included, and from the server side that the
//! access log has a complete `200` line for each. It prints the load times the browser
//! measured (not asserted).
//!
//! Run it with
//!
//! ```text
//! cargo test -p h2kit-cli --test browser -- --nocapture
//! ```
//!
//! It needs Debian's `chromium` and `chromium-driver` (`chromedriver`), found on `PATH`;
//! without them it prints that it skipped and passes, unless `H2KIT_REQUIRE_PEERS=1` (as in
//! CI), which makes it fail. It runs as root too (`--no-sandbox`). The WebDriver client is a
//! few lines of HTTP/1.1 over a `std` socket; the browser and the driver are ended (their
//! session deleted, then their processes killed by id) whatever the outcome.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use h2kit_interop::{Peer, TempDir, require_peer};
use serde_json::{Value, json};

const SCRIPTS: usize = 24;
const STYLESHEETS: usize = 16;
const PNGS: usize = 20;
const SVGS: usize = 20;
const BIG: usize = 4 << 20;

/// How long the browser may take for anything (far more than it needs on a loaded machine).
const PATIENCE: Duration = Duration::from_secs(90);

/// The site: `index.html` and its subresources. Returns each subresource's path (from the
/// root, with its leading `/`) and size, and the byte sum of the large file.
fn make_site(root: &Path) -> (BTreeMap<String, u64>, u32) {
    for sub in ["js", "css", "img"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    let mut files = BTreeMap::new();
    let mut put = |path: String, data: &[u8]| {
        std::fs::write(root.join(&path[1..]), data).unwrap();
        files.insert(path, data.len() as u64);
    };
    let mut head = String::new();
    let mut body = String::new();
    for i in 0..SCRIPTS {
        // Padding of 1 to 24 KiB so the scripts are of many sizes.
        let padding = "/* padding */\n".repeat((i + 1) * 1024 / 14);
        let js = format!("{padding}window.__scripts = (window.__scripts || 0) + 1;\n");
        let path = format!("/js/s{i}.js");
        put(path.clone(), js.as_bytes());
        match i % 3 {
            0 => head.push_str(&format!("<script defer src=\"{}\"></script>\n", &path[1..])),
            1 => head.push_str(&format!("<script async src=\"{}\"></script>\n", &path[1..])),
            _ => body.push_str(&format!("<script src=\"{}\"></script>\n", &path[1..])),
        }
    }
    for i in 0..STYLESHEETS {
        let padding = "/* padding */\n".repeat((i + 1) * 512 / 14);
        let css = format!("{padding}#box{i} {{ width: {}px; height: 2px; }}\n", i + 1);
        let path = format!("/css/c{i}.css");
        put(path.clone(), css.as_bytes());
        head.push_str(&format!(
            "<link rel=\"stylesheet\" href=\"{}\">\n",
            &path[1..]
        ));
        body.push_str(&format!("<div id=\"box{i}\"></div>\n"));
    }
    for i in 0..PNGS {
        let side = 16 + 4 * i as u32;
        let path = format!("/img/p{i}.png");
        put(path.clone(), &png(side, side, i as u8));
        body.push_str(&format!("<img src=\"{}\" alt=\"\">\n", &path[1..]));
    }
    for i in 0..SVGS {
        let svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"20\">\
             <rect width=\"{w}\" height=\"20\" fill=\"#{c:02x}80c0\"/></svg>\n",
            w = 10 + i,
            c = i * 12
        );
        let path = format!("/img/v{i}.svg");
        put(path.clone(), svg.as_bytes());
        body.push_str(&format!("<img src=\"{}\" alt=\"\">\n", &path[1..]));
    }
    let big = pseudo_random(BIG);
    let big_sum = big.iter().fold(0u32, |s, &b| s.wrapping_add(u32::from(b)));
    put("/big.bin".to_owned(), &big);

    let html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>h2kit browser test</title>\n\
         <link rel=\"icon\" href=\"data:,\">\n\
         {head}</head><body>\n<pre id=\"result\">loading</pre>\n{body}{PAGE_SCRIPT}</body></html>\n"
    );
    std::fs::write(root.join("index.html"), html).unwrap();
    (files, big_sum)
}

/// After `load`, fetches the large file and sums its bytes, then records what the page got in
/// `window.__result` (a JSON string) and in `#result`.
const PAGE_SCRIPT: &str = r#"<script>
function finish(r) {
  var images = 0, css = 0;
  for (var i = 0; i < document.images.length; i++) {
    var img = document.images[i];
    if (img.complete && img.naturalWidth > 0) images++;
  }
  for (var i = 0; ; i++) {
    var box = document.getElementById('box' + i);
    if (!box) break;
    if (getComputedStyle(box).width === (i + 1) + 'px') css++;
  }
  var nav = performance.getEntriesByType('navigation')[0];
  r.scripts = window.__scripts || 0;
  r.images = images;
  r.css = css;
  r.navProtocol = nav.nextHopProtocol;
  r.loadMs = nav.loadEventStart - nav.startTime;
  r.resources = performance.getEntriesByType('resource').map(function (e) {
    return [e.name, e.nextHopProtocol, e.responseStatus, e.encodedBodySize, e.duration];
  });
  window.__result = JSON.stringify(r);
  document.getElementById('result').textContent = window.__result;
}
window.addEventListener('load', function () {
  var t0 = performance.now();
  fetch('big.bin').then(function (resp) { return resp.arrayBuffer(); }).then(function (buf) {
    var a = new Uint8Array(buf), sum = 0;
    for (var i = 0; i < a.length; i++) sum = (sum + a[i]) >>> 0;
    finish({ bigLength: a.length, bigSum: sum, bigMs: performance.now() - t0 });
  }, function (e) { finish({ error: String(e) }); });
});
</script>
"#;

/// `len` bytes of xorshift output.
fn pseudo_random(len: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A `w`×`h` RGB PNG (a gradient tinted by `seed`), its image data in stored (uncompressed)
/// deflate blocks.
fn png(w: u32, h: u32, seed: u8) -> Vec<u8> {
    let mut raw = Vec::new();
    for y in 0..h {
        raw.push(0); // filter: none
        for x in 0..w {
            raw.extend_from_slice(&[(x * 255 / w) as u8, (y * 255 / h) as u8, seed * 12]);
        }
    }
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());

    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8 bits, RGB
    for (kind, data) in [
        (b"IHDR", &ihdr[..]),
        (b"IDAT", &zlib[..]),
        (b"IEND", &[][..]),
    ] {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// One WebDriver command: a JSON request over HTTP/1.1 to chromedriver, its `value` back.
fn webdriver(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut sock = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(PATIENCE + Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    write!(
        sock,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(sock);
    let mut status_line = String::new();
    reader
        .read_line(&mut status_line)
        .map_err(|e| e.to_string())?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut length = None;
    let mut chunked = false;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).map_err(|e| e.to_string())?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse::<usize>().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        }
    }
    let mut data = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).map_err(|e| e.to_string())?;
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|e| format!("bad chunk size: {e}"))?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).map_err(|e| e.to_string())?;
            if size == 0 {
                break;
            }
            data.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(n) = length {
        data.resize(n, 0);
        reader.read_exact(&mut data).map_err(|e| e.to_string())?;
    } else {
        reader.read_to_end(&mut data).map_err(|e| e.to_string())?;
    }
    let value: Value = serde_json::from_slice(&data)
        .map_err(|e| format!("{e}: {}", String::from_utf8_lossy(&data)))?;
    if status != 200 {
        return Err(format!("{method} {path}: {status} {value}"));
    }
    Ok(value.get("value").cloned().unwrap_or(Value::Null))
}

/// The processes of the test: ended (by id) when it ends, whatever happened.
#[derive(Default)]
struct Processes {
    server: Option<Child>,
    driver: Option<Child>,
    driver_port: u16,
    driver_log: Option<PathBuf>,
    session: Option<String>,
    browser_pid: Option<u64>,
}

impl Processes {
    /// Deletes the WebDriver session, which quits the browser (then not to be killed).
    fn quit_browser(&mut self) {
        if let Some(session) = self.session.take() {
            let path = format!("/session/{session}");
            if webdriver(self.driver_port, "DELETE", &path, None).is_ok() {
                self.browser_pid = None;
            }
        }
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        self.quit_browser();
        if let Some(pid) = self.browser_pid.take() {
            // The session could not be deleted: the browser is ended by its id.
            let _ = Command::new("kill")
                .arg(pid.to_string())
                .stderr(Stdio::null())
                .status();
        }
        for child in [self.driver.take(), self.server.take()]
            .into_iter()
            .flatten()
        {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            if let Some(log) = &self.driver_log {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                eprintln!("chromedriver's last lines:");
                for line in tail.into_iter().rev() {
                    eprintln!("  {line}");
                }
            }
        }
    }
}

/// Starts `h2kit serve ROOT` over TLS on a free port; returns its base URL, and a thread
/// gathering its stderr (the access log) until it exits.
fn start_server(
    processes: &mut Processes,
    root: &Path,
) -> (String, std::thread::JoinHandle<Vec<String>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_h2kit"))
        .arg("serve")
        .arg(root)
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("h2kit serve starts");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    processes.server = Some(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("https://"))
        .unwrap_or_else(|| panic!("no https URL in {line:?}"))
        .to_owned();
    let log = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<String>>()
    });
    (url, log)
}

/// Starts chromedriver on a free port and waits until it is ready.
fn start_driver(processes: &mut Processes, chromedriver: &Path, dir: &Path) {
    let log = dir.join("chromedriver.log");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .arg(format!("--log-path={}", log.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    processes.driver = Some(child);
    processes.driver_port = port;
    processes.driver_log = Some(log);
    let start = Instant::now();
    loop {
        match webdriver(port, "GET", "/status", None) {
            Ok(status) if status["ready"] == json!(true) => return,
            result => assert!(
                start.elapsed() < PATIENCE,
                "chromedriver not ready after {PATIENCE:?}: {result:?}"
            ),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn chromium_loads_a_page_of_many_resources_over_h2() {
    const TEST: &str = "chromium_loads_a_page_of_many_resources_over_h2";
    let Peer::Found(chromium) = require_peer("chromium", TEST) else {
        return;
    };
    let Peer::Found(chromedriver) = require_peer("chromedriver", TEST) else {
        return;
    };
    let dir = TempDir::new("browser").unwrap();
    let root = dir.join("site");
    std::fs::create_dir_all(&root).unwrap();
    let (files, big_sum) = make_site(&root);
    assert_eq!(files.len(), SCRIPTS + STYLESHEETS + PNGS + SVGS + 1);

    let mut processes = Processes::default();
    let (base, server_log) = start_server(&mut processes, &root);
    start_driver(&mut processes, &chromedriver, dir.path());
    let port = processes.driver_port;

    let capabilities = json!({
        "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "acceptInsecureCerts": true,
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--ignore-certificate-errors",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    "--no-first-run",
                    format!("--user-data-dir={}", dir.join("profile").display()),
                ],
            },
        }}
    });
    let session = webdriver(port, "POST", "/session", Some(&capabilities))
        .unwrap_or_else(|e| panic!("no browser session: {e}"));
    let id = session["sessionId"]
        .as_str()
        .expect("a session id")
        .to_owned();
    processes.session = Some(id.clone());
    processes.browser_pid = session["capabilities"]["goog:processID"].as_u64();
    let ms = PATIENCE.as_millis() as u64;
    webdriver(
        port,
        "POST",
        &format!("/session/{id}/timeouts"),
        Some(&json!({ "pageLoad": ms, "script": ms })),
    )
    .unwrap();

    // Navigation returns once the page's load event has fired.
    let page = format!("{base}index.html");
    let started = Instant::now();
    webdriver(
        port,
        "POST",
        &format!("/session/{id}/url"),
        Some(&json!({ "url": page })),
    )
    .unwrap_or_else(|e| panic!("loading {page}: {e}"));
    let navigated = started.elapsed();
    let result = loop {
        let value = webdriver(
            port,
            "POST",
            &format!("/session/{id}/execute/sync"),
            Some(&json!({ "script": "return window.__result || null;", "args": [] })),
        )
        .unwrap();
        if let Some(text) = value.as_str() {
            break serde_json::from_str::<Value>(text).unwrap();
        }
        assert!(
            started.elapsed() < PATIENCE,
            "the page did not finish within {PATIENCE:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let finished = started.elapsed();
    processes.quit_browser();

    // The server's access log, complete once it has shut down (SIGTERM: graceful).
    if let Some(server) = &processes.server {
        let _ = Command::new("kill")
            .args(["-TERM", &server.id().to_string()])
            .status();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while let Some(server) = processes.server.as_mut() {
        if server.try_wait().unwrap().is_some() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(processes);
    let log = server_log.join().unwrap();

    // The browser side.
    assert!(result.get("error").is_none(), "the page failed: {result}");
    assert_eq!(result["navProtocol"], "h2", "the page itself: {result}");
    assert_eq!(result["scripts"], SCRIPTS, "scripts that ran");
    assert_eq!(result["css"], STYLESHEETS, "stylesheets applied");
    assert_eq!(result["images"], PNGS + SVGS, "images decoded");
    assert_eq!(result["bigLength"], BIG, "the large file's length");
    assert_eq!(result["bigSum"], big_sum, "the large file's byte sum");
    let resources = result["resources"].as_array().expect("resource entries");
    let mut seen = BTreeMap::new();
    for entry in resources {
        let name = entry[0].as_str().unwrap();
        let path = name
            .strip_prefix(base.trim_end_matches('/'))
            .unwrap_or_else(|| panic!("a resource of another origin: {name}"));
        assert_eq!(entry[1], "h2", "{path} came over {}", entry[1]);
        assert_eq!(entry[2], 200, "{path}: status {}", entry[2]);
        let size = files
            .get(path)
            .unwrap_or_else(|| panic!("unexpected {path}"));
        assert_eq!(entry[3], *size, "{path}: body size");
        assert!(
            seen.insert(path.to_owned(), entry[4].as_f64().unwrap_or(0.0))
                .is_none(),
            "{path} fetched twice"
        );
    }
    let missing: Vec<&String> = files.keys().filter(|p| !seen.contains_key(*p)).collect();
    assert!(missing.is_empty(), "never fetched: {missing:?}");

    // The server side: one complete 200 line for the page and for each resource, and
    // whatever else the browser asked for printed (none is expected), not asserted.
    let requests: Vec<(&str, &String)> = log
        .iter()
        .filter_map(|l| {
            let mut words = l.split(' ');
            let _addr = words.next()?;
            let method = words.next()?;
            let path = words.next()?;
            (method == "GET").then_some((path, l))
        })
        .collect();
    for path in files.keys().map(String::as_str).chain(["/index.html"]) {
        let lines: Vec<&&String> = requests
            .iter()
            .filter(|(p, _)| *p == path)
            .map(|(_, l)| l)
            .collect();
        assert!(
            lines.len() == 1
                && lines[0].contains(&format!(" GET {path} 200 "))
                && !lines[0].ends_with("(incomplete)"),
            "not one complete 200 for {path} in the access log: {lines:?}\n{}",
            log.join("\n")
        );
    }
    let others: Vec<&&String> = requests
        .iter()
        .filter(|(p, _)| *p != "/index.html" && !files.contains_key(*p))
        .map(|(_, l)| l)
        .collect();
    if !others.is_empty() {
        println!("other requests in the access log: {others:?}");
    }

    println!(
        "chromium loaded index.html and {} resources over h2: load event at {:.0} ms, \
         the 4 MiB file in {:.0} ms more (navigation took {} ms, all done in {} ms); \
         {} requests in the server's access log",
        resources.len(),
        result["loadMs"].as_f64().unwrap_or(0.0),
        result["bigMs"].as_f64().unwrap_or(0.0),
        navigated.as_millis(),
        finished.as_millis(),
        requests.len()
    );
}
