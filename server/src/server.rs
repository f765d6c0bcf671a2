//! Start-up, routing, the connection loop and shutdown.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::Notify;
use tower::ServiceExt;

use crate::config::{FileConfig, Overrides, Settings};
use crate::db::{Db, DB_FILE};
use crate::jwt::Signer;
use crate::long_uri::{self, TooLong};
use crate::purge::{self, Purger};
use crate::state::{AppState, SharedState};
use crate::static_files::StaticDirs;
use crate::{account, admin, api, cors, error, passkeys, static_files, store};

/// Request bodies larger than this are refused with 413 (a megabyte-long
/// value still gets a proper answer from the handler).
const BODY_LIMIT: usize = 2 * 1024 * 1024;
/// Room for a megabyte-long URL or header, so absurd input reaches the
/// handlers and gets a JSON answer instead of hyper's bare 431.
const MAX_HEAD_SIZE: usize = 4 * 1024 * 1024;
/// How long a stop waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    pub data: PathBuf,
    pub www: Option<PathBuf>,
    pub pkg: Option<PathBuf>,
    pub overrides: Overrides,
}

/// Lets a handler close the connection its request came on, without any
/// response (the `drop` fault), or hold its answer back once it is ready
/// (the `late` fault).
#[derive(Clone)]
pub struct ConnHandle {
    kill: Arc<Notify>,
    hold: Arc<Mutex<Option<Duration>>>,
}

impl ConnHandle {
    pub fn close(&self) {
        self.kill.notify_one();
    }

    /// Sends the answer to this connection's request `delay` after it is
    /// ready (the request is handled at once).
    pub fn hold_reply(&self, delay: Duration) {
        *self.hold.lock().unwrap_or_else(|p| p.into_inner()) = Some(delay);
    }

    fn take_hold(&self) -> Option<Duration> {
        self.hold.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

pub fn run(options: ServeOptions) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(serve(options))
}

async fn serve(options: ServeOptions) -> Result<(), String> {
    prepare_data_dir(&options.data)?;
    let settings = Settings::resolve(FileConfig::load(&options.data)?, options.overrides.clone())?;
    let static_dirs = static_dirs(&options)?;

    // Registered before the "listening on" line, so that a signal sent as
    // soon as the line is read is not lost.
    let mut sigterm = signal(SignalKind::terminate()).map_err(|e| format!("signals: {e}"))?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(|e| format!("signals: {e}"))?;

    let listener = TcpListener::bind(options.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.addr))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot listen on {}: {e}", options.addr))?;
    let base_url = settings
        .public_url
        .clone()
        .unwrap_or_else(|| base_url_for(local));

    let data_dir = options.data.clone();
    let config_apps = settings.apps.clone();
    let (db, signer, apps) = tokio::task::spawn_blocking(move || {
        let db = Db::open(&data_dir.join(DB_FILE))?;
        let signer = Signer::load_or_create(&data_dir)?;
        let now = crate::util::system_now();
        let apps = db
            .write(|tx| {
                for app in &config_apps {
                    store::upsert_app(tx, app, now)?;
                }
                store::load_apps(tx)
            })
            .map_err(|e| format!("cannot set up database: {e}"))?;
        Ok::<_, String>((db, signer, apps))
    })
    .await
    .map_err(|e| e.to_string())??;

