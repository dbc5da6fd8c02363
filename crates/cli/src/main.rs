//! `countersign`: the terminal face of Countersign.
//!
//! This binary is an adapter. It parses arguments, calls the library crates and prints what they
//! return; it holds no business logic of its own (design.md §1, invariant 7).

use clap::Parser;

/// Let AI agents propose actions that only you can approve.
///
/// Agents never hold your passwords or keys. They propose an exact HTTP call, SQL statement or
/// email; Countersign explains it in plain words, you approve or reject it, and only then does it
/// run, once, with a secret kept in your system keychain.
#[derive(Debug, Parser)]
#[command(name = "countersign", version, about, long_about)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let Cli {} = Cli::parse();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn arguments_are_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn version_names_the_package_version() {
        let version = Cli::command().render_version();
        assert_eq!(
            version.trim(),
            format!("countersign {}", env!("CARGO_PKG_VERSION"))
        );
    }
}
