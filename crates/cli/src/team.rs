//! `countersign team init|join|status|rule` and `countersign person add|list|disable|confirm`
//! (design.md §19). The team's rules live in `countersign_app::team`; this adapter reads the
//! arguments, the database password (never from the command line) and the signed-in person's
//! code, and prints.

use std::io::{BufRead as _, IsTerminal as _};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Subcommand;
use countersign_app::team::{Enrolment, Rule, SignedIn, Team, TeamConfig};
use countersign_app::{Audit, DataHome};

use crate::credential::read_secret;

#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Make a team on a PostgreSQL database, with you as its first person and admin; this data
    /// home joins it. The database password is read from the terminal without echo, or from
    /// standard input; it is kept in your keychain.
    Init {
        /// postgres://USER@HOST:PORT/DATABASE (no password in it). Give your name in the team
        /// with --as NAME: others see it in the audit log.
        #[arg(long)]
        database: String,
    },
    /// Join this data home (this desk) to a team already made on a PostgreSQL database.
    Join {
        /// postgres://USER@HOST:PORT/DATABASE (no password in it).
        #[arg(long)]
        database: String,
    },
    /// Say which team this data home is in.
    Status,
    /// The team's rules: who may decide what, and what needs two people.
    #[command(subcommand)]
    Rule(RuleCommand),
}

#[derive(Debug, Subcommand)]
pub enum RuleCommand {
    /// Add a rule (an admin does this, with --as NAME): either only a ROLE decides what uses a
    /// credential (`--credential NAME --role ROLE`), or payments over an amount need two
    /// different people (`--two-people-over "500 USD"`, on one credential with --credential).
    Add {
        /// The credential the rule is about (required with --role).
        #[arg(long)]
        credential: Option<String>,
        /// The role that decides what uses the credential.
        #[arg(long, conflicts_with = "two_people_over")]
        role: Option<String>,
        /// An amount and its currency, like "500 USD": payments over it need two people.
        #[arg(long)]
        two_people_over: Option<String>,
    },
    /// List the team's rules, with their numbers.
    List,
    /// Remove a rule by its number (an admin does this, with --as NAME).
    Remove {
        /// The rule's number, from `team rule list`.
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum PersonCommand {
    /// Add a person to the team and print their second-factor enrolment once (an admin does
    /// this). `prescriber` needs --dea-number and --address and waits for a second person.
    Add {
        /// Their name.
        name: String,
        /// A role (repeat for several): admin, prescriber, or your own (nurse, billing…).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Their DEA registration number, for a prescriber.
        #[arg(long)]
        dea_number: Option<String>,
        /// Their practice address, for a prescriber (shown in the prescription's signing block).
        #[arg(long)]
        address: Option<String>,
    },
    /// List the team's people and their roles (never their second factor).
    List,
    /// Disable a person at once: they can no longer sign in.
    Disable {
        /// Their name.
        name: String,
    },
    /// Confirm a role waiting for a second person (prescriber: you are a prescriber, or the
    /// registrant themselves).
    Confirm {
        /// The person the role is for.
        name: String,
        /// The role.
        #[arg(long)]
        role: String,
    },
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn print_enrolment(enrolment: &Enrolment) {
    println!("Second factor for {}:", enrolment.name);
    println!("  {}", enrolment.uri.expose());
    println!(
        "  (or type this secret into the authenticator: {})",
        enrolment.secret.expose()
    );
    eprintln!(
        "This is shown only now. {} adds it to their authenticator app, then signs in with its code.",
        enrolment.name
    );
}

pub fn run_team(command: TeamCommand) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let home = DataHome::locate()?;
        match command {
            TeamCommand::Init { database } => {
                let founder = crate::acting_as()
                    .ok_or_else(|| anyhow::anyhow!("give your name in the team with --as NAME"))?
                    .to_owned();
                let password = read_secret("Team database password: ")?;
                let enrolment = Team::init(&home, &database, &password, &founder).await?;
                println!("Made the team on {database}; this desk is in it, and you are its admin.");
                print_enrolment(&enrolment);
            }
            TeamCommand::Join { database } => {
                let password = read_secret("Team database password: ")?;
                Team::join(&home, &database, &password).await?;
                println!("This desk joined the team on {database}. Sign in with: countersign review --as NAME");
            }
            TeamCommand::Status => match TeamConfig::read(&home)? {
                Some(config) => println!("In the team on {}.", config.database),
                None => println!("Not in a team: this data home is one person's, with its own audit log."),
            },
            TeamCommand::Rule(command) => run_rule(&home, command).await?,
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn parse_rule(
    credential: Option<String>,
    role: Option<String>,
    two_people_over: Option<String>,
) -> anyhow::Result<Rule> {
    match (role, two_people_over) {
        (Some(role), None) => Ok(Rule::Decide {
            credential: credential.ok_or_else(|| {
                anyhow::anyhow!("say which credential the role decides with --credential NAME")
            })?,
            role,
        }),
        (None, Some(over)) => {
            let mut words = over.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some(amount), Some(currency), None) => Ok(Rule::TwoPeople {
                    amount: amount.to_owned(),
                    currency: currency.to_owned(),
                    credential,
                }),
                _ => anyhow::bail!(
                    "write the amount and its currency, like --two-people-over \"500 USD\""
                ),
            }
        }
        _ => anyhow::bail!(
            "give either --credential NAME --role ROLE, or --two-people-over \"AMOUNT CURRENCY\""
        ),
    }
}

async fn run_rule(home: &DataHome, command: RuleCommand) -> anyhow::Result<()> {
    let audit = Arc::new(Audit::open(home, countersign_app::person()).await?);
    let team = Team::open(home, audit)?.ok_or_else(|| {
        anyhow::anyhow!("this data home is not in a team: countersign team init or team join first")
    })?;
    match command {
        RuleCommand::Add {
            credential,
            role,
            two_people_over,
        } => {
            let rule = parse_rule(credential, role, two_people_over)?;
            let by = sign_in(&team, signer()?).await?;
            let id = team.add_rule(&by, &rule).await?;
            println!("Rule {id} added: {}.", rule.words());
        }
        RuleCommand::List => {
            let rules = team.rules().await?;
            if rules.is_empty() {
                println!(
                    "The team has no rules beyond the built-in one: only a prescriber signs a controlled-substance prescription."
                );
            }
            for info in rules {
                println!(
                    "{}\t{}\tadded by {}",
                    info.id,
                    info.rule.words(),
                    info.added_by
                );
            }
        }
        RuleCommand::Remove { id } => {
            let by = sign_in(&team, signer()?).await?;
            team.remove_rule(&by, id).await?;
            println!("Rule {id} removed.");
        }
    }
    Ok(())
}

/// Reads the code of `name`'s second factor (from the terminal, or a line of standard input)
/// and signs them in.
pub(crate) async fn sign_in(team: &Team, name: &str) -> anyhow::Result<SignedIn> {
    let code = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("Second factor code for {name}: "))
            .context("reading the code")?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the code from standard input")?;
        line
    };
    Ok(team.sign_in(name, code.trim()).await?)
}

