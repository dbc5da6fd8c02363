//! Any bytes as a proposal: reading and explaining never panic, and an explained proposal's
//! hash is stable when its canonical artifact is read back.
#![no_main]

use countersign_core::credential::{
    CredentialKind, CredentialMeta, HttpAuth, HttpScope, Registry, SmtpTls, SqlDialect,
};
use countersign_core::descriptor::Descriptors;
use countersign_core::json::Json;
use countersign_core::{Artifact, Context, Proposal, SecretProbe, Settings};
use libfuzzer_sys::fuzz_target;

fn registry() -> Registry {
    let http = CredentialMeta {
        name: "bank".into(),
        description: String::new(),
        kind: CredentialKind::Http {
            auth: HttpAuth::Bearer,
            scope: HttpScope {
                origins: vec!["https://api.bank.example".into()],
                methods: vec![],
                path_prefixes: vec!["/v1".into()],
            },
        },
        requires_second_factor: false,
        prescriber: None,
    };
    let sql = CredentialMeta {
        name: "db".into(),
        description: String::new(),
        kind: CredentialKind::Sql {
            dialect: SqlDialect::Postgres,
            url: "postgres://x@127.0.0.1/db".into(),
            read_only: false,
            max_rows: 100,
        },
        requires_second_factor: false,
        prescriber: None,
    };
    let smtp = CredentialMeta {
        name: "mail".into(),
        description: String::new(),
        kind: CredentialKind::Smtp {
            host: "127.0.0.1".into(),
            port: 25,
            tls: SmtpTls::PlainLoopback,
            username: "u".into(),
            from: "me@clinic.example".into(),
            allowed_domains: vec![],
        },
        requires_second_factor: false,
        prescriber: None,
    };
    Registry {
        credentials: vec![http, sql, smtp],
        plain_loopback_origins: vec![],
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(proposal) = Proposal::parse(text) else {
        return;
    };
    let registry = registry();
    let descriptors = Descriptors::shipped().unwrap();
    let settings = Settings::default();
    let secrets = [SecretProbe {
        credential: "bank",
        value: "fuzz-secret-value",
    }];
    let context = Context {
        registry: &registry,
        secrets: &secrets,
        descriptors: &descriptors,
        settings: &settings,
    };
    let _ = countersign_core::explain(&proposal, &context);
    let canonical = proposal.artifact.canonical();
    let reread = Artifact::from_json(&Json::parse(&canonical).unwrap(), "artifact").unwrap();
    assert_eq!(reread.sha256(), proposal.artifact.sha256());
});