    let state: SharedState = Arc::new(AppState {
        db: Arc::new(db),
        signer: Arc::new(signer),
        apps: RwLock::new(
            apps.into_iter()
                .map(|a| (a.id.clone(), a))
                .collect::<HashMap<_, _>>(),
        ),
        clock: Default::default(),
        faults: Default::default(),
        stats: Default::default(),
        admin_key: settings.admin_key.clone(),
        base_url,
        origins: settings.origins.clone(),
        static_dirs,
        reuse_grace: settings.reuse_grace,
        purge: Purger::new(settings.retention, settings.purge_interval),
    });
    let app_ids: Vec<String> = state.all_apps().into_iter().map(|a| a.id).collect();
    eprintln!(
        "data: {}; apps: {}; www: {}; pkg: {}",
        options.data.display(),
        app_ids.join(", "),
        display_opt(&state.static_dirs.www),
        display_opt(&state.static_dirs.pkg),
    );
    if state.purge.interval > 0 {
        tokio::spawn(purge::background(Arc::clone(&state)));
    }
    let purger = Arc::clone(&state);
    let router = router(state);

    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{local}").map_err(|e| e.to_string())?;
        stdout.flush().map_err(|e| e.to_string())?;
    }

    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    // One request per connection: a browser silently resends a request
    // whose *reused* connection closed without an answer, which would turn a
    // `drop` fault into a success. Fresh connections make drops visible, and
    // cost nothing on loopback.
    http.timer(TokioTimer::new())
        .keep_alive(false)
        .header_read_timeout(Duration::from_secs(30))
        .max_buf_size(MAX_HEAD_SIZE);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(e) => {
                        // Typically out of file descriptors: back off briefly.
                        eprintln!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let kill = Arc::new(Notify::new());
                let handle = ConnHandle {
                    kill: Arc::clone(&kill),
                    hold: Arc::default(),
                };
                let router = router.clone();
                let http = http.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    // A URL over hyper's limit would get hyper's bare 414:
                    // the request line is read here first (see long_uri).
                    let Ok((stream, too_long)) = long_uri::read_request_line(stream).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                        req.extensions_mut().insert(handle.clone());
                        if let Some(too_long) = &too_long {
                            req.extensions_mut().insert(too_long.clone());
                        }
                        let handled = router.clone().oneshot(req.map(Body::new));
                        let handle = handle.clone();
                        async move {
                            let response = handled.await;
                            if let Some(delay) = handle.take_hold() {
                                tokio::time::sleep(delay).await;
                            }
                            response
                        }
                    });
                    let connection = watcher.watch(http.serve_connection(TokioIo::new(stream), service));
                    tokio::select! {
                        // Errors here are clients going away; nothing to do.
                        _ = connection => {}
                        // Dropping the connection closes the socket at once.
                        _ = kill.notified() => {}
                    }
                });
            }
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
        }
    }
    drop(listener);
    eprintln!("shutting down");
    purger.purge.stop();
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!("requests still in flight after {SHUTDOWN_GRACE:?}; stopping anyway");
    }
    Ok(())
}

fn base_url_for(addr: SocketAddr) -> String {
    let ip = addr.ip();
    if ip.is_unspecified() {
        format!("http://127.0.0.1:{}", addr.port())
    } else {
        format!("http://{addr}")
    }
}

fn display_opt(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "-".into())
}

/// Creates the data directory and checks that it is writable, so that a bad
/// `--data` fails at start with a clear message.
fn prepare_data_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create data directory {}: {e}", dir.display()))?;
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"")
        .and_then(|_| std::fs::remove_file(&probe))
        .map_err(|e| format!("data directory {} is not writable: {e}", dir.display()))
}

/// `--www`/`--pkg` when given (they must exist), else `./www` and `./pkg`
/// when they exist.
fn static_dirs(options: &ServeOptions) -> Result<StaticDirs, String> {
    fn pick(flag: &Option<PathBuf>, default: &str, name: &str) -> Result<Option<PathBuf>, String> {
        match flag {
            Some(dir) if dir.is_dir() => Ok(Some(dir.clone())),
            Some(dir) => Err(format!("{name} {}: not a directory", dir.display())),
            None => Ok(Some(PathBuf::from(default)).filter(|d| d.is_dir())),
        }
    }
    Ok(StaticDirs {
        www: pick(&options.www, "www", "--www")?,
        pkg: pick(&options.pkg, "pkg", "--pkg")?,
    })
}