/// Who signs a change to the team's people: `--as`.
fn signer() -> anyhow::Result<&'static str> {
    crate::acting_as().ok_or_else(|| anyhow::anyhow!("say who you are with --as NAME"))
}

pub fn run_person(command: PersonCommand) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let home = DataHome::locate()?;
        let audit = Arc::new(Audit::open(&home, countersign_app::person()).await?);
        let team = Team::open(&home, audit)?.ok_or_else(|| {
            anyhow::anyhow!("this data home is not in a team: countersign team init or team join first")
        })?;
        match command {
            PersonCommand::Add { name, roles, dea_number, address } => {
                let by = sign_in(&team, signer()?).await?;
                let enrolment = team
                    .add_person(&by, &name, &roles, dea_number.as_deref(), address.as_deref())
                    .await?;
                println!("Added {name}.");
                if roles.iter().any(|r| r == countersign_app::team::PRESCRIBER) {
                    println!("Their prescriber role waits for a second person: countersign person confirm \"{name}\" --role prescriber --as NAME");
                }
                print_enrolment(&enrolment);
            }
            PersonCommand::List => {
                for p in team.people().await? {
                    let mut line = format!("{}\t{}", p.name, if p.roles.is_empty() { "no roles".to_owned() } else { p.roles.join(", ") });
                    if !p.pending_roles.is_empty() {
                        line.push_str(&format!("\twaiting for a second person: {}", p.pending_roles.join(", ")));
                    }
                    if let Some(number) = &p.dea_number {
                        line.push_str(&format!("\tDEA {number}"));
                    }
                    if let Some(at) = &p.disabled_at {
                        line.push_str(&format!("\tdisabled {at}"));
                    }
                    println!("{line}");
                }
            }
            PersonCommand::Disable { name } => {
                let by = sign_in(&team, signer()?).await?;
                team.disable(&by, &name).await?;
                println!("Disabled {name}: they can no longer sign in.");
            }
            PersonCommand::Confirm { name, role } => {
                let by = sign_in(&team, signer()?).await?;
                team.confirm_role(&by, &name, &role).await?;
                println!("{name} is now {role}.");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
