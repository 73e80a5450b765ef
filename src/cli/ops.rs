//! Running and keeping the service: `serve`, `migrate`, `config`, `maintenance run`, `backup`,
//! `migrate-to`. Migrations, backups and copies work on the database itself, below any rule.

use std::io::Write;
use std::path::Path;

use clap::Subcommand;

use super::{open, Exit};
use crate::config::Config;
use crate::startup::{Application, Bootstrap};
use crate::{db, jobs};

#[derive(Subcommand, Debug)]
pub enum MaintenanceCommand {
    /// Run expiry, purge, reconcile and flush now
    Run,
}

pub fn serve(config: Config) -> Result<i32, Exit> {
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        let app = Application::build(config, &Bootstrap::from_env())
            .map_err(|e| Exit(1, format!("{e:#}")))?;
        if let Some(b) = &app.bootstrapped {
            println!("{}", b.announcement());
        }
        let addr = app.state().config.bind;
        println!("tokend listening on http://{}:{}", addr.ip(), app.port());
        let _ = std::io::stdout().flush();
        app.run_until_stopped().await?;
        Ok(0)
    })
}

pub fn migrate(config: &Config) -> Result<i32, Exit> {
    let pool = db::open(&config.db, 1).map_err(|e| Exit(1, format!("{e:#}")))?;
    let v = db::schema_version(&pool.get()?)?;
    println!(
        "database {} is at schema version {v}",
        db::shown(&config.db)
    );
    Ok(0)
}

pub fn print_config(config: &Config) -> Result<i32, Exit> {
    print!("{}", crate::config::print::to_toml(config));
    Ok(0)
}

pub fn maintenance(config: Config, command: MaintenanceCommand) -> Result<i32, Exit> {
    let MaintenanceCommand::Run = command;
    let state = open(config)?;
    let r = jobs::run_all(&state)?;
    println!("expire: {} tokens disabled", r.expire);
    println!("idle: {} tokens disabled", r.idle);
    println!("purge: {} tokens deleted", r.purge);
    println!(
        "reconcile: {} of disabled owners, {} of SSO owners, {} trimmed, {} grace periods ended",
        r.reconcile.owner_disabled,
        r.reconcile.owner_sso,
        r.reconcile.trimmed,
        r.reconcile.grace_ended
    );
    println!("flush: {} tokens", r.flush);
    println!("sessions: {} expired removed", r.sessions);
    Ok(0)
}

pub fn backup(config: &Config, file: &Path, force: bool) -> Result<i32, Exit> {
    let target = config.db.to_string_lossy();
    if db::is_postgres_url(&target) {
        return Err(Exit(
            2,
            format!(
                "backup copies an SQLite database; back up PostgreSQL with pg_dump, e.g.\n  \
                 pg_dump -Fc -f {} {}",
                shell_quote(&file.to_string_lossy()),
                shell_quote(&db::without_password(&target))
            ),
        ));
    }
    if file.exists() && !force {
        return Err(Exit(
            1,
            format!("{} exists; pass --force to overwrite it", file.display()),
        ));
    }
    if force && file.exists() {
        std::fs::remove_file(file)?;
    }
    let pool = db::open(&config.db, 1).map_err(|e| Exit(1, format!("{e:#}")))?;
    db::backup(&pool.get()?, file).map_err(|e| Exit(1, format!("backup failed: {e:#}")))?;
    println!("backed up {} to {}", config.db.display(), file.display());
    Ok(0)
}

/// `s` as one shell word.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

pub fn migrate_to(config: &Config, url: &str) -> Result<i32, Exit> {
    if db::is_postgres_url(&config.db.to_string_lossy()) {
        return Err(Exit(
            2,
            "--db names the SQLite database to copy, not a PostgreSQL URL".into(),
        ));
    }
    if !db::is_postgres_url(url) {
        return Err(Exit(
            2,
            "URL: a PostgreSQL URL (postgres://user@host/db) is expected".into(),
        ));
    }
    if !config.db.is_file() {
        return Err(Exit(1, format!("no database at {}", config.db.display())));
    }
    let open = |target: &Path| db::open(target, 1).map_err(|e| Exit(1, format!("{e:#}")));
    let (source, target) = (open(&config.db)?, open(Path::new(url))?);
    let counts = db::copy::sqlite_to_postgres(&source.get()?, &target.get()?)
        .map_err(|e| Exit(1, format!("{e:#}")))?;
    let shown = db::shown(Path::new(url));
    println!("copied {} to {shown}:", config.db.display());
    for (table, rows) in counts {
        let unit = if rows == 1 { "row" } else { "rows" };
        println!("  {table:<22} {rows} {unit}");
    }
    for (table, meaning) in db::copy::SKIPPED {
        println!("  {table:<22} not copied (transient: {meaning})");
    }
    let key = config.master_key_file.display();
    println!("start the server on {shown} with this master key: --master-key-file {key}");
    if !config.master_key_file.is_file() {
        eprintln!("tokend: warning: there is no master key file at {key}");
    }
    Ok(0)
}
