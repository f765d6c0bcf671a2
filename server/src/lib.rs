//! `passage-auth-server`: a local, Passage-compatible authentication API.
//!
//! The binary (`src/main.rs`) only calls [`main`]. The modules stay private;
//! the library target exists so that the fuzz targets and their replay test
//! reach the request parsers through [`fuzzing`].

// The layers, bottom up (see README.md, "Layout"); each module imports
// only from its own layer or those below, never in a circle.

// Leaves: plain Rust, no HTTP.
mod clock;
mod config;
mod faults;
mod jwt;
mod metadata;
mod stats;
mod util;

// The store: the database and the domain on it, no HTTP.
mod db;
mod purge;
mod store;

// The state shared by the handlers, no HTTP.
mod state;

// HTTP plumbing: errors, extractors, middleware.
mod access_log;
mod conn;
mod cors;
mod error;
mod extract;
mod fault_injection;
mod long_uri;

// The handlers.
mod account;
mod admin;
mod api;
mod passkeys;
mod static_files;

// The application: command line, router, server.
mod cli;
mod routes;
mod server;

#[doc(hidden)]
pub mod fuzzing;

use std::process::ExitCode;

use cli::Command;

/// The command line: parses the arguments and runs the command.
pub fn main() -> ExitCode {
    let command = match cli::parse(std::env::args_os().skip(1)) {
        Ok(command) => command,
        Err(e) => {
            eprintln!("error: {e}\nTry 'passage-auth-server --help'.");
            return ExitCode::from(2);
        }
    };
    let result = match command {
        Command::Help => {
            print!("{}", cli::USAGE);
            Ok(())
        }
        Command::Version => {
            println!("passage-auth-server {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Serve(options) => server::run(*options),
        Command::User {
            action,
            data,
            app,
            user,
        } => user_command(action, &data, &app, &user),
        Command::OpenLink { data, app, link } => open_command(&data, &app, &link),
        Command::Social {
            data,
            app,
            user,
            seed,
        } => social_command(&data, &app, &user, &seed),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The `open` subcommand: opens a magic link, applying its email or phone
/// change (the server's admin clock shift, if any, does not apply here).
fn open_command(data: &std::path::Path, app: &str, link: &str) -> Result<(), String> {
    let db = db::Db::open_existing(&data.join(db::DB_FILE))?;
    let now = util::system_now();
    let opened = db
        .write(|tx| store::account::open_magic_link(tx, app, link, now))
        .map_err(|e| format!("database: {e}"))?
        .map_err(|refusal| format!("magic link {link:?} in app {app}: {}", refusal.message()))?;
    println!(
        "opened magic link {link} in app {app}: the {} of user {} is now {}",
        opened.kind, opened.user.id, opened.new_value
    );
    Ok(())
}

/// The `social` subcommand: seeds a social connection.
fn social_command(
    data: &std::path::Path,
    app: &str,
    user: &str,
    seed: &store::account::SocialSeed,
) -> Result<(), String> {
    let db = db::Db::open_existing(&data.join(db::DB_FILE))?;
    let now = util::system_now();
    let (found, created) = db
        .write(|tx| store::account::seed_social(tx, app, user, seed, now))
        .map_err(|e| format!("database: {e}"))?
        .ok_or_else(|| format!("no user {user:?} in app {app}"))?;
    println!(
        "{} {} connection of {} ({}) in app {app}",
        if created { "added" } else { "replaced" },
        seed.provider,
        found.email,
        found.id
    );
    Ok(())
}

/// The `signout`/`deactivate`/`activate` subcommands, straight on the
/// database (safe beside a running server: SQLite serialises the writes).
fn user_command(
    action: store::UserAction,
    data: &std::path::Path,
    app: &str,
    user: &str,
) -> Result<(), String> {
    let db = db::Db::open_existing(&data.join(db::DB_FILE))?;
    let now = util::system_now();
    let (found, revoked) = db
        .write(|tx| store::run_user_action(tx, app, user, action, now))
        .map_err(|e| format!("database: {e}"))?
        .ok_or_else(|| format!("no user {user:?} in app {app}"))?;
    println!(
        "{} {} ({}) in app {app}: {revoked} session(s) revoked",
        action.past_tense(),
        found.email,
        found.id
    );
    Ok(())
}
