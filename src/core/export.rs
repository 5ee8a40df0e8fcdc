//! Writing a static export (`nxr export DIR`, pages rendered by the web mirror): no secret
//! may be in it, and a reader of DIR sees the old export or the new one, never half of one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Core;
use super::error::{CoreError, Result};
use super::hermes::{self, Profile};
use super::secrets;

/// Marks a folder as an nxr export, so a later export may replace it.
pub const MARKER: &str = ".nxr-export";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportFile {
    pub name: String,
    #[serde(skip)]
    pub contents: String,
}

impl ExportFile {
    pub fn new(name: &str, contents: String) -> ExportFile {
        ExportFile {
            name: name.to_string(),
            contents,
        }
    }
}

/// Every secret nxr knows of in this workspace: the OpenRouter key and the Telegram token.
fn secrets_of(core: &Core) -> Vec<String> {
    let mut out: Vec<String> = secrets::openrouter_key(core).into_iter().collect();
    let root_env = Profile::resolve(&core.paths.hermes_home, hermes::DEFAULT_PROFILE).env_path();
    for file in [root_env, secrets::secrets_file(&core.paths)] {
        if let Some(t) = hermes::get_env(&file, "TELEGRAM_BOT_TOKEN") {
            out.push(t);
        }
    }
    // Short values would match ordinary words; real keys and tokens are long.
    out.retain(|s| s.trim().len() >= 8);
    out
}

/// Refuses output that contains a secret (a guard: pages never render one).
pub fn check_no_secrets(core: &Core, files: &[ExportFile]) -> Result<()> {
    let secrets = secrets_of(core);
    for f in files {
        if secrets.iter().any(|s| f.contents.contains(s.trim())) {
            return Err(CoreError::Conflict(format!(
                "refusing to export: {} would contain a key; nothing was written",
                f.name
            )));
        }
    }
    Ok(())
}

/// Writes `files` as the folder `dir`: into a temporary folder beside it first, then
/// swapped in with one rename. An existing `dir` is replaced only when it is empty or an
/// earlier export (it holds [`MARKER`]).
pub fn write_dir(core: &Core, dir: &Path, files: &[ExportFile]) -> Result<()> {
    check_no_secrets(core, files)?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| CoreError::usage(format!("{} is not a folder name", dir.display())))?;
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let existing = match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => {
            let empty = fs::read_dir(dir)
                .map_err(|e| CoreError::io(dir, e))?
                .next()
                .is_none();
            if !empty && !dir.join(MARKER).is_file() {
                return Err(CoreError::usage(format!(
                    "{} exists and is not an nxr export; choose a new or empty folder",
                    dir.display()
                )));
            }
            true
        }
        Ok(_) => {
            return Err(CoreError::usage(format!(
                "{} exists and is not a folder",
                dir.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(CoreError::io(dir, e)),
    };
    fs::create_dir_all(&parent).map_err(|e| CoreError::io(&parent, e))?;
    let tmp = parent.join(format!(".{name}.nxr-export-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    let written = fill(&tmp, files).and_then(|()| swap_in(&tmp, dir, existing));
    if written.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    written
}

fn fill(tmp: &Path, files: &[ExportFile]) -> Result<()> {
    fs::create_dir(tmp).map_err(|e| CoreError::io(tmp, e))?;
    let marker = ExportFile::new(MARKER, "written by `nxr export`\n".into());
    let all: Vec<&ExportFile> = files.iter().chain(std::iter::once(&marker)).collect();
    // One thread per file: each fsync waits on the disk, and waiting side by side lets the
    // filesystem commit them together (benches/export.rs times the whole export).
    std::thread::scope(|scope| {
        let handles: Vec<_> = all
            .iter()
            .map(|f| scope.spawn(move || write_synced(&tmp.join(&f.name), &f.contents)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(CoreError::io(tmp, std::io::Error::other("writer panicked")))
                })
            })
            .collect::<Result<Vec<()>>>()
    })?;
    fs::File::open(tmp)
        .and_then(|d| d.sync_all())
        .map_err(|e| CoreError::io(tmp, e))
}

fn write_synced(path: &Path, contents: &str) -> Result<()> {
    let mut file = fs::File::create(path).map_err(|e| CoreError::io(path, e))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| CoreError::io(path, e))
}

/// Puts the finished folder in place: an atomic exchange with the old export when there is
/// one (the old one then goes), else a rename.
fn swap_in(tmp: &Path, dir: &Path, existing: bool) -> Result<()> {
    if existing {
        nix::fcntl::renameat2(
            nix::fcntl::AT_FDCWD,
            tmp,
            nix::fcntl::AT_FDCWD,
            dir,
            nix::fcntl::RenameFlags::RENAME_EXCHANGE,
        )
        .map_err(|e| CoreError::io(dir, std::io::Error::from(e)))?;
        // `tmp` now holds the previous export.
        fs::remove_dir_all(tmp).map_err(|e| CoreError::io(tmp, e))?;
    } else {
        fs::rename(tmp, dir).map_err(|e| CoreError::io(dir, e))?;
    }
    let parent: PathBuf = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    fs::File::open(&parent)
        .and_then(|d| d.sync_all())
        .map_err(|e| CoreError::io(&parent, e))
}
