//! Shared by the bench binaries (`mod common;`): where the nxr under test and the real
//! `hermes` are, and a throwaway home that keeps nxr offline (OpenRouter and Ollama point at
//! a closed port, no remote database, no key from the caller's environment).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nxr::core::paths::{Endpoints, Paths};

/// A closed port: any request nxr makes to it fails at once.
pub const DEAD_OPENROUTER: &str = "http://127.0.0.1:9/api/v1";
pub const DEAD_OLLAMA: &str = "http://127.0.0.1:9";

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `NXR_BIN`, else the nxr cargo built for this bench (the release one under `cargo bench`).
pub fn nxr_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("NXR_BIN").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_BIN_EXE_nxr"))
}

/// `NXR_TEST_HERMES`, else `.ci/venv/bin/hermes`, else the first `hermes` on `PATH`.
pub fn hermes_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NXR_TEST_HERMES").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let venv = manifest_dir().join(".ci/venv/bin/hermes");
    if venv.is_file() {
        return Some(venv);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("hermes"))
        .find(|p| p.is_file())
}

/// An nxr home, a Hermes root and a `$HOME`, each a temporary directory.
pub struct Home {
    pub nxr: tempfile::TempDir,
    pub hermes: tempfile::TempDir,
    pub home: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Home {
        let t = || tempfile::tempdir().expect("tempdir");
        Home {
            nxr: t(),
            hermes: t(),
            home: t(),
        }
    }

    pub fn paths(&self) -> Paths {
        Paths {
            nxr_home: self.nxr.path().to_path_buf(),
            hermes_home: self.hermes.path().to_path_buf(),
        }
    }

    /// nxr's core on this home, in process.
    pub async fn core(&self) -> nxr::core::Core {
        nxr::core::Core::open(self.paths(), Endpoints::unreachable())
            .await
            .expect("open nxr's database")
    }

    /// Points a command (nxr or hermes) at this home, offline.
    pub fn apply<'c>(&self, c: &'c mut Command) -> &'c mut Command {
        c.env("NXR_HOME", self.nxr.path())
            .env("HERMES_HOME", self.hermes.path())
            .env("HOME", self.home.path())
            .env("NXR_OPENROUTER_URL", DEAD_OPENROUTER)
            .env("NXR_OLLAMA_URL", DEAD_OLLAMA)
            .env_remove("OPENROUTER_API_KEY")
            .env_remove("NXR_DB_URL")
            .stdin(Stdio::null())
    }

    /// `program ARGS...` in this home.
    pub fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(program);
        c.args(args);
        self.apply(&mut c);
        c
    }

    /// `nxr --no-tui ARGS...` in this home.
    pub fn nxr(&self, args: &[&str]) -> Command {
        let mut c = self.command(&nxr_bin(), &["--no-tui"]);
        c.args(args);
        c
    }

    /// Runs `nxr --no-tui ARGS...` and returns its stdout; panics unless it exits 0.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.nxr(args).output().expect("run nxr");
        assert!(
            out.status.success(),
            "nxr {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
