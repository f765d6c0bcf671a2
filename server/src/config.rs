//! Server settings: defaults, `DATA_DIR/config.json`, and command-line
//! overrides, merged in that order of increasing precedence; and what
//! follows from an app's settings alone (its passkey RP ID and origins).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use webauthn_rp::request::AsciiDomain;

use crate::metadata::{self, MetadataField};
use crate::util::truncate;

pub const DEMO_APP: &str = "demo";
pub const DEFAULT_ADMIN_KEY: &str = "local-admin-key";
/// Off loopback, a shorter admin key (or the default one) is refused unless
/// the operator says so (`--allow-insecure-admin-key`).
pub const MIN_ADMIN_KEY_LEN: usize = 24;
pub const DEFAULT_AUTH_TOKEN_LIFETIME: u64 = 300;
pub const DEFAULT_SESSION_EXPIRATION: u64 = 30 * 24 * 3600;
pub const DEFAULT_INACTIVITY_TIMEOUT: u64 = 7 * 24 * 3600;
/// Upper bound for every duration setting (ten years), so that adding it to a
/// timestamp can never overflow and absurd values are refused.
pub const MAX_DURATION: u64 = 10 * 365 * 24 * 3600;
/// The longest rotation grace period (`reuse_grace`): five minutes, as Ory
/// Hydra allows; Okta and Cognito stop at 60 seconds. It is a window in which
/// a stolen, already rotated token still works, so it stays short.
pub const MAX_REUSE_GRACE: u64 = 300;
/// How long a dead refresh token (rotated away, or of a session that ended)
/// is remembered, by default: one day.
pub const DEFAULT_RETENTION: u64 = 24 * 3600;
/// How often the background purge runs, by default.
pub const DEFAULT_PURGE_INTERVAL: u64 = 60;
/// The longest purge interval (a day); 0 turns the background purge off.
pub const MAX_PURGE_INTERVAL: u64 = 24 * 3600;
pub const CONFIG_FILE: &str = "config.json";

/// The session settings of one app, as in Passage's console
/// (Authentication → Session Management).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppSettings {
    pub id: String,
    /// Lifetime of an auth token (JWT), seconds.
    pub auth_token_lifetime: u64,
    /// Absolute session length from login, seconds (`refresh_token_expiration`).
    pub session_expiration: u64,
    /// A refresh token unused for this long is refused, seconds.
    pub inactivity_timeout: u64,
    /// The app's web origin, first entry of the JWT `aud`; `None` means the
    /// server's own base URL.
    pub origin: Option<String>,
    /// Passkeys: the WebAuthn RP ID; `None` derives it from the origin
    /// (see [`rp_id`]).
    pub rp_id: Option<String>,
    /// Passkeys: the origins accepted in `clientDataJSON`; empty derives
    /// them from the origin.
    pub webauthn_origins: Vec<String>,
    /// The user-metadata fields the app declares.
    pub user_metadata_schema: Vec<MetadataField>,
    /// Rotation grace period, seconds (0: strict reuse detection); `None`
    /// means the server's `--reuse-grace`.
    pub reuse_grace: Option<u64>,
}

impl AppSettings {
    pub fn with_defaults(id: &str) -> Self {
        AppSettings {
            id: id.to_owned(),
            auth_token_lifetime: DEFAULT_AUTH_TOKEN_LIFETIME,
            session_expiration: DEFAULT_SESSION_EXPIRATION,
            inactivity_timeout: DEFAULT_INACTIVITY_TIMEOUT,
            origin: None,
            rp_id: None,
            webauthn_origins: Vec::new(),
            user_metadata_schema: Vec::new(),
            reuse_grace: None,
        }
    }

    /// The grace period in force: the app's own, else the server's.
    pub fn reuse_grace_or(&self, server_default: u64) -> u64 {
        self.reuse_grace.unwrap_or(server_default)
    }

    /// Applies the fields present in `patch`. An empty `origin` resets it to
    /// the default.
    pub fn apply(&mut self, patch: &AppPatch) {
        if let Some(v) = patch.auth_token_lifetime {
            self.auth_token_lifetime = v;
        }
        if let Some(v) = patch.session_expiration {
            self.session_expiration = v;
        }
        if let Some(v) = patch.inactivity_timeout {
            self.inactivity_timeout = v;
        }
        if let Some(v) = patch.reuse_grace {
            self.reuse_grace = Some(v);
        }
        if let Some(origin) = &patch.origin {
            self.origin = if origin.is_empty() {
                None
            } else {
                Some(origin.trim_end_matches('/').to_owned())
            };
        }
        if let Some(rp_id) = &patch.rp_id {
            self.rp_id = Some(rp_id.to_ascii_lowercase()).filter(|r| !r.is_empty());
        }
        if let Some(origins) = &patch.webauthn_origins {
            self.webauthn_origins = origins
                .iter()
                .map(|o| o.trim_end_matches('/').to_owned())
                .collect();
        }
        if let Some(schema) = &patch.user_metadata_schema {
            self.user_metadata_schema = schema.clone();
        }
    }
}

