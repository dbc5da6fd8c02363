//! `countersign descriptor import FILE`: descriptors from an OpenAPI document.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use countersign_app::DataHome;

#[derive(Debug, Subcommand)]
pub enum DescriptorCommand {
    /// Read an OpenAPI 3 document (JSON or YAML) and write descriptors for its operations to the
    /// data home (`descriptors/NAME.toml`), where they explain that API from then on. Review the
    /// file: its words are the provider's summaries, its fields the document's schema.
    Import {
        /// The OpenAPI document.
        file: PathBuf,
        /// The pack's name (defaults to the file's name).
        #[arg(long)]
        name: Option<String>,
        /// Write over a pack of the same name.
        #[arg(long)]
        replace: bool,
    },
}

pub fn run(command: DescriptorCommand) -> anyhow::Result<ExitCode> {
    match command {
        DescriptorCommand::Import {
            file,
            name,
            replace,
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let name = name.unwrap_or_else(|| {
                file.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
            let home = DataHome::locate()?;
            let (path, imported) =
                countersign_app::openapi::import_into(&home, &text, &name, replace)?;
            println!(
                "Wrote {} descriptors to {}. Read it through before you rely on it.",
                imported.count,
                path.display()
            );
            for skipped in &imported.skipped {
                println!("Left out {skipped}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
