//! The first-run guide's side of the desk: whether the app opens on it, what each step needs,
//! and remembering that the person finished or skipped it.
//!
//! The guide opens by itself only on a desk of one's own that has no credential yet and whose
//! guide was neither finished nor skipped; the demo and a team's desks never show it (a team's
//! administrator set those up). Once finished or skipped it stays reachable from Settings. The
//! marker is a file, `first-run.json`, written atomically: losing it only shows the guide again.

use super::Desk;
use crate::error::AppError;
use crate::views::{AgentView, FirstRunView};

/// The file that says the guide was finished or skipped.
pub const FIRST_RUN_FILE: &str = "first-run.json";

impl Desk {
    /// The guide's state and the templates it offers.
    ///
    /// # Errors
    /// When locked, or the credentials, agents or keychain cannot be read.
    pub async fn first_run(&self) -> Result<FirstRunView, AppError> {
        let credentials: Vec<String> = self
            .credentials()
            .await?
            .into_iter()
            .map(|c| c.name)
            .collect();
        let agents: Vec<AgentView> = self
            .agents()
            .await?
            .into_iter()
            .filter(|a| a.revoked_at.is_none())
            .collect();
        let finished = self.home.root().join(FIRST_RUN_FILE).exists();
        Ok(FirstRunView {
            opens: !self.demo && self.seat.is_none() && credentials.is_empty() && !finished,
            second_factor_enrolled: self.second_factor.enrolled()?.is_some(),
            credentials,
            agents,
            templates: self.credential_templates(),
        })
    }

    /// The ready-made credential starts, for the scope builder.
    pub fn credential_templates(&self) -> Vec<crate::views::CredentialTemplate> {
        crate::templates::credential_templates()
    }

    /// Remembers that the person finished (`skipped` false) or skipped the guide, so the app
    /// opens on the inbox from now on.
    ///
    /// # Errors
    /// When locked or the file cannot be written.
    pub fn finish_first_run(&self, skipped: bool) -> Result<(), AppError> {
        self.guard()?;
        let path = self.home.root().join(FIRST_RUN_FILE);
        let text = serde_json::json!({
            "finished_at": crate::store::now_text(),
            "skipped": skipped,
        })
        .to_string();
        crate::audit::write_file(&path, &text)
    }
}