/// A partial update of an app's settings: the shape of an app entry in
/// `config.json` and of the body of `PUT /admin/apps/{app}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppPatch {
    pub auth_token_lifetime: Option<u64>,
    pub session_expiration: Option<u64>,
    pub inactivity_timeout: Option<u64>,
    pub origin: Option<String>,
    /// `""` resets it to the default.
    pub rp_id: Option<String>,
    /// `[]` resets them to the default.
    pub webauthn_origins: Option<Vec<String>>,
    /// Replaces the whole schema.
    pub user_metadata_schema: Option<Vec<MetadataField>>,
    pub reuse_grace: Option<u64>,
}

impl AppPatch {
    pub fn validate(&self) -> Result<(), String> {
        for (name, value) in [
            ("auth_token_lifetime", self.auth_token_lifetime),
            ("session_expiration", self.session_expiration),
            ("inactivity_timeout", self.inactivity_timeout),
        ] {
            if let Some(v) = value {
                if v == 0 || v > MAX_DURATION {
                    return Err(format!(
                        "{name} must be between 1 and {MAX_DURATION} seconds"
                    ));
                }
            }
        }
        if let Some(origin) = &self.origin {
            if !origin.is_empty() {
                validate_origin(origin)?;
            }
        }
        if let Some(rp_id) = &self.rp_id {
            if !rp_id.is_empty() {
                validate_rp_id(rp_id)?;
            }
        }
        for origin in self.webauthn_origins.iter().flatten() {
            validate_origin(origin)?;
        }
        if let Some(schema) = &self.user_metadata_schema {
            metadata::validate_schema(schema)?;
        }
        if let Some(v) = self.reuse_grace {
            validate_reuse_grace("reuse_grace", v)?;
        }
        Ok(())
    }
}

pub fn validate_reuse_grace(name: &str, v: u64) -> Result<(), String> {
    if v > MAX_REUSE_GRACE {
        return Err(format!(
            "{name} must be between 0 (strict) and {MAX_REUSE_GRACE} seconds"
        ));
    }
    Ok(())
}

fn validate_retention(name: &str, v: u64) -> Result<(), String> {
    if v > MAX_DURATION {
        return Err(format!(
            "{name} must be between 0 and {MAX_DURATION} seconds"
        ));
    }
    Ok(())
}

fn validate_purge_interval(name: &str, v: u64) -> Result<(), String> {
    if v > MAX_PURGE_INTERVAL {
        return Err(format!(
            "{name} must be between 0 (off) and {MAX_PURGE_INTERVAL} seconds"
        ));
    }
    Ok(())
}

/// An origin is `scheme://host[:port]`, nothing more.
pub fn validate_origin(origin: &str) -> Result<(), String> {
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    let ok = match rest {
        Some(host) => {
            let host = host.trim_end_matches('/');
            !host.is_empty()
                && host.len() <= 255
                && !host.contains(['/', '?', '#', ' ', '@'])
                && host.chars().all(|c| c.is_ascii_graphic())
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid origin {:?}: expected http(s)://host[:port]",
            truncate(origin, 100)
        ))
    }
}

/// Checks an RP ID setting: an ASCII domain such as `localhost` or
/// `example.com`.
pub fn validate_rp_id(rp_id: &str) -> Result<(), String> {
    if rp_id.len() > 253 || rp_id.contains(['/', ':']) {
        return Err(format!(
            "invalid rp_id {:?}: expected a domain such as example.com",
            truncate(rp_id, 100)
        ));
    }
    AsciiDomain::try_from(rp_id.to_owned())
        .map(|_| ())
        .map_err(|e| format!("invalid rp_id {rp_id:?}: {e}"))
}

/// The host of `scheme://host[:port]`, brackets kept for IPv6.
fn origin_host(origin: &str) -> Option<&str> {
    let rest = origin.split_once("://")?.1;
    if rest.starts_with('[') {
        return rest.find(']').map(|end| &rest[..=end]);
    }
    Some(rest.split(':').next().unwrap_or(rest))
}

