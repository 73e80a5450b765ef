//! `tokend scan`: finds token values (valid checksums) in files, like a secret scanner.

use std::path::PathBuf;

use super::Exit;

pub fn scan(paths: &[PathBuf]) -> Result<i32, Exit> {
    let mut found = false;
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = stack.pop() {
        let meta = std::fs::metadata(&p).map_err(|e| Exit(2, format!("{}: {e}", p.display())))?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&p)
                .map_err(|e| Exit(2, format!("{}: {e}", p.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            entries.reverse();
            stack.extend(entries);
            continue;
        }
        let bytes = std::fs::read(&p).map_err(|e| Exit(2, format!("{}: {e}", p.display())))?;
        let text = String::from_utf8_lossy(&bytes);
        for (n, line) in text.lines().enumerate() {
            if !crate::domain::token_value::find_values(line).is_empty() {
                println!("{}:{}", p.display(), n + 1);
                found = true;
            }
        }
    }
    Ok(if found { 1 } else { 0 })
}
