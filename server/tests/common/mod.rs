//! Test harness: starts the real binary on an ephemeral loopback port with
//! its own data directory, and talks to it over plain HTTP/1.1 on a
//! `TcpStream` (so tests see exactly what goes over the wire, dropped
//! connections included).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_passage-auth-server");
pub const ADMIN_KEY: &str = "local-admin-key";

/// A temporary directory, removed when dropped.
pub struct TestDir(PathBuf);

impl TestDir {
    pub fn new() -> TestDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "passage-auth-server-test-{}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&path).unwrap();
        TestDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn data(&self) -> PathBuf {
        self.0.join("data")
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Server {
    child: Option<Child>,
    pub port: u16,
    pub base: String,
    stderr: Arc<Mutex<String>>,
    stderr_done: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Starts a server on a free port with data in `dir`.
    pub fn start(dir: &TestDir, extra: &[&str]) -> Server {
        Server::start_at(dir, "127.0.0.1:0", extra)
    }

    pub fn start_at(dir: &TestDir, addr: &str, extra: &[&str]) -> Server {
        let mut args = vec!["--addr", addr];
        let data = dir.data();
        let data = data.to_str().unwrap();
        args.extend(["--data", data]);
        args.extend(extra);
        Server::spawn(Command::new(BIN).args(&args).current_dir(dir.path()))
    }

    pub fn spawn(command: &mut Command) -> Server {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .expect("start the server binary");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Anything more on stdout is a bug the tests look for.
            for line in lines.map_while(Result::ok) {
                eprintln!("unexpected server stdout: {line}");
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_done = {
            let stderr = Arc::clone(&stderr);
            let pipe = child.stderr.take().unwrap();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut s = stderr.lock().unwrap();
                    s.push_str(&line);
                    s.push('\n');
                }
            })
        };
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "server did not print its address; stderr:\n{}",
                    stderr.lock().unwrap()
                );
            }
        };
        let base = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        let port = base.rsplit(':').next().unwrap().parse().unwrap();
        Server {
            child: Some(child),
            port,
            base,
            stderr,
            stderr_done: Some(stderr_done),
        }
    }

    /// Stops the server with SIGTERM and waits for it.
    pub fn stop(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM)
    }

    pub fn signal(&mut self, signal: libc::c_int) -> ExitStatus {
        let mut child = self.child.take().expect("server already stopped");
        let pid = libc::pid_t::try_from(child.id()).unwrap();
        // SAFETY: kill(2) with the pid of our own child, which has not been
        // reaped yet (so the pid cannot have been reused).
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                if let Some(t) = self.stderr_done.take() {
                    let _ = t.join();
                }
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("server did not stop after signal {signal}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        http(self.port, method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], None)
    }

    pub fn get_auth(&self, path: &str, bearer: &str) -> Response {
        let auth = format!("Bearer {bearer}");
        self.request("GET", path, &[("Authorization", &auth)], None)
    }

    pub fn post_json(&self, path: &str, body: &Value) -> Response {
        self.request(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            Some(body.to_string().as_bytes()),
        )
    }

    pub fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Response {
        let auth = format!("Bearer {ADMIN_KEY}");
        let body = body.map(|b| b.to_string());
        self.request(
            method,
            path,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.as_deref().map(str::as_bytes),
        )
    }

    /// Creates or updates an app; returns its settings.
    pub fn put_app(&self, app: &str, settings: Value) -> Value {
        let r = self.admin("PUT", &format!("/admin/apps/{app}"), Some(settings));
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["app"].clone()
    }

    pub fn set_clock(&self, app: Option<&str>, offset: i64) {
        let mut body = json!({ "offset_secs": offset });
        if let Some(app) = app {
            body["app"] = json!(app);
        }
        let r = self.admin("POST", "/admin/clock", Some(body));
        assert_eq!(r.status, 200, "{}", r.text());
    }

    pub fn add_fault(&self, fault: Value) {
        let r = self.admin("POST", "/admin/faults", Some(fault));
        assert_eq!(r.status, 200, "{}", r.text());
    }

    pub fn stats(&self, app: &str) -> Value {
        let r = self.admin("GET", &format!("/admin/stats?app={app}"), None);
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }

    /// `GET /admin/db[?app=X]`: row counts, file sizes, the purge's record.
    pub fn db(&self, app: Option<&str>) -> Value {
        let path = match app {
            Some(app) => format!("/admin/db?app={app}"),
            None => "/admin/db".to_owned(),
        };
        let r = self.admin("GET", &path, None);
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }

    /// Waits until two more background purges have completed, so that one
    /// whole purge started after this call (at most `deadline`).
    pub fn wait_for_purges(&self, deadline: Duration) {
        let runs = |s: &Server| s.db(None)["purge"]["runs"].as_u64().unwrap();
        let target = runs(self) + 2;
        let end = Instant::now() + deadline;
        while runs(self) < target {
            assert!(
                Instant::now() < end,
                "no background purge within {deadline:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Logs in through the demo endpoint; returns the `auth_result`.
    pub fn login(&self, app: &str, email: &str) -> Value {
        let r = self.post_json(
            &format!("/v1/apps/{app}/demo/login"),
            &json!({ "identifier": email }),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["auth_result"].clone()
    }

    pub fn refresh(&self, app: &str, refresh_token: &str) -> Response {
        self.post_json(
            &format!("/v1/apps/{app}/tokens"),
            &json!({ "refresh_token": refresh_token }),
        )
    }

    /// Refreshes and expects success; returns the `auth_result`.
    pub fn refresh_ok(&self, app: &str, refresh_token: &str) -> Value {
        let r = self.refresh(app, refresh_token);
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["auth_result"].clone()
    }

    pub fn revoke(&self, app: &str, refresh_token: &str) -> Response {
        let encoded: String = form_urlencoded::byte_serialize(refresh_token.as_bytes()).collect();
        self.request(
            "DELETE",
            &format!("/v1/apps/{app}/tokens?refresh_token={encoded}"),
            &[],
            None,
        )
    }

    pub fn current_user(&self, app: &str, jwt: &str) -> Response {
        self.get_auth(&format!("/v1/apps/{app}/currentuser"), jwt)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// Asserts the JSON error shape and returns its `code`.
    pub fn error_code(&self) -> String {
        let body = self.json();
        assert!(
            body["error"].is_string(),
            "error body without message: {body}"
        );
        body["code"]
            .as_str()
            .unwrap_or_else(|| panic!("error body without code: {body}"))
            .to_owned()
    }
}

/// `POST /v1/apps/demo/tokens` with `token`, on a fresh connection.
pub fn refresh_demo(port: u16, token: &str) -> std::io::Result<Response> {
    let body = serde_json::json!({ "refresh_token": token }).to_string();
    http(
        port,
        "POST",
        "/v1/apps/demo/tokens",
        &[("Content-Type", "application/json")],
        Some(body.as_bytes()),
    )
}

/// One request on a fresh connection (`Connection: close`); an error when
/// the server closed the connection without answering.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut request = head.into_bytes();
    request.extend_from_slice(body.unwrap_or_default());
    stream.write_all(&request)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> std::io::Result<Response> {
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    if raw.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed without a response",
        ));
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| invalid("incomplete response head"))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| invalid("head not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body).ok_or_else(|| invalid("bad chunked body"))?;
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// The claims of a JWT, read without verification (as the client does).
pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT has three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Runs a CLI subcommand of the binary.
pub fn cli(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().unwrap()
}

/// A signed-in user of an app.
pub struct Session {
    pub app: String,
    pub jwt: String,
    pub user_id: String,
}

/// Signs `email` in to `app` with the demo login.
pub fn sign_in(server: &Server, app: &str, email: &str) -> Session {
    let result = server.login(app, email);
    let jwt = result["auth_token"].as_str().unwrap().to_owned();
    let user_id = claims(&jwt)["sub"].as_str().unwrap().to_owned();
    Session {
        app: app.to_owned(),
        jwt,
        user_id,
    }
}

/// `method` on `/v1/apps/{app}/currentuser{path}` as the signed-in user.
pub fn call(
    server: &Server,
    s: &Session,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Response {
    let auth = format!("Bearer {}", s.jwt);
    let body = body.map(|b| b.to_string());
    server.request(
        method,
        &format!("/v1/apps/{}/currentuser{path}", s.app),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body.as_deref().map(str::as_bytes),
    )
}