fn is_loopback_ip(host: &str) -> bool {
    host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The app's passkey RP ID: its `rp_id` setting, else the host of its
/// origin (`origin`: the app's own, else the server's), where a loopback IP
/// becomes `localhost` (browsers refuse WebAuthn on IPs).
pub fn rp_id(app: &AppSettings, origin: &str) -> String {
    if let Some(rp_id) = &app.rp_id {
        return rp_id.clone();
    }
    match origin_host(origin) {
        Some(host) if is_loopback_ip(host) => "localhost".to_owned(),
        Some(host) => host.to_owned(),
        None => "localhost".to_owned(),
    }
}

/// The origins a passkey ceremony may come from: the app's
/// `webauthn_origins` setting, else its origin, plus that origin with
/// `localhost` for its host when it is a loopback IP and the RP ID is
/// `localhost`.
pub fn allowed_origins(app: &AppSettings, origin: &str) -> Vec<String> {
    if !app.webauthn_origins.is_empty() {
        return app.webauthn_origins.clone();
    }
    let mut origins = vec![origin.to_owned()];
    if let Some(host) = origin_host(origin) {
        if is_loopback_ip(host) && rp_id(app, origin) == "localhost" {
            origins.push(origin.replacen(host, "localhost", 1));
        }
    }
    origins
}

/// App ids are used in URLs and as the last path segment of `iss`.
pub fn valid_app_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The content of `DATA_DIR/config.json`; every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub admin_key: Option<String>,
    /// Start off loopback even with the default or a short admin key.
    pub allow_insecure_admin_key: Option<bool>,
    /// Extra CORS origins (`"*"` allows any origin).
    #[serde(default)]
    pub origins: Vec<String>,
    /// The base URL used in `iss` and as the default app origin, when the
    /// server is reached through another name than its listening address.
    pub public_url: Option<String>,
    /// Default rotation grace period of every app that sets none.
    pub reuse_grace: Option<u64>,
    /// How long dead refresh tokens are remembered before the purge.
    pub retention: Option<u64>,
    /// Seconds between background purges (0: off).
    pub purge_interval: Option<u64>,
    #[serde(default)]
    pub apps: BTreeMap<String, AppPatch>,
}

impl FileConfig {
    /// Reads `dir/config.json`; a missing file is an empty configuration.
    pub fn load(dir: &Path) -> Result<Self, String> {
        let path = dir.join(CONFIG_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let config: FileConfig = serde_json::from_str(&text)
            .map_err(|e| format!("invalid config file {}: {e}", path.display()))?;
        config
            .validate()
            .map_err(|e| format!("invalid config file {}: {e}", path.display()))?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        if matches!(&self.admin_key, Some(k) if k.is_empty()) {
            return Err("admin_key must not be empty".into());
        }
        for origin in &self.origins {
            if origin != "*" {
                validate_origin(origin)?;
            }
        }
        if let Some(url) = &self.public_url {
            validate_origin(url)?;
        }
        if let Some(v) = self.reuse_grace {
            validate_reuse_grace("reuse_grace", v)?;
        }
        if let Some(v) = self.retention {
            validate_retention("retention", v)?;
        }
        if let Some(v) = self.purge_interval {
            validate_purge_interval("purge_interval", v)?;
        }
        for (id, patch) in &self.apps {
            if !valid_app_id(id) {
                return Err(format!(
                    "invalid app id {id:?}: use 1 to 64 letters, digits, '-' or '_'"
                ));
            }
            patch.validate().map_err(|e| format!("app {id}: {e}"))?;
        }
        Ok(())
    }
}

/// The `serve` command's options (the flags).
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    pub data: PathBuf,
    pub www: Option<PathBuf>,
    pub pkg: Option<PathBuf>,
    pub overrides: Overrides,
}

/// The directories of static files: the demo (`--www`, served at `/`) and
/// the built package (`--pkg`, served at `/pkg/`).
#[derive(Debug, Clone, Default)]
pub struct StaticDirs {
    pub www: Option<PathBuf>,
    pub pkg: Option<PathBuf>,
}

