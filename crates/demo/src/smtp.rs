//! The demo's mail server: enough SMTP (EHLO, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA) for a real
//! client to deliver to it on loopback. Every message it accepts is kept as an `.eml` file, with
//! its envelope, so the demo (and its tests) can show what was really sent.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};

struct Mailbox {
    dir: PathBuf,
    user: String,
    password: String,
    count: AtomicU32,
}

/// Accepts connections on `listener` until the task is dropped, keeping messages in `dir`.
pub async fn serve(listener: TcpListener, dir: PathBuf, user: String, password: String) {
    let mailbox = Arc::new(Mailbox {
        dir,
        user,
        password,
        count: AtomicU32::new(0),
    });
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let mailbox = Arc::clone(&mailbox);
        tokio::spawn(async move {
            if let Err(error) = session(stream, &mailbox).await {
                tracing::debug!(%error, "demo SMTP session ended");
            }
        });
    }
}

fn plain_credentials(encoded: &str) -> Option<(String, String)> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let mut parts = bytes.split(|b| *b == 0).skip(1);
    let user = String::from_utf8(parts.next()?.to_vec()).ok()?;
    let password = String::from_utf8(parts.next()?.to_vec()).ok()?;
    Some((user, password))
}

fn decode(line: &str) -> String {
    base64::engine::general_purpose::STANDARD
        .decode(line.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default()
}

async fn session(stream: TcpStream, mailbox: &Mailbox) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write
        .write_all(b"220 mail.riverside-clinic.example Countersign demo ESMTP\r\n")
        .await?;
    let mut authenticated = false;
    let mut from = String::new();
    let mut to: Vec<String> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            "250-mail.riverside-clinic.example\r\n250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n".into()
        } else if upper.starts_with("AUTH PLAIN") {
            let encoded = command.get(10..).unwrap_or_default().trim().to_owned();
            let encoded = if encoded.is_empty() {
                write.write_all(b"334 \r\n").await?;
                line.clear();
                lines.read_line(&mut line).await?;
                line.trim().to_owned()
            } else {
                encoded
            };
            authenticated = plain_credentials(&encoded)
                .is_some_and(|(u, p)| u == mailbox.user && p == mailbox.password);
            if authenticated {
                "235 2.7.0 Authentication succeeded\r\n".into()
            } else {
                "535 5.7.8 Authentication failed\r\n".into()
            }
        } else if upper.starts_with("AUTH LOGIN") {
            write.write_all(b"334 VXNlcm5hbWU6\r\n").await?;
            line.clear();
            lines.read_line(&mut line).await?;
            let user = decode(&line);
            write.write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
            line.clear();
            lines.read_line(&mut line).await?;
            let password = decode(&line);
            authenticated = user == mailbox.user && password == mailbox.password;
            if authenticated {
                "235 2.7.0 Authentication succeeded\r\n".into()
            } else {
                "535 5.7.8 Authentication failed\r\n".into()
            }
        } else if upper.starts_with("MAIL FROM:") {
            if authenticated {
                from = command.get(10..).unwrap_or_default().trim().to_owned();
                to.clear();
                "250 2.1.0 OK\r\n".into()
            } else {
                "530 5.7.0 Authentication required\r\n".into()
            }
        } else if upper.starts_with("RCPT TO:") {
            to.push(command.get(8..).unwrap_or_default().trim().to_owned());
            "250 2.1.5 OK\r\n".into()
        } else if upper == "DATA" {
            write
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            let mut message = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                message.push_str(
                    line.strip_prefix('.')
                        .filter(|_| line.starts_with(".."))
                        .unwrap_or(&line),
                );
            }
            let n = mailbox.count.fetch_add(1, Ordering::SeqCst) + 1;
            let kept = format!(
                "X-Envelope-From: {from}\r\nX-Envelope-To: {}\r\n{message}",
                to.join(", ")
            );
            std::fs::create_dir_all(&mailbox.dir)?;
            let path = mailbox.dir.join(format!("{n:04}.eml"));
            let partial = path.with_extension("partial");
            std::fs::write(&partial, kept)?;
            std::fs::rename(&partial, &path)?;
            format!("250 2.0.0 OK: queued as demo-{n:04}\r\n")
        } else if upper == "RSET" {
            from.clear();
            to.clear();
            "250 2.0.0 OK\r\n".into()
        } else if upper == "NOOP" {
            "250 2.0.0 OK\r\n".into()
        } else if upper == "QUIT" {
            write.write_all(b"221 2.0.0 Bye\r\n").await?;
            return Ok(());
        } else {
            "502 5.5.2 Command not recognized\r\n".into()
        };
        write.write_all(reply.as_bytes()).await?;
    }
}
