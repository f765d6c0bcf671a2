//! Command-line parsing (by hand: a handful of flags and three subcommands).

use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use crate::config::{AppPatch, Overrides, ServeOptions, DEMO_APP};
use crate::store::account::SocialSeed;
use crate::store::UserAction;

pub const USAGE: &str = "\
A local, Passage-compatible authentication API for demos and tests.

USAGE:
    passage-auth-server [OPTIONS]
    passage-auth-server signout|deactivate|activate [--data DIR] [--app APP] USER
    passage-auth-server open [--data DIR] [--app APP] MAGIC_LINK_ID
    passage-auth-server social [--data DIR] [--app APP] USER apple|github|google
                               [--provider-id ID] [--identifier EMAIL]

OPTIONS:
    --addr ADDR                  Listen address [default: 127.0.0.1:8787]; port 0 picks a free port
    --data DIR                   Data directory: database, signing key, config.json [default: ./.data]
    --www DIR                    Static files served at / [default: ./www if it exists]
    --pkg DIR                    Static files served at /pkg/ [default: ./pkg if it exists]
    --public-url URL             Base URL used in the JWT iss and as default app origin
                                 [default: http://ADDR]
    --origin URL                 Extra allowed CORS origin, repeatable (\"*\" allows any);
                                 http://localhost:* and http://127.0.0.1:* are always allowed
    --admin-key KEY              Key for the /admin API [default: local-admin-key]; on an ADDR
                                 that is not loopback, at least 24 characters
    --allow-insecure-admin-key   Start on an ADDR that is not loopback even with the default
                                 admin key or a shorter one (anyone reaching it can use /admin)
    --auth-token-lifetime SECS   Demo app: auth token lifetime [default: 300]
    --session-expiration SECS    Demo app: absolute session length [default: 2592000 (30 days)]
    --inactivity-timeout SECS    Demo app: inactivity timeout [default: 604800 (7 days)]
    --reuse-grace SECS           Rotation grace period of every app that sets none: a rotated
                                 refresh token presented again this soon gets the same new
                                 tokens instead of revoking the session [default: 0 (strict)]
    --retention SECS             How long a dead refresh token (rotated away, or of an ended
                                 session) is remembered before it is purged [default: 86400]
    --purge-interval SECS        Seconds between background purges; 0 turns them off [default: 60]
    -h, --help                   Print this help
    -V, --version                Print the version

SUBCOMMANDS (work on the data directory, also while the server runs):
    signout      Revoke every refresh token of USER (an id or an email)
    deactivate   Deactivate USER and revoke all their refresh tokens
    activate     Reactivate USER
    open         Open a magic link (an email or phone change): applies the change
    social       Add (or replace) a social connection of USER, as if linked at the provider
";

pub const DEFAULT_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8787);
pub const DEFAULT_DATA_DIR: &str = ".data";

#[derive(Debug)]
pub enum Command {
    // Boxed: the options are much larger than the other variants.
    Serve(Box<ServeOptions>),
    User {
        action: UserAction,
        data: PathBuf,
        app: String,
        user: String,
    },
    /// `open`: opens a magic link, as its recipient would.
    OpenLink {
        data: PathBuf,
        app: String,
        link: String,
    },
    /// `social`: seeds a social connection.
    Social {
        data: PathBuf,
        app: String,
        user: String,
        seed: SocialSeed,
    },
    Help,
    Version,
}

/// Splits `--flag=value` and `--flag value` alike.
struct Args {
    items: std::vec::IntoIter<String>,
    pending_value: Option<String>,
}

impl Args {
    fn new(args: Vec<String>) -> Self {
        Args {
            items: args.into_iter(),
            pending_value: None,
        }
    }

    fn next(&mut self) -> Option<String> {
        let item = self.items.next()?;
        if item.starts_with("--") {
            if let Some((flag, value)) = item.split_once('=') {
                self.pending_value = Some(value.to_owned());
                return Some(flag.to_owned());
            }
        }
        Some(item)
    }

    fn value(&mut self, flag: &str) -> Result<String, String> {
        self.pending_value
            .take()
            .or_else(|| self.items.next())
            .ok_or_else(|| format!("{flag} needs a value"))
    }

    fn check_no_value(&mut self, flag: &str) -> Result<(), String> {
        match self.pending_value.take() {
            Some(_) => Err(format!("{flag} takes no value")),
            None => Ok(()),
        }
    }
}

pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let args = args
        .into_iter()
        .map(|a| {
            a.into_string()
                .map_err(|a| format!("argument is not valid UTF-8: {a:?}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    match args.first().map(String::as_str) {
        Some("open") => return parse_account_command(&args[0], Args::new(args[1..].to_vec())),
        Some("social") => return parse_account_command(&args[0], Args::new(args[1..].to_vec())),
        _ => {}
    }
    match args.first().and_then(|name| UserAction::parse(name)) {
        Some(action) => parse_user_command(action, &args[0], Args::new(args[1..].to_vec())),
        None => parse_serve(Args::new(args)),
    }
}

fn parse_serve(mut args: Args) -> Result<Command, String> {
    let mut options = ServeOptions {
        addr: DEFAULT_ADDR,
        data: PathBuf::from(DEFAULT_DATA_DIR),
        www: None,
        pkg: None,
        overrides: Overrides::default(),
    };
    let mut demo = AppPatch::default();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                args.check_no_value(&arg)?;
                return Ok(Command::Help);
            }
            "-V" | "--version" => {
                args.check_no_value(&arg)?;
                return Ok(Command::Version);
            }
            "--addr" => options.addr = parse_addr(&args.value(&arg)?)?,
            "--data" => options.data = PathBuf::from(args.value(&arg)?),
            "--www" => options.www = Some(PathBuf::from(args.value(&arg)?)),
            "--pkg" => options.pkg = Some(PathBuf::from(args.value(&arg)?)),
            "--public-url" => options.overrides.public_url = Some(args.value(&arg)?),
            "--origin" => options.overrides.origins.push(args.value(&arg)?),
            "--admin-key" => options.overrides.admin_key = Some(args.value(&arg)?),
            "--allow-insecure-admin-key" => options.overrides.allow_insecure_admin_key = true,
            "--auth-token-lifetime" => {
                demo.auth_token_lifetime = Some(parse_secs(&arg, &args.value(&arg)?)?)
            }
            "--session-expiration" => {
                demo.session_expiration = Some(parse_secs(&arg, &args.value(&arg)?)?)
            }
            "--inactivity-timeout" => {
                demo.inactivity_timeout = Some(parse_secs(&arg, &args.value(&arg)?)?)
            }
            "--reuse-grace" => {
                options.overrides.reuse_grace = Some(parse_secs(&arg, &args.value(&arg)?)?)
            }
            "--retention" => {
                options.overrides.retention = Some(parse_secs(&arg, &args.value(&arg)?)?)
            }
            "--purge-interval" => {
                options.overrides.purge_interval = Some(parse_secs(&arg, &args.value(&arg)?)?)
            }
            other => return Err(format!("unexpected argument {other:?}")),
        }
        args.check_no_value(&arg)?;
    }
    options.overrides.demo = demo;
    Ok(Command::Serve(Box::new(options)))
}