/// Everything the server needs to know at start, after merging defaults,
/// the config file and the flags.
#[derive(Debug, Clone)]
pub struct Settings {
    pub admin_key: String,
    /// Off loopback, accept the default or a short admin key.
    pub allow_insecure_admin_key: bool,
    pub origins: Vec<String>,
    pub public_url: Option<String>,
    /// Apps declared by configuration: always `demo`, plus those of the
    /// config file. Apps created at run time live in the database only.
    pub apps: Vec<AppSettings>,
    /// Rotation grace period of the apps that set none, seconds.
    pub reuse_grace: u64,
    /// How long a dead refresh token is remembered, seconds.
    pub retention: u64,
    /// Seconds between background purges; 0: no background purge.
    pub purge_interval: u64,
}

/// Command-line values that override the config file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub admin_key: Option<String>,
    /// `--allow-insecure-admin-key` was given.
    pub allow_insecure_admin_key: bool,
    pub origins: Vec<String>,
    pub public_url: Option<String>,
    pub demo: AppPatch,
    pub reuse_grace: Option<u64>,
    pub retention: Option<u64>,
    pub purge_interval: Option<u64>,
}

impl Settings {
    /// Whether the server may listen on `addr` with these settings. On
    /// loopback (127.0.0.0/8, ::1): yes, silently. Elsewhere, anyone who
    /// can reach the address can reach the demo login and the admin API:
    /// it is refused (`Err`, what to do) while the admin key is the default
    /// one or shorter than [`MIN_ADMIN_KEY_LEN`], unless allowed
    /// explicitly; otherwise `Ok(Some(warning))`, what the address exposes.
    pub fn exposure(&self, addr: SocketAddr) -> Result<Option<String>, String> {
        if addr.ip().to_canonical().is_loopback() {
            return Ok(None);
        }
        let weak_key = if self.admin_key == DEFAULT_ADMIN_KEY {
            Some("the default admin key".to_owned())
        } else if self.admin_key.chars().count() < MIN_ADMIN_KEY_LEN {
            Some(format!(
                "an admin key shorter than {MIN_ADMIN_KEY_LEN} characters"
            ))
        } else {
            None
        };
        if let (Some(weak_key), false) = (&weak_key, self.allow_insecure_admin_key) {
            return Err(format!(
                "refusing to listen on {addr}, which is not a loopback address, with \
                 {weak_key}: anyone who can reach it could use the admin API (sign users \
                 out, deactivate them, shift the clock, inject faults). Give an admin key \
                 of at least {MIN_ADMIN_KEY_LEN} characters (--admin-key, or admin_key in \
                 config.json), or pass --allow-insecure-admin-key if everyone who can \
                 reach this address is trusted"
            ));
        }
        let mut warning = format!(
            "warning: {addr} is not a loopback address; whoever can reach it can\n\
             \x20 - sign in as any user by email alone, with no password or code \
             (the demo login, POST /v1/apps/APP/demo/login);\n\
             \x20 - with the admin key, use the admin API (/admin): sign users out, \
             deactivate them, change apps, open magic links, shift the clock;\n\
             \x20 - with the admin key, inject faults (POST /admin/faults) that make \
             other clients' requests fail, hang or lose their answers.\n\
             This server is for demos and tests: keep it on a network you trust."
        );
        if let Some(weak_key) = weak_key {
            warning.push_str(&format!(
                "\nwarning: {weak_key} is in use, as allowed by --allow-insecure-admin-key \
                 (or allow_insecure_admin_key in config.json): anyone who can reach this \
                 address can use the admin API."
            ));
        }
        Ok(Some(warning))
    }