pub fn router(state: SharedState) -> Router {
    let v1 = Router::new()
        .route(
            "/v1/apps/{app}/tokens",
            post(api::refresh).delete(api::revoke),
        )
        .route(
            "/v1/apps/{app}/tokens/",
            post(api::refresh).delete(api::revoke),
        )
        .route("/v1/apps/{app}/currentuser", get(api::current_user))
        .merge(account_routes())
        .route("/v1/apps/{app}/demo/login", post(api::demo_login))
        .route("/v1/apps/{app}/demo/api/hello", get(api::demo_hello))
        .route("/v1/apps/{app}/.well-known/jwks.json", get(api::jwks));
    let admin = Router::new()
        .route("/admin/apps", get(admin::list_apps))
        .route("/admin/apps/{app}", get(admin::get_app).put(admin::put_app))
        .route("/admin/apps/{app}/users/{user}", get(admin::get_user))
        .merge(account_admin_routes())
        .route(
            "/admin/apps/{app}/users/{user}/{action}",
            post(admin::user_action),
        )
        .route(
            "/admin/faults",
            post(admin::add_fault)
                .get(admin::list_faults)
                .delete(admin::clear_faults),
        )
        .route("/admin/stats", get(admin::get_stats))
        .route("/admin/stats/reset", post(admin::reset_stats))
        .route("/admin/clock", get(admin::get_clock).post(admin::set_clock))
        .route("/admin/db", get(admin::get_db))
        .route("/admin/purge", post(admin::run_purge))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            admin::require_admin_key,
        ));
    Router::new()
        .merge(v1)
        .merge(admin)
        .route("/healthz", get(|| async { Json(json!({ "ok": true })) }))
        .fallback(static_files::serve)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(error::json_errors))
        .layer(middleware::from_fn(long_uri::refuse))
        .layer(middleware::from_fn_with_state(state.clone(), cors::cors))
        .layer(middleware::from_fn(log_requests))
        .with_state(state)
}

/// The signed-in user's account endpoints (passage-js's `currentUser`).
fn account_routes() -> Router<SharedState> {
    let base = "/v1/apps/{app}/currentuser";
    Router::new()
        .route(&format!("{base}/email"), patch(account::change_email))
        .route(&format!("{base}/phone"), patch(account::change_phone))
        .route(
            &format!("{base}/user-metadata"),
            get(account::get_metadata).patch(account::update_metadata),
        )
        .route(
            &format!("{base}/social-connections"),
            get(account::list_social),
        )
        .route(
            &format!("{base}/social-connections/{{type}}"),
            delete(account::delete_social),
        )
        .route(&format!("{base}/devices"), get(passkeys::list_devices))
        .route(&format!("{base}/devices/start"), post(passkeys::start))
        .route(&format!("{base}/devices/finish"), post(passkeys::finish))
        .route(
            &format!("{base}/devices/{{device}}"),
            patch(passkeys::update_device).delete(passkeys::delete_device),
        )
}

/// The local stand-ins for the mailbox and the OAuth providers.
fn account_admin_routes() -> Router<SharedState> {
    Router::new()
        .route(
            "/admin/apps/{app}/magic-links",
            get(account::admin_list_magic_links),
        )
        .route(
            "/admin/apps/{app}/magic-links/{link}/open",
            post(account::admin_open_magic_link),
        )
        .route(
            "/admin/apps/{app}/users/{user}/social-connections",
            post(account::admin_seed_social),
        )
}

/// Writes one line per request to stderr: method, path (never the query
/// string, which may hold a refresh token), status and duration.
async fn log_requests(req: Request, next: Next) -> Response {
    let path = match req.extensions().get::<TooLong>() {
        Some(too_long) => format!("{}… ({} bytes)", too_long.path, too_long.len),
        None => crate::util::truncate(req.uri().path(), 200),
    };
    let mut entry = LogEntry {
        method: req.method().clone(),
        path,
        start: Instant::now(),
        status: None,
    };
    let response = next.run(req).await;
    entry.status = Some(response.status().as_u16());
    response
}

struct LogEntry {
    method: Method,
    path: String,
    start: Instant,
    status: Option<u16>,
}

/// Logged on drop, so that a request whose connection was closed under it
/// (a `drop` fault, a client that gave up) is logged too.
impl Drop for LogEntry {
    fn drop(&mut self) {
        let status = match self.status {
            Some(status) => status.to_string(),
            None => "closed".to_owned(),
        };
        eprintln!(
            "{} {} {} {} {}ms",
            crate::util::rfc3339(crate::util::system_now()),
            self.method,
            self.path,
            status,
            self.start.elapsed().as_millis()
        );
    }
}
