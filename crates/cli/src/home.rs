//! The data home: `COUNTERSIGN_HOME`, or the OS app-data directory (design.md §14).

use std::path::PathBuf;

use anyhow::Context as _;

/// Where Countersign keeps its files for one person.
pub struct DataHome {
    root: PathBuf,
}

impl DataHome {
    /// `COUNTERSIGN_HOME` when set, else `<app data>/countersign`.
    pub fn locate() -> anyhow::Result<Self> {
        let root = match std::env::var_os("COUNTERSIGN_HOME") {
            Some(home) if !home.is_empty() => PathBuf::from(home),
            _ => dirs::data_dir()
                .context("no application data directory: set COUNTERSIGN_HOME")?
                .join("countersign"),
        };
        Ok(Self { root })
    }

    /// The person's own descriptor files (`descriptors/*.toml`), by name, in name order.
    pub fn descriptor_files(&self) -> anyhow::Result<Vec<(String, String)>> {
        let dir = self.root.join("descriptors");
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(error).with_context(|| format!("reading {}", dir.display())),
        };
        let mut files = Vec::new();
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                files.push((path.display().to_string(), text));
            }
        }
        files.sort();
        Ok(files)
    }
}