fn parse_user_command(action: UserAction, name: &str, mut args: Args) -> Result<Command, String> {
    let mut data = PathBuf::from(DEFAULT_DATA_DIR);
    let mut app = DEMO_APP.to_owned();
    let mut user = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--data" => data = PathBuf::from(args.value(&arg)?),
            "--app" => app = args.value(&arg)?,
            flag if flag.starts_with('-') && flag.len() > 1 => {
                return Err(format!("unexpected argument {flag:?}"))
            }
            _ if user.is_some() => return Err(format!("unexpected argument {arg:?}")),
            _ => user = Some(arg.clone()),
        }
        args.check_no_value(&arg)?;
    }
    let user = user.ok_or_else(|| format!("{name} needs a USER (an id or an email)"))?;
    Ok(Command::User {
        action,
        data,
        app,
        user,
    })
}

/// `open [--data DIR] [--app APP] LINK` and
/// `social [--data DIR] [--app APP] USER TYPE [--provider-id ID] [--identifier EMAIL]`.
fn parse_account_command(name: &str, mut args: Args) -> Result<Command, String> {
    let mut data = PathBuf::from(DEFAULT_DATA_DIR);
    let mut app = DEMO_APP.to_owned();
    let mut provider_id = None;
    let mut identifier = None;
    let mut positional = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--data" => data = PathBuf::from(args.value(&arg)?),
            "--app" => app = args.value(&arg)?,
            "--provider-id" if name == "social" => provider_id = Some(args.value(&arg)?),
            "--identifier" if name == "social" => identifier = Some(args.value(&arg)?),
            flag if flag.starts_with('-') && flag.len() > 1 => {
                return Err(format!("unexpected argument {flag:?}"))
            }
            _ => positional.push(arg.clone()),
        }
        args.check_no_value(&arg)?;
    }
    if name == "open" {
        let [link] = <[String; 1]>::try_from(positional)
            .map_err(|_| "open needs exactly one MAGIC_LINK_ID".to_owned())?;
        return Ok(Command::OpenLink { data, app, link });
    }
    let [user, provider] = <[String; 2]>::try_from(positional)
        .map_err(|_| "social needs a USER and a TYPE (apple, github or google)".to_owned())?;
    let seed = SocialSeed {
        provider,
        provider_id,
        provider_identifier: identifier,
    };
    seed.validate()?;
    Ok(Command::Social {
        data,
        app,
        user,
        seed,
    })
}

