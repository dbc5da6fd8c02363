//! Email artifacts: the account, every address, attachments, and words for them.

use base64::Engine as _;

use super::sensitive::sensitive_value;
use super::{Context, Draft, unknown};
use crate::address::{self, Address};
use crate::artifact::EmailArtifact;
use crate::credential::CredentialKind;
use crate::explanation::{Action, RiskCode};
use crate::refusal::{Refusal, RefusalCode};

/// Extensions of files that can run code or hide macros.
const RISKY_EXTENSIONS: &[&str] = &[
    "exe", "com", "bat", "cmd", "scr", "pif", "msi", "msp", "js", "jse", "vbs", "vbe", "wsf",
    "wsh", "ps1", "psm1", "hta", "jar", "lnk", "reg", "cpl", "dll", "sh", "app", "dmg", "pkg",
    "iso", "img", "vhd", "docm", "xlsm", "pptm", "html", "htm", "svg", "one", "apk",
];

pub fn explain(artifact: &EmailArtifact, context: &Context<'_>) -> Result<Draft, Refusal> {
    let credential = context.registry.get(&artifact.account).ok_or_else(|| {
        unknown(
            RefusalCode::UnknownAccount,
            "email account",
            &artifact.account,
            "artifact.account",
        )
    })?;
    let CredentialKind::Smtp {
        from,
        allowed_domains,
        ..
    } = &credential.kind
    else {
        return Err(unknown(
            RefusalCode::UnknownAccount,
            "email account",
            &artifact.account,
            "artifact.account",
        ));
    };
    if artifact.subject.contains(['\r', '\n']) {
        return Err(Refusal::new(
            RefusalCode::HeaderInjection,
            "The subject contains a line break, which could add hidden headers or recipients.",
        )
        .at("artifact.subject"));
    }
    let mut parsed: Vec<(&'static str, Address)> = Vec::new();
    for (list, addresses) in [
        ("to", &artifact.to),
        ("cc", &artifact.cc),
        ("bcc", &artifact.bcc),
    ] {
        for (i, raw) in addresses.iter().enumerate() {
            parsed.push((list, address::parse(raw, &format!("artifact.{list}[{i}]"))?));
        }
    }
    if parsed.is_empty() {
        return Err(
            Refusal::new(RefusalCode::InvalidAddress, "The email has no recipients.")
                .at("artifact.to"),
        );
    }
    if !allowed_domains.is_empty()
        && let Some((list, outside)) = parsed.iter().find(|(_, a)| {
            !allowed_domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(&a.domain))
        })
    {
        {
            return Err(Refusal::new(
                RefusalCode::CredentialScopeViolation,
                format!(
                    "The account “{}” may only send to {}; {} is outside.",
                    artifact.account,
                    allowed_domains.join(", "),
                    outside.display()
                ),
            )
            .at(format!("artifact.{list}")));
        }
    }
    let from_domain = from
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default();

    let mut draft = Draft {
        action: Some(Action::SendEmail),
        writes: true,
        ..Draft::default()
    };
    let visible: Vec<&Address> = parsed
        .iter()
        .filter(|(l, _)| *l != "bcc")
        .map(|(_, a)| a)
        .collect();
    let first = visible
        .first()
        .copied()
        .or_else(|| parsed.first().map(|(_, a)| a))
        .map(Address::display)
        .unwrap_or_default();
    let others = parsed.len() - 1;
    let to_words = match others {
        0 => first,
        1 => format!("{first} and 1 other"),
        n => format!("{first} and {n} others"),
    };
    draft.headline = format!("Email “{}” to {to_words}", artifact.subject);
    draft.detail("From", from);
    for (list, label) in [
        ("to", "To"),
        ("cc", "Cc"),
        ("bcc", "Bcc (hidden from the others)"),
    ] {
        let shown: Vec<String> = parsed
            .iter()
            .filter(|(l, _)| *l == list)
            .map(|(_, a)| a.display())
            .collect();
        if !shown.is_empty() {
            draft.detail(label, shown.join(", "));
        }
    }
    draft.detail("Subject", &artifact.subject);
    draft.detail("Message", &artifact.text);
    draft.flag(RiskCode::Irreversible);

    for (list, address) in &parsed {
        draft
            .counterparties
            .push(address.ascii().to_ascii_lowercase());
        if let Some(why) = &address.lookalike {
            draft.risks.flag(
                RiskCode::Lookalike,
                format!(
                    "The address {} may be a disguise: {why}.",
                    address.display()
                ),
            );
        }
        if !from_domain.is_empty() && address.domain != from_domain {
            draft.risks.flag(
                RiskCode::ExternalRecipient,
                format!(
                    "{} is outside your organisation ({from_domain}).",
                    address.display()
                ),
            );
        }
        let known = context
            .settings
            .known_recipients
            .iter()
            .any(|k| k.eq_ignore_ascii_case(&address.ascii()));
        if !known {
            draft.risks.flag(
                RiskCode::NewRecipient,
                format!(
                    "You have not approved email to {} before.",
                    address.display()
                ),
            );
        }
        if *list == "bcc" {
            draft.risks.flag(
                RiskCode::HiddenRecipient,
                format!(
                    "{} receives a hidden copy that the other recipients cannot see.",
                    address.display()
                ),
            );
        }
    }
    for text in [&artifact.subject, &artifact.text] {
        if let Some(what) = sensitive_value(text) {
            draft.risks.flag(
                RiskCode::SensitiveData,
                format!("The email contains {what}."),
            );
        }
    }

    for (i, attachment) in artifact.attachments.iter().enumerate() {
        let field = format!("artifact.attachments[{i}]");
        if attachment.filename.contains(['\r', '\n', '"'])
            || attachment.content_type.contains(['\r', '\n'])
        {
            return Err(Refusal::new(
                RefusalCode::HeaderInjection,
                "An attachment's name or type contains a line break or quote, which could add hidden headers.",
            )
            .at(field));
        }
        if attachment.filename.contains(['/', '\\']) || attachment.filename.trim().is_empty() {
            return Err(Refusal::new(
                RefusalCode::InvalidJson,
                "An attachment needs a plain file name, without folders.",
            )
            .at(format!("{field}.filename")));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(attachment.content_base64.as_bytes())
            .map_err(|_| {
                Refusal::new(
                    RefusalCode::InvalidJson,
                    "The attachment's content is not valid base64.",
                )
                .at(format!("{field}.content_base64"))
            })?;
        let shown_name = crate::text::reveal(&attachment.filename);
        let sniffed = sniff(&bytes);
        draft.detail(
            "Attachment",
            format!(
                "{shown_name} ({}, {})",
                attachment.content_type,
                size_words(bytes.len())
            ),
        );
        draft.flag(RiskCode::Attachment);
        let visible_name: String = attachment
            .filename
            .chars()
            .filter(|c| !crate::text::is_hidden(*c))
            .collect();
        let extension = visible_name
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        let real_extension = attachment
            .filename
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        if RISKY_EXTENSIONS.contains(&extension.as_str())
            || RISKY_EXTENSIONS.contains(&real_extension.as_str())
        {
            draft.risks.flag(
                RiskCode::RiskyAttachment,
                format!("The file {shown_name} is of a kind that can run programs (.{extension})."),
            );
        }
        if crate::text::has_hidden(&attachment.filename) {
            draft.risks.flag(
                RiskCode::RiskyAttachment,
                format!("The file name {shown_name} contains invisible characters that can disguise its real type."),
            );
        }
        let stem_extension = visible_name.rsplit('.').nth(1).map(str::to_ascii_lowercase);
        if stem_extension.is_some_and(|e| {
            ["pdf", "doc", "docx", "jpg", "png", "txt", "xlsx"].contains(&e.as_str())
        }) && RISKY_EXTENSIONS.contains(&extension.as_str())
        {
            draft.risks.flag(
                RiskCode::RiskyAttachment,
                format!("The file {shown_name} has two extensions; its real type is .{extension}."),
            );
        }
        if let Some(kind) = sniffed {
            let declared = attachment.content_type.to_ascii_lowercase();
            let matches = kind.mime_prefixes.iter().any(|p| declared.starts_with(p));
            if kind.executable || !matches {
                draft.risks.flag(
                    RiskCode::RiskyAttachment,
                    format!(
                        "The file {shown_name} says it is {} but its content is {}.",
                        attachment.content_type, kind.name
                    ),
                );
            }
        }
    }
    Ok(draft)
}

struct Sniffed {
    name: &'static str,
    mime_prefixes: &'static [&'static str],
    executable: bool,
}

