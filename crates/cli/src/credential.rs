//! `countersign credential add|list|remove|templates`.

use std::io::{IsTerminal as _, Read as _};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use countersign_app::{Credentials, DataHome};
use countersign_core::credential::{
    CredentialKind, CredentialMeta, HttpAuth, HttpScope, SmtpTls, SqlDialect,
};
use countersign_vault::Secret;

// Parsed once per run: the size of the `Add` variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum CredentialCommand {
    /// Add a credential. The secret (a token; `user:password` for basic; a password) is read
    /// from the terminal without echo, or from standard input when it is not a terminal; never
    /// from the command line.
    Add {
        /// The name agents will use.
        name: String,
        /// What kind of credential.
        #[arg(long, value_enum)]
        kind: Kind,
        /// What it is for, in your words.
        #[arg(long, default_value = "")]
        description: String,
        /// http: where the secret goes: bearer, basic, header:NAME or query:NAME.
        #[arg(long, required_if_eq("kind", "http"))]
        auth: Option<String>,
        /// http: an origin it may be sent to (repeat for several), e.g. https://api.example.com.
        #[arg(long = "origin")]
        origins: Vec<String>,
        /// http: an allowed method (repeat for several; none means any).
        #[arg(long = "method")]
        methods: Vec<String>,
        /// http: an allowed path prefix (repeat for several; none means any path).
        #[arg(long = "path-prefix")]
        path_prefixes: Vec<String>,
        /// sql: the database's dialect.
        #[arg(long, value_enum, required_if_eq("kind", "sql"))]
        dialect: Option<Dialect>,
        /// sql: the connection URL without the password.
        #[arg(long, required_if_eq("kind", "sql"))]
        url: Option<String>,
        /// sql: allow statements that change data (read-only by default).
        #[arg(long)]
        read_write: bool,
        /// sql: the most rows a read returns.
        #[arg(long, default_value_t = 500)]
        max_rows: u64,
        /// smtp: the server's host name.
        #[arg(long, required_if_eq("kind", "smtp"))]
        host: Option<String>,
        /// smtp: the server's port.
        #[arg(long, required_if_eq("kind", "smtp"))]
        port: Option<u16>,
        /// smtp: how the connection is secured.
        #[arg(long, value_enum, required_if_eq("kind", "smtp"))]
        tls: Option<Tls>,
        /// smtp: the login user name.
        #[arg(long, required_if_eq("kind", "smtp"))]
        username: Option<String>,
        /// smtp: the From address every email is sent from.
        #[arg(long, required_if_eq("kind", "smtp"))]
        from: Option<String>,
        /// smtp: a recipient domain allowed (repeat for several; none means any).
        #[arg(long = "allowed-domain")]
        allowed_domains: Vec<String>,
        /// Ask for the second factor every time this credential is used.
        #[arg(long)]
        second_factor: bool,
        /// http (clinic records): the prescriber's full name, for the EPCS signing block.
        #[arg(long, requires_all = ["prescriber_address", "dea_number"])]
        prescriber_name: Option<String>,
        /// http (clinic records): the prescriber's practice address.
        #[arg(long, requires = "prescriber_name")]
        prescriber_address: Option<String>,
        /// http (clinic records): the prescriber's DEA registration number.
        #[arg(long, requires = "prescriber_name")]
        dea_number: Option<String>,
    },
    /// List credentials (names, kinds, scopes; never secrets).
    List,
    /// Remove a credential and its secret.
    Remove {
        /// The credential's name.
        name: String,
    },
    /// The ready-made starts the app's first-run guide offers (Stripe, Gmail, a FHIR server…),
    /// each as the `credential add` line it fills in and what is left to type.
    Templates,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// An API token or password for web requests.
    Http,
    /// A database login.
    Sql,
    /// An email account.
    Smtp,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    Mysql,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Tls {
    /// STARTTLS on a plain connection.
    Starttls,
    /// TLS from the first byte.
    #[value(name = "tls")]
    Implicit,
    /// No encryption: only for a server on this computer.
    PlainLoopback,
}

