//! The data home: `COUNTERSIGN_HOME`, or the OS app-data directory (design.md §14).

use std::path::{Path, PathBuf};

use countersign_vault::Keychain;

use crate::error::AppError;

/// Where Countersign keeps one person's files, and the keychain namespace that goes with them.
#[derive(Clone, Debug)]
pub struct DataHome {
    root: PathBuf,
}

impl DataHome {
    /// `COUNTERSIGN_HOME` when set, else `<app data>/countersign`.
    ///
    /// # Errors
    /// When neither is known.
    pub fn locate() -> Result<Self, AppError> {
        match std::env::var_os("COUNTERSIGN_HOME") {
            Some(home) if !home.is_empty() => Ok(Self::at(PathBuf::from(home))),
            _ => Ok(Self::at(
                dirs::data_dir()
                    .ok_or(AppError::NoHome)?
                    .join("countersign"),
            )),
        }
    }

    /// The data home at `root`.
    pub fn at(root: PathBuf) -> Self {
        let root = std::path::absolute(&root).unwrap_or(root);
        DataHome { root }
    }

    /// Creates the directory if it does not exist yet.
    ///
    /// # Errors
    /// When it cannot be created.
    pub fn ensure(&self) -> Result<(), AppError> {
        std::fs::create_dir_all(&self.root).map_err(|e| AppError::file("creating", &self.root, e))
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The keychain namespace of this data home.
    pub fn keychain(&self) -> Keychain {
        Keychain::for_home(&self.root)
    }

    /// The audit log's database.
    pub fn audit_db(&self) -> PathBuf {
        self.root.join("audit.db")
    }

    /// The audit signing key's public half, beside the log.
    pub fn audit_public_key(&self) -> PathBuf {
        self.root.join("audit.pub")
    }

    /// Where periodic checkpoints are written.
    pub fn checkpoints(&self) -> PathBuf {
        self.root.join("checkpoints")
    }

    /// Where daily security reports are written.
    pub fn reports(&self) -> PathBuf {
        self.root.join("reports")
    }

    /// Where the person's own descriptor files live.
    pub fn descriptors_dir(&self) -> PathBuf {
        self.root.join("descriptors")
    }

    /// The person's own descriptor files (`descriptors/*.toml`), by name, in name order.
    ///
    /// # Errors
    /// When the directory or a file cannot be read.
    pub fn descriptor_files(&self) -> Result<Vec<(String, String)>, AppError> {
        let dir = self.root.join("descriptors");
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(AppError::file("reading", &dir, error)),
        };
        let mut files = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|e| AppError::file("reading", &dir, e))?
                .path();
            if path.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| AppError::file("reading", &path, e))?;
                files.push((path.display().to_string(), text));
            }
        }
        files.sort();
        Ok(files)
    }
}