    pub fn resolve(file: FileConfig, flags: Overrides) -> Result<Self, String> {
        flags
            .demo
            .validate()
            .map_err(|e| format!("invalid demo app setting: {e}"))?;
        let mut apps = Vec::new();
        let mut demo = AppSettings::with_defaults(DEMO_APP);
        if let Some(patch) = file.apps.get(DEMO_APP) {
            demo.apply(patch);
        }
        demo.apply(&flags.demo);
        apps.push(demo);
        for (id, patch) in &file.apps {
            if id != DEMO_APP {
                let mut app = AppSettings::with_defaults(id);
                app.apply(patch);
                apps.push(app);
            }
        }
        let mut origins = file.origins;
        for origin in flags.origins {
            if origin != "*" {
                validate_origin(&origin)?;
            }
            origins.push(origin.trim_end_matches('/').to_owned());
        }
        let public_url = match flags.public_url.or(file.public_url) {
            Some(url) => {
                validate_origin(&url)?;
                Some(url.trim_end_matches('/').to_owned())
            }
            None => None,
        };
        let admin_key = flags
            .admin_key
            .or(file.admin_key)
            .unwrap_or_else(|| DEFAULT_ADMIN_KEY.to_owned());
        if admin_key.is_empty() {
            return Err("the admin key must not be empty".into());
        }
        let reuse_grace = flags.reuse_grace.or(file.reuse_grace).unwrap_or(0);
        validate_reuse_grace("--reuse-grace", reuse_grace)?;
        let retention = flags
            .retention
            .or(file.retention)
            .unwrap_or(DEFAULT_RETENTION);
        validate_retention("--retention", retention)?;
        let purge_interval = flags
            .purge_interval
            .or(file.purge_interval)
            .unwrap_or(DEFAULT_PURGE_INTERVAL);
        validate_purge_interval("--purge-interval", purge_interval)?;
        Ok(Settings {
            admin_key,
            allow_insecure_admin_key: flags.allow_insecure_admin_key
                || file.allow_insecure_admin_key.unwrap_or(false),
            origins,
            public_url,
            apps,
            reuse_grace,
            retention,
            purge_interval,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_give_a_demo_app() {
        let s = Settings::resolve(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(s.admin_key, DEFAULT_ADMIN_KEY);
        assert_eq!(s.apps, vec![AppSettings::with_defaults("demo")]);
        assert_eq!(s.apps[0].auth_token_lifetime, 300);
        assert_eq!(s.apps[0].session_expiration, 2_592_000);
        assert_eq!(s.apps[0].inactivity_timeout, 604_800);
    }

    #[test]
    fn off_loopback_a_weak_admin_key_is_refused_unless_allowed() {
        let settings = |key: Option<&str>, file_allows: bool, flag_allows: bool| {
            let file = FileConfig {
                allow_insecure_admin_key: Some(file_allows),
                ..FileConfig::default()
            };
            let flags = Overrides {
                admin_key: key.map(str::to_owned),
                allow_insecure_admin_key: flag_allows,
                ..Overrides::default()
            };
            Settings::resolve(file, flags).unwrap()
        };
        let addr = |a: &str| a.parse::<SocketAddr>().unwrap();
        let long = "k".repeat(MIN_ADMIN_KEY_LEN);
        let short = "k".repeat(MIN_ADMIN_KEY_LEN - 1);
        for loopback in [
            "127.0.0.1:0",
            "127.3.2.1:8787",
            "[::1]:0",
            "[::ffff:127.0.0.1]:0",
        ] {
            assert_eq!(
                settings(None, false, false).exposure(addr(loopback)),
                Ok(None)
            );
        }
        for exposed in [
            "0.0.0.0:0",
            "[::]:8787",
            "192.168.1.5:80",
            "[::ffff:10.0.0.1]:0",
        ] {
            let exposed = addr(exposed);
            let refused = settings(None, false, false).exposure(exposed).unwrap_err();
            assert!(refused.contains("the default admin key"), "{refused}");
            assert!(refused.contains("--allow-insecure-admin-key"), "{refused}");
            let refused = settings(Some(&short), false, false).exposure(exposed);
            assert!(refused.unwrap_err().contains("shorter than 24"));
            let warning = settings(Some(&long), false, false).exposure(exposed);
            let warning = warning.unwrap().unwrap();
            assert!(warning.contains("demo login") && warning.contains("inject faults"));
            assert!(!warning.contains("--allow-insecure-admin-key"));
            for (file, flag) in [(true, false), (false, true)] {
                let warning = settings(None, file, flag)
                    .exposure(exposed)
                    .unwrap()
                    .unwrap();
                assert!(
                    warning.contains("the default admin key is in use"),
                    "{warning}"
                );
            }
        }
    }

    #[test]
    fn flags_override_the_file() {
        let file: FileConfig = serde_json::from_str(
            r#"{"admin_key": "k1", "origins": ["https://app.example"],
                "apps": {"demo": {"auth_token_lifetime": 60, "inactivity_timeout": 100},
                         "other": {"session_expiration": 50}}}"#,
        )
        .unwrap();
        file.validate().unwrap();
        let flags = Overrides {
            admin_key: Some("k2".into()),
            origins: vec!["http://dev.example:3000/".into()],
            demo: AppPatch {
                auth_token_lifetime: Some(5),
                ..AppPatch::default()
            },
            ..Overrides::default()
        };
        let s = Settings::resolve(file, flags).unwrap();
        assert_eq!(s.admin_key, "k2");
        assert_eq!(
            s.origins,
            vec!["https://app.example", "http://dev.example:3000"]
        );
        assert_eq!(s.apps[0].auth_token_lifetime, 5);
        assert_eq!(s.apps[0].inactivity_timeout, 100);
        assert_eq!(s.apps[1].id, "other");
        assert_eq!(s.apps[1].session_expiration, 50);
        assert_eq!(s.apps[1].auth_token_lifetime, 300);
    }

    #[test]
    fn grace_retention_and_purge_interval() {
        let s = Settings::resolve(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(
            (s.reuse_grace, s.retention, s.purge_interval),
            (0, 86_400, 60)
        );
        let file: FileConfig = serde_json::from_str(
            r#"{"reuse_grace": 10, "retention": 100, "purge_interval": 5,
                "apps": {"demo": {"reuse_grace": 0}, "other": {"reuse_grace": 300}}}"#,
        )
        .unwrap();
        file.validate().unwrap();
        let flags = Overrides {
            reuse_grace: Some(20),
            purge_interval: Some(0),
            ..Overrides::default()
        };
        let s = Settings::resolve(file, flags).unwrap();
        assert_eq!((s.reuse_grace, s.retention, s.purge_interval), (20, 100, 0));
        assert_eq!(s.apps[0].reuse_grace, Some(0));
        assert_eq!(s.apps[0].reuse_grace_or(s.reuse_grace), 0);
        assert_eq!(s.apps[1].reuse_grace, Some(300));
        assert_eq!(AppSettings::with_defaults("x").reuse_grace_or(20), 20);
        for bad in [
            Overrides {
                reuse_grace: Some(301),
                ..Overrides::default()
            },
            Overrides {
                retention: Some(MAX_DURATION + 1),
                ..Overrides::default()
            },
            Overrides {
                purge_interval: Some(MAX_PURGE_INTERVAL + 1),
                ..Overrides::default()
            },
        ] {
            assert!(Settings::resolve(FileConfig::default(), bad).is_err());
        }
    }

    #[test]
    fn refuses_bad_values() {
        let bad = [
            r#"{"apps": {"demo": {"auth_token_lifetime": 0}}}"#,
            r#"{"apps": {"bad id": {}}}"#,
            r#"{"apps": {"demo": {"origin": "ftp://x"}}}"#,
            r#"{"origins": ["localhost:3000"]}"#,
            r#"{"admin_key": ""}"#,
            r#"{"apps": {"demo": {"reuse_grace": 301}}}"#,
            r#"{"reuse_grace": 301}"#,
            r#"{"purge_interval": 86401}"#,
        ];
        for text in bad {
            let parsed: Result<FileConfig, _> = serde_json::from_str(text);
            assert!(parsed.unwrap().validate().is_err(), "{text}");
        }
        assert!(serde_json::from_str::<FileConfig>(r#"{"unknown": 1}"#).is_err());
        assert!(serde_json::from_str::<FileConfig>(
            r#"{"apps": {"demo": {"auth_token_lifetime": -1}}}"#
        )
        .is_err());
    }

    #[test]
    fn finds_origin_hosts() {
        assert_eq!(origin_host("http://127.0.0.1:8787"), Some("127.0.0.1"));
        assert_eq!(
            origin_host("https://app.example.com"),
            Some("app.example.com")
        );
        assert_eq!(origin_host("http://[::1]:3000"), Some("[::1]"));
        assert_eq!(origin_host("nonsense"), None);
        assert!(is_loopback_ip("127.0.0.1") && is_loopback_ip("[::1]"));
        assert!(!is_loopback_ip("localhost") && !is_loopback_ip("10.0.0.1"));
    }

    #[test]
    fn checks_rp_ids() {
        assert!(validate_rp_id("localhost").is_ok());
        assert!(validate_rp_id("app.example.com").is_ok());
        assert!(validate_rp_id("http://example.com").is_err());
        assert!(validate_rp_id("example.com:8080").is_err());
        assert!(validate_rp_id("").is_err());
    }

    #[test]
    fn checks_origins_and_app_ids() {
        assert!(validate_origin("http://localhost:5173").is_ok());
        assert!(validate_origin("https://app.example.com").is_ok());
        assert!(validate_origin("https://app.example.com/path").is_err());
        assert!(validate_origin("app.example.com").is_err());
        assert!(valid_app_id("demo_1-x"));
        assert!(!valid_app_id(""));
        assert!(!valid_app_id("a/b"));
        assert!(!valid_app_id(&"a".repeat(65)));
    }
}
