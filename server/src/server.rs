//! Start-up, the connection loop and shutdown.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tower::ServiceExt;

use crate::config::{FileConfig, ServeOptions, Settings, StaticDirs};
use crate::conn::ConnHandle;
use crate::db::{Db, DB_FILE};
use crate::jwt::Signer;
use crate::long_uri;
use crate::purge::Purger;
use crate::routes::router;
use crate::state::{AppState, SharedState};
use crate::store;

/// Room for a megabyte-long URL or header, so absurd input reaches the
/// handlers and gets a JSON answer instead of hyper's bare 431.
const MAX_HEAD_SIZE: usize = 4 * 1024 * 1024;
/// How long a stop waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

pub fn run(options: ServeOptions) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(serve(options))
}

/// Starts, prints `listening on http://ADDR`, serves until SIGINT or
/// SIGTERM, then stops cleanly.
async fn serve(options: ServeOptions) -> Result<(), String> {
    prepare_data_dir(&options.data)?;
    let settings = Settings::resolve(FileConfig::load(&options.data)?, options.overrides.clone())?;
    // Refused before anything listens; the warning once the port is known.
    settings.exposure(options.addr)?;
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
    if let Some(warning) = settings.exposure(local)? {
        eprintln!("{warning}");
    }
    let state = open_state(&options.data, settings, static_dirs, local).await?;
    let app_ids: Vec<String> = state.all_apps().into_iter().map(|a| a.id).collect();
    eprintln!(
        "data: {}; apps: {}; www: {}; pkg: {}",
        options.data.display(),
        app_ids.join(", "),
        display_opt(&state.static_dirs.www),
        display_opt(&state.static_dirs.pkg),
    );
    if state.purge.interval > 0 {
        tokio::spawn(Arc::clone(&state).purge_in_background());
    }
    let router = router(Arc::clone(&state));
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{local}").map_err(|e| e.to_string())?;
        stdout.flush().map_err(|e| e.to_string())?;
    }

    let graceful = GracefulShutdown::new();
    let http = http_builder();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let connection = serve_connection(stream, router.clone(), http.clone(), graceful.watcher());
                    tokio::spawn(connection);
                }
                Err(e) => {
                    // Typically out of file descriptors: back off briefly.
                    eprintln!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
        }
    }
    drop(listener);
    eprintln!("shutting down");
    state.purge.stop();
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!("requests still in flight after {SHUTDOWN_GRACE:?}; stopping anyway");
    }
    Ok(())
}

/// Opens the database (bringing it up to date) and the signing key, stores
/// the configured apps, and puts the state together.
async fn open_state(
    data: &Path,
    settings: Settings,
    static_dirs: StaticDirs,
    local: SocketAddr,
) -> Result<SharedState, String> {
    let data_dir = data.to_owned();
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
    Ok(Arc::new(AppState {
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
        base_url: settings.public_url.unwrap_or_else(|| base_url_for(local)),
        admin_key: settings.admin_key,
        origins: settings.origins,
        static_dirs,
        reuse_grace: settings.reuse_grace,
        purge: Purger::new(settings.retention, settings.purge_interval),
    }))
}

/// HTTP/1.1, one request per connection: a browser silently resends a
/// request whose *reused* connection closed without an answer, which would
/// turn a `drop` fault into a success. Fresh connections make drops
/// visible, and cost nothing on loopback.
fn http_builder() -> http1::Builder {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .keep_alive(false)
        .header_read_timeout(Duration::from_secs(30))
        .max_buf_size(MAX_HEAD_SIZE);
    http
}

/// Serves the one request of a connection, with a [`ConnHandle`] in its
/// extensions: a `drop` fault closes the connection under it, a `late` one
/// holds its answer back.
async fn serve_connection(
    stream: TcpStream,
    router: Router,
    http: http1::Builder,
    watcher: Watcher,
) {
    let _ = stream.set_nodelay(true);
    // A URL over hyper's limit would get hyper's bare 414: the request line
    // is read here first (see long_uri).
    let Ok((stream, too_long)) = long_uri::read_request_line(stream).await else {
        return;
    };
    let handle = ConnHandle::default();
    let conn = handle.clone();
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(conn.clone());
        if let Some(too_long) = &too_long {
            req.extensions_mut().insert(too_long.clone());
        }
        let handled = router.clone().oneshot(req.map(Body::new));
        let conn = conn.clone();
        async move {
            let response = handled.await;
            if let Some(delay) = conn.take_hold() {
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
        _ = handle.closed() => {}
    }
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