fn sniff(bytes: &[u8]) -> Option<Sniffed> {
    let kind = |name, mime_prefixes, executable| {
        Some(Sniffed {
            name,
            mime_prefixes,
            executable,
        })
    };
    if bytes.starts_with(b"%PDF-") {
        kind("a PDF document", &["application/pdf"], false)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        kind("a PNG image", &["image/png"], false)
    } else if bytes.starts_with(b"\xFF\xD8\xFF") {
        kind("a JPEG image", &["image/jpeg", "image/jpg"], false)
    } else if bytes.starts_with(b"GIF8") {
        kind("a GIF image", &["image/gif"], false)
    } else if bytes.starts_with(b"MZ") {
        kind("a Windows program", &[], true)
    } else if bytes.starts_with(b"\x7FELF") {
        kind("a Linux program", &[], true)
    } else if bytes.starts_with(b"#!") {
        kind("a script", &[], true)
    } else if bytes.starts_with(b"PK\x03\x04") {
        kind(
            "a ZIP archive (or an Office document)",
            &[
                "application/zip",
                "application/vnd.openxmlformats",
                "application/x-zip",
                "application/vnd.oasis",
                "application/java-archive",
                "application/epub",
            ],
            false,
        )
    } else {
        None
    }
}

fn size_words(bytes: usize) -> String {
    match bytes {
        0..1024 => format!("{bytes} bytes"),
        1024..1_048_576 => format!("{:.1} KB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MB", bytes as f64 / 1_048_576.0),
    }
}