fn parse_auth(text: &str) -> anyhow::Result<HttpAuth> {
    Ok(match text.split_once(':') {
        None if text == "bearer" => HttpAuth::Bearer,
        None if text == "basic" => HttpAuth::Basic,
        Some(("header", name)) => HttpAuth::Header(name.to_owned()),
        Some(("query", name)) => HttpAuth::Query(name.to_owned()),
        _ => anyhow::bail!("--auth must be bearer, basic, header:NAME or query:NAME, not {text:?}"),
    })
}

pub(crate) fn read_secret(prompt: &str) -> anyhow::Result<Secret> {
    let value = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt).context("reading the secret from the terminal")?
    } else {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the secret from standard input")?;
        // One trailing line break is the end of the input, not part of the secret.
        let trimmed = text
            .strip_suffix('\n')
            .map(|t| t.strip_suffix('\r').unwrap_or(t))
            .unwrap_or(&text);
        trimmed.to_owned()
    };
    Ok(Secret::new(value))
}

pub fn run(command: CredentialCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        if matches!(command, CredentialCommand::Templates) {
            for template in countersign_app::templates::credential_templates() {
                println!("{}: {}", template.key, template.title);
                println!("  {}", template.words);
                println!("  countersign credential add {}", add_flags(&template.form));
                if let Some(left) = &template.to_fill {
                    println!("  Still to type: {left}.");
                }
                // Words saying where to find the secret (a description), never a value.
                match &template.secret_words {
                    Some(words) => println!("  The secret it asks for: {words}."),
                    None => println!("  No secret is needed."),
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        let home = DataHome::locate()?;
        let audit = crate::acting_audit(&home).await?;
        let credentials = Credentials::open(&home).await?;
        match command {
            CredentialCommand::Add {
                name, kind, description, auth, origins, methods, path_prefixes, dialect, url,
                read_write, max_rows, host, port, tls, username, from, allowed_domains, second_factor,
                prescriber_name, prescriber_address, dea_number,
            } => {
                let missing = |flag: &str| anyhow::anyhow!("--{flag} is required for this kind");
                let kind = match kind {
                    Kind::Http => CredentialKind::Http {
                        auth: parse_auth(auth.as_deref().ok_or_else(|| missing("auth"))?)?,
                        scope: HttpScope {
                            origins,
                            methods: methods.iter().map(|m| m.to_ascii_uppercase()).collect(),
                            path_prefixes,
                        },
                    },
                    Kind::Sql => CredentialKind::Sql {
                        dialect: match dialect.ok_or_else(|| missing("dialect"))? {
                            Dialect::Sqlite => SqlDialect::Sqlite,
                            Dialect::Postgres => SqlDialect::Postgres,
                            Dialect::Mysql => SqlDialect::Mysql,
                        },
                        url: url.ok_or_else(|| missing("url"))?,
                        read_only: !read_write,
                        max_rows,
                    },
                    Kind::Smtp => CredentialKind::Smtp {
                        host: host.ok_or_else(|| missing("host"))?,
                        port: port.ok_or_else(|| missing("port"))?,
                        tls: match tls.ok_or_else(|| missing("tls"))? {
                            Tls::Starttls => SmtpTls::Starttls,
                            Tls::Implicit => SmtpTls::Tls,
                            Tls::PlainLoopback => SmtpTls::PlainLoopback,
                        },
                        username: username.ok_or_else(|| missing("username"))?,
                        from: from.ok_or_else(|| missing("from"))?,
                        allowed_domains,
                    },
                };
                let prescriber = match (prescriber_name, prescriber_address, dea_number) {
                    (Some(name), Some(address), Some(dea_number)) => {
                        Some(countersign_core::credential::Prescriber { name, address, dea_number })
                    }
                    _ => None,
                };
                let meta = CredentialMeta { name, description, kind, requires_second_factor: second_factor, prescriber };
                countersign_app::check_credential(&meta)?;
                let secret = if countersign_app::needs_no_secret(&meta) {
                    Secret::new(String::new())
                } else {
                    read_secret(&format!("Secret for {} (not shown): ", meta.name))?
                };
                credentials.add(&audit, &meta, &secret).await?;
                if countersign_app::needs_no_secret(&meta) {
                    println!("Added the credential “{}”. A SQLite file needs no secret.", meta.name);
                } else {
                    println!("Added the credential “{}”. Its secret is in the system keychain.", meta.name);
                }
            }
            CredentialCommand::List => {
                let list = credentials.list().await?;
                if list.is_empty() {
                    println!("No credentials yet. Add one with: countersign credential add NAME --kind http|sql|smtp …");
                }
                let missing = credentials.needing_their_secret().await?;
                for meta in list {
                    let note = if missing.contains(&meta.name) {
                        "\tneeds its secret typed again on this computer: remove it and add it again with its secret"
                    } else {
                        ""
                    };
                    println!("{}\t{}\t{}\t{}{note}", meta.name, meta.kind_name(), scope_words(&meta.kind), meta.description);
                }
            }
            CredentialCommand::Remove { name } => {
                credentials.remove(&audit, &name).await?;
                println!("Removed the credential “{name}” and its secret.");
            }
            CredentialCommand::Templates => {}
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The `credential add` arguments a template fills in; what it leaves empty is left out, so
/// clap asks for it by name.
fn add_flags(form: &countersign_app::views::CredentialForm) -> String {
    let mut flags = vec![form.name.clone(), format!("--kind {}", form.kind)];
    if !form.description.is_empty() {
        flags.push(format!("--description '{}'", form.description));
    }
    match form.kind.as_str() {
        "http" => {
            flags.push(format!("--auth {}", form.auth));
            flags.extend(form.origins.iter().map(|o| format!("--origin {o}")));
            flags.extend(form.methods.iter().map(|m| format!("--method {m}")));
            flags.extend(
                form.path_prefixes
                    .iter()
                    .map(|p| format!("--path-prefix {p}")),
            );
        }
        "sql" => {
            flags.push(format!("--dialect {}", form.dialect));
            if !form.url.is_empty() {
                flags.push(format!("--url {}", form.url));
            }
            if form.read_write {
                flags.push("--read-write".into());
            }
        }
        _ => {
            for (flag, value) in [
                ("host", &form.host),
                ("username", &form.username),
                ("from", &form.from),
            ] {
                if !value.is_empty() {
                    flags.push(format!("--{flag} {value}"));
                }
            }
            flags.push(format!("--port {}", form.port));
            flags.push(format!("--tls {}", form.tls));
        }
    }
    if form.second_factor {
        flags.push("--second-factor".into());
    }
    flags.join(" ")
}

fn scope_words(kind: &CredentialKind) -> String {
    match kind {
        CredentialKind::Http { scope, .. } => {
            let methods = if scope.methods.is_empty() {
                "any method".to_owned()
            } else {
                scope.methods.join(",")
            };
            let paths = if scope.path_prefixes.is_empty() {
                "any path".to_owned()
            } else {
                scope.path_prefixes.join(",")
            };
            format!("{} ({methods}; {paths})", scope.origins.join(","))
        }
        CredentialKind::Sql {
            url,
            read_only,
            max_rows,
            ..
        } => {
            format!(
                "{url} ({}, at most {max_rows} rows)",
                if *read_only {
                    "read-only"
                } else {
                    "read-write"
                }
            )
        }
        CredentialKind::Smtp {
            host,
            port,
            from,
            allowed_domains,
            ..
        } => {
            let to = if allowed_domains.is_empty() {
                "any recipient".to_owned()
            } else {
                allowed_domains.join(",")
            };
            format!("{host}:{port} from {from} ({to})")
        }
    }
}
