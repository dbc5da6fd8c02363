//! The person's settings (design.md §15): auto-lock, the money threshold over which approval
//! needs the second factor. Kept in `settings.json` in the data home, replaced atomically, and
//! every change recorded as `settings.changed` before it takes effect.

use countersign_audit::{Event, NewEntry};
use countersign_core::money::Decimal;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::audit::Audit;
use crate::error::AppError;
use crate::home::DataHome;

/// Minutes of inactivity before the app locks, until the person chooses otherwise.
pub const DEFAULT_AUTO_LOCK_SECONDS: u32 = 15 * 60;

/// An amount over which approving a payment needs the second factor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct MoneyThreshold {
    /// The amount in major units, as the person typed it (`500`, `1250.50`).
    pub amount: String,
    /// The ISO 4217 currency code (`USD`).
    pub currency: String,
}

/// The person's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct Settings {
    /// Seconds without any input before the app locks itself; 0 never locks.
    pub auto_lock_seconds: u32,
    /// Payments over this need the second factor; none until the person sets one.
    pub threshold: Option<MoneyThreshold>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            auto_lock_seconds: DEFAULT_AUTO_LOCK_SECONDS,
            threshold: None,
        }
    }
}

impl Settings {
    /// Reads `settings.json`; the defaults when there is none yet.
    ///
    /// # Errors
    /// When the file exists but cannot be read or is not valid.
    pub fn load(home: &DataHome) -> Result<Settings, AppError> {
        let path = home.root().join("settings.json");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                serde_json::from_str(&text).map_err(|e| AppError::file("reading", &path, e))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(error) => Err(AppError::file("reading", &path, error)),
        }
    }

    /// Checks the values a person typed.
    ///
    /// # Errors
    /// [`AppError::NotAllowed`] naming what is wrong.
    pub fn check(&self) -> Result<(), AppError> {
        if let Some(threshold) = &self.threshold {
            let amount = Decimal::parse(threshold.amount.trim()).ok_or_else(|| {
                AppError::NotAllowed(format!(
                    "“{}” is not an amount; write it like 500 or 1250.50",
                    threshold.amount
                ))
            })?;
            let _ = amount;
            let currency = threshold.currency.trim();
            if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(AppError::NotAllowed(format!(
                    "“{}” is not a currency code; write three capital letters like USD",
                    threshold.currency
                )));
            }
        }
        Ok(())
    }

    /// The settings explanations use.
    pub fn for_explanations(&self) -> countersign_core::Settings {
        countersign_core::Settings {
            threshold: self.threshold.as_ref().and_then(|t| {
                Some(countersign_core::Threshold {
                    amount: Decimal::parse(t.amount.trim())?,
                    currency: t.currency.trim().to_owned(),
                })
            }),
            known_recipients: Vec::new(),
        }
    }

    /// Records `settings.changed` with the old and new values, then replaces the file.
    ///
    /// # Errors
    /// When a value is not acceptable, or the log or the file cannot be written.
    pub async fn save(&self, home: &DataHome, audit: &Audit) -> Result<(), AppError> {
        self.check()?;
        let before = Settings::load(home)?;
        if &before == self {
            return Ok(());
        }
        let entry = NewEntry::new(audit.actor().clone(), Event::SettingsChanged)
            .details(serde_json::json!({ "before": before, "after": self }));
        audit.record(entry).await?;
        let path = home.root().join("settings.json");
        let text =
            serde_json::to_string_pretty(self).map_err(|e| AppError::file("writing", &path, e))?;
        crate::audit::write_file(&path, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_checked_in_words() {
        let mut settings = Settings {
            threshold: Some(MoneyThreshold {
                amount: "five hundred".into(),
                currency: "USD".into(),
            }),
            ..Settings::default()
        };
        assert!(
            settings
                .check()
                .unwrap_err()
                .to_string()
                .contains("not an amount")
        );
        settings.threshold = Some(MoneyThreshold {
            amount: "500".into(),
            currency: "usd".into(),
        });
        assert!(
            settings
                .check()
                .unwrap_err()
                .to_string()
                .contains("currency code")
        );
        settings.threshold = Some(MoneyThreshold {
            amount: "500".into(),
            currency: "USD".into(),
        });
        settings.check().unwrap();
        assert!(settings.for_explanations().threshold.is_some());
    }

    #[test]
    fn the_cache_sees_every_replacement_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let home = DataHome::at(dir.path().to_path_buf());
        let cache = SettingsCache::default();
        assert_eq!(cache.current(&home).unwrap(), Settings::default());
        let with = |amount: &str| Settings {
            threshold: Some(MoneyThreshold {
                amount: amount.into(),
                currency: "USD".into(),
            }),
            ..Settings::default()
        };
        let path = dir.path().join("settings.json");
        for amount in ["500", "600", "700"] {
            // The same length each time: only the new file (inode) tells them apart.
            crate::write_durably(&path, &serde_json::to_string(&with(amount)).unwrap()).unwrap();
            assert_eq!(cache.current(&home).unwrap(), with(amount));
            assert_eq!(cache.current(&home).unwrap(), with(amount));
        }
        std::fs::remove_file(&path).unwrap();
        assert_eq!(cache.current(&home).unwrap(), Settings::default());
    }
}

/// `settings.json` as last read, with the file's identity and size when it was read: a
/// submission checks the file's metadata (one `stat`) instead of reading and parsing it, and
/// reads it again as soon as it was replaced (settings are written by rename, so a change is a
/// new inode) or changed size or time.
#[derive(Default)]
pub(crate) struct SettingsCache(std::sync::Mutex<Option<(Stamp, Settings)>>);

#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp {
    inode: u64,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl SettingsCache {
    /// The settings now in force.
    ///
    /// # Errors
    /// When the file exists and cannot be read.
    pub(crate) fn current(&self, home: &DataHome) -> Result<Settings, AppError> {
        let path = home.root().join("settings.json");
        let stamp = match std::fs::metadata(&path) {
            Ok(meta) => Some(Stamp {
                inode: inode(&meta),
                len: meta.len(),
                modified: meta.modified().ok(),
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => return Err(AppError::file("reading", &path, error)),
        };
        let Ok(mut held) = self.0.lock() else {
            return Settings::load(home);
        };
        let Some(stamp) = stamp else {
            *held = None;
            return Ok(Settings::default());
        };
        if let Some((seen, settings)) = held.as_ref()
            && *seen == stamp
        {
            return Ok(settings.clone());
        }
        let settings = Settings::load(home)?;
        *held = Some((stamp, settings.clone()));
        Ok(settings)
    }
}

#[cfg(unix)]
fn inode(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    meta.ino()
}

#[cfg(not(unix))]
fn inode(_meta: &std::fs::Metadata) -> u64 {
    0
}
