//! `tokend legacy import`: UUID + secret credentials from a CSV file, one row at a time
//! through `service::legacy::import_row`.

use std::path::PathBuf;

use clap::Subcommand;

use super::{open, Exit};
use crate::config::Config;
use crate::service;

#[derive(Subcommand, Debug)]
pub enum LegacyCommand {
    /// Import UUID + secret credentials from a CSV file with header `email,uuid,secret`
    Import { file: PathBuf },
}

fn import(config: Config, file: &std::path::Path) -> Result<i32, Exit> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(file)
        .map_err(|e| Exit(1, format!("cannot read {}: {e}", file.display())))?;
    let headers: Vec<String> = reader.headers()?.iter().map(|h| h.to_lowercase()).collect();
    if headers != ["email", "uuid", "secret"] {
        return Err(Exit(
            1,
            format!("{}: the header must be `email,uuid,secret`", file.display()),
        ));
    }
    let state = open(config)?;
    let (mut imported, mut skipped) = (0, 0);
    for (i, rec) in reader.records().enumerate() {
        let line = i + 2;
        let outcome = match rec {
            Ok(r) if r.len() == 3 => {
                let env = state.env();
                state
                    .write_blocking(|tx| service::legacy::import_row(tx, &env, &r[0], &r[1], &r[2]))
            }
            Ok(_) => Err(service::Error::invalid("bad_row", "expected 3 fields")),
            Err(e) => Err(service::Error::invalid("bad_row", e.to_string())),
        };
        match outcome {
            Ok(_) => imported += 1,
            Err(e) => {
                skipped += 1;
                eprintln!("{}:{line}: skipped: {e}", file.display());
            }
        }
    }
    println!("imported {imported}, skipped {skipped}");
    Ok(0)
}

pub fn run(config: Config, command: LegacyCommand) -> Result<i32, Exit> {
    let LegacyCommand::Import { file } = command;
    import(config, &file)
}