/// `HOST:PORT`, `localhost:PORT`, `:PORT` or just `PORT` (loopback).
fn parse_addr(value: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = value.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let port = value
        .strip_prefix("localhost:")
        .or_else(|| value.strip_prefix(':'))
        .unwrap_or(value);
    port.parse::<u16>()
        .map(|port| SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), port))
        .map_err(|_| format!("invalid --addr {value:?}: expected HOST:PORT, e.g. 127.0.0.1:8787"))
}

fn parse_secs(flag: &str, value: &str) -> Result<u64, String> {
    value
        .parse::<u64>()
        .map_err(|_| format!("{flag} needs a whole number of seconds, not {value:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Command, String> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn parses_serve_flags() {
        let Command::Serve(o) = parse_strs(&[
            "--addr",
            "127.0.0.1:0",
            "--data=/tmp/x",
            "--origin",
            "http://a.example",
            "--origin=http://b.example",
            "--auth-token-lifetime",
            "5",
            "--admin-key",
            "k",
            "--reuse-grace",
            "30",
            "--retention=600",
            "--purge-interval",
            "0",
            "--allow-insecure-admin-key",
        ])
        .unwrap() else {
            panic!("not serve")
        };
        assert_eq!(o.overrides.reuse_grace, Some(30));
        assert_eq!(o.overrides.retention, Some(600));
        assert_eq!(o.overrides.purge_interval, Some(0));
        assert_eq!(o.addr.port(), 0);
        assert_eq!(o.data, PathBuf::from("/tmp/x"));
        assert_eq!(o.overrides.origins.len(), 2);
        assert_eq!(o.overrides.demo.auth_token_lifetime, Some(5));
        assert_eq!(o.overrides.admin_key.as_deref(), Some("k"));
        assert!(o.overrides.allow_insecure_admin_key);
    }

    #[test]
    fn defaults() {
        let Command::Serve(o) = parse_strs(&[]).unwrap() else {
            panic!("not serve")
        };
        assert_eq!(o.addr, DEFAULT_ADDR);
        assert_eq!(o.data, PathBuf::from(".data"));
    }

    #[test]
    fn parses_addresses() {
        assert_eq!(parse_addr("8080").unwrap().port(), 8080);
        assert_eq!(parse_addr("localhost:9").unwrap().port(), 9);
        assert_eq!(parse_addr(":0").unwrap().port(), 0);
        assert!(parse_addr("[::1]:80").unwrap().is_ipv6());
        assert!(parse_addr("nope").is_err());
    }

    #[test]
    fn parses_user_commands() {
        let Command::User {
            action,
            data,
            app,
            user,
        } = parse_strs(&[
            "deactivate",
            "--data",
            "d",
            "alice@example.com",
            "--app",
            "x",
        ])
        .unwrap()
        else {
            panic!("not a user command")
        };
        assert_eq!(
            (action, data, app.as_str(), user.as_str()),
            (
                UserAction::Deactivate,
                PathBuf::from("d"),
                "x",
                "alice@example.com"
            )
        );
        assert!(parse_strs(&["signout"]).is_err());
        assert!(parse_strs(&["signout", "a", "b"]).is_err());
    }

    #[test]
    fn parses_account_commands() {
        let Command::OpenLink { data, app, link } =
            parse_strs(&["open", "--data", "d", "ML123", "--app=x"]).unwrap()
        else {
            panic!("not open")
        };
        assert_eq!(
            (data, app.as_str(), link.as_str()),
            (PathBuf::from("d"), "x", "ML123")
        );
        let Command::Social {
            app, user, seed, ..
        } = parse_strs(&["social", "bob@example.com", "github", "--provider-id", "42"]).unwrap()
        else {
            panic!("not social")
        };
        assert_eq!(app, "demo");
        assert_eq!(user, "bob@example.com");
        assert_eq!(seed.provider, "github");
        assert_eq!(seed.provider_id.as_deref(), Some("42"));
        assert!(parse_strs(&["open"]).is_err());
        assert!(parse_strs(&["open", "a", "b"]).is_err());
        assert!(parse_strs(&["social", "bob"]).is_err());
        assert!(parse_strs(&["social", "bob", "myspace"]).is_err());
        assert!(parse_strs(&["open", "--provider-id", "1", "x"]).is_err());
    }

    #[test]
    fn refuses_bad_input() {
        assert!(parse_strs(&["--bogus"]).is_err());
        assert!(parse_strs(&["--addr"]).is_err());
        assert!(parse_strs(&["--auth-token-lifetime", "ten"]).is_err());
        assert!(parse_strs(&["--reuse-grace", "-1"]).is_err());
        assert!(parse_strs(&["--retention"]).is_err());
        assert!(parse_strs(&["--help=x"]).is_err());
        assert!(parse_strs(&["--allow-insecure-admin-key=yes"]).is_err());
    }
}
