//! Filters and export formats (CSV, JSON).

use crate::entry::Entry;

/// Which entries to read. Empty fields match everything; times are RFC 3339 UTC and compare as
/// text, which orders them correctly because every entry's time has the same form.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Entries at or after this time (`2026-11-01` or `2026-11-01T09:00:00Z`).
    pub from: Option<String>,
    /// Entries before this time.
    pub to: Option<String>,
    /// Entries by this actor id (`person:alice`, `agent:claude`, `app`) or name.
    pub actor: Option<String>,
    /// Entries of this event (`decision.approved`).
    pub event: Option<String>,
    /// Entries about this proposal.
    pub proposal: Option<String>,
}

impl Filter {
    /// The WHERE clause and its bound values.
    pub(crate) fn sql(&self) -> (String, Vec<String>) {
        let mut conditions = Vec::new();
        let mut binds = Vec::new();
        if let Some(from) = &self.from {
            conditions.push("at >= ?");
            binds.push(from.clone());
        }
        if let Some(to) = &self.to {
            conditions.push("at < ?");
            binds.push(to.clone());
        }
        if let Some(actor) = &self.actor {
            conditions.push("(actor_id = ? OR actor_name = ?)");
            binds.push(actor.clone());
            binds.push(actor.clone());
        }
        if let Some(event) = &self.event {
            conditions.push("event = ?");
            binds.push(event.clone());
        }
        if let Some(proposal) = &self.proposal {
            conditions.push("proposal_id = ?");
            binds.push(proposal.clone());
        }
        if conditions.is_empty() {
            (String::new(), binds)
        } else {
            (format!("WHERE {}", conditions.join(" AND ")), binds)
        }
    }

    /// The filter as JSON, for the `audit.exported` entry.
    pub fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "from": self.from, "to": self.to, "actor": self.actor,
            "event": self.event, "proposal": self.proposal,
        })
    }
}

/// An export format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// RFC 4180 CSV with a header row.
    Csv,
    /// A JSON array of entries.
    Json,
}

impl ExportFormat {
    /// Writes entries in this format (what [`EntryWriter`] streams, as one text).
    pub fn write(self, entries: &[Entry]) -> String {
        let mut out = Vec::new();
        let mut writer = self.writer(&mut out);
        // Writing into memory cannot fail.
        let _ = writer
            .start()
            .and_then(|()| entries.iter().try_for_each(|e| writer.entry(e)))
            .and_then(|()| writer.finish());
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Writes entries one at a time in a format, so an export of any size is streamed.
pub struct EntryWriter<'a, W: std::io::Write> {
    format: ExportFormat,
    out: &'a mut W,
    first: bool,
}

impl ExportFormat {
    /// A writer of this format into `out`.
    pub fn writer<W: std::io::Write>(self, out: &mut W) -> EntryWriter<'_, W> {
        EntryWriter {
            format: self,
            out,
            first: true,
        }
    }
}

impl<W: std::io::Write> EntryWriter<'_, W> {
    /// Writes what comes before the first entry.
    ///
    /// # Errors
    /// When `out` cannot be written.
    pub fn start(&mut self) -> std::io::Result<()> {
        match self.format {
            ExportFormat::Csv => self.out.write_all(CSV_HEADER.as_bytes()),
            ExportFormat::Json => Ok(()),
        }
    }

    /// Writes one entry.
    ///
    /// # Errors
    /// When `out` cannot be written.
    pub fn entry(&mut self, e: &Entry) -> std::io::Result<()> {
        match self.format {
            ExportFormat::Csv => self.out.write_all(csv_line(e).as_bytes()),
            ExportFormat::Json => {
                // The same text `serde_json::to_string_pretty` gives for the whole array.
                let pretty = serde_json::to_string_pretty(e).map_err(std::io::Error::other)?;
                self.out
                    .write_all(if self.first { b"[\n" } else { b",\n" })?;
                self.first = false;
                for (i, line) in pretty.lines().enumerate() {
                    if i > 0 {
                        self.out.write_all(b"\n")?;
                    }
                    self.out.write_all(b"  ")?;
                    self.out.write_all(line.as_bytes())?;
                }
                Ok(())
            }
        }
    }

    /// Writes what comes after the last entry, and flushes.
    ///
    /// # Errors
    /// When `out` cannot be written.
    pub fn finish(&mut self) -> std::io::Result<()> {
        if self.format == ExportFormat::Json {
            self.out
                .write_all(if self.first { b"[]" } else { b"\n]" })?;
        }
        self.out.flush()
    }
}

const CSV_HEADER: &str = "seq,at,actor_kind,actor_id,actor_name,event,proposal_id,artifact_sha256,credential,outcome,details,prev_hash,entry_hash\r\n";

fn csv_line(e: &Entry) -> String {
    let fields = [
        e.seq.to_string(),
        e.at.clone(),
        e.actor.kind.as_str().to_owned(),
        e.actor.id.clone(),
        e.actor.name.clone(),
        e.event.clone(),
        e.proposal_id.clone().unwrap_or_default(),
        e.artifact_sha256.clone().unwrap_or_default(),
        e.credential.clone().unwrap_or_default(),
        e.outcome.clone().unwrap_or_default(),
        e.details.clone(),
        e.prev_hash.clone(),
        e.entry_hash.clone(),
    ];
    let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    format!("{}\r\n", line.join(","))
}

/// Quotes a CSV field when needed, and defuses spreadsheet formulas (a field starting with
/// `=`, `+`, `-`, `@` is prefixed with `'`), since exports are opened by people in spreadsheets.
fn csv_field(value: &str) -> String {
    let defused = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }

    #[test]
    fn streamed_json_is_the_pretty_array() {
        let entry = |seq: i64| Entry {
            seq,
            at: "2026-12-02T07:00:00.000000Z".into(),
            actor: crate::Actor::person("alice"),
            event: "decision.approved".into(),
            proposal_id: Some("prop_1".into()),
            artifact_sha256: None,
            credential: None,
            outcome: Some("ok".into()),
            details: r#"{"a":[1,2],"b":"line\nbreak"}"#.into(),
            prev_hash: "00".repeat(32),
            entry_hash: "11".repeat(32),
        };
        for n in [0, 1, 3] {
            let entries: Vec<Entry> = (1..=n).map(entry).collect();
            assert_eq!(
                ExportFormat::Json.write(&entries),
                serde_json::to_string_pretty(&entries).unwrap()
            );
        }
    }
}
