//! The demo shop and bank: orders, payments, transfers, refunds and balances, behind a bearer
//! token, on loopback. Money moves only in memory; every request that moves it is answered once
//! per `Idempotency-Key`, as real payment APIs do.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};

#[derive(Default)]
struct Ledger {
    balance_cents: i64,
    next: u32,
    answered: HashMap<String, serde_json::Value>,
}

#[derive(Clone)]
struct Bank {
    token: Arc<str>,
    ledger: Arc<Mutex<Ledger>>,
}

type Reply = (StatusCode, Json<serde_json::Value>);

fn refuse(status: StatusCode, message: &str) -> Reply {
    (
        status,
        Json(serde_json::json!({ "error": { "message": message } })),
    )
}

fn authorized(bank: &Bank, headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t == &*bank.token)
}

async fn balances(State(bank): State<Bank>, headers: HeaderMap) -> Reply {
    if !authorized(&bank, &headers) {
        return refuse(StatusCode::UNAUTHORIZED, "missing or wrong token");
    }
    let balance = bank
        .ledger
        .lock()
        .map(|l| l.balance_cents)
        .unwrap_or_default();
    (
        StatusCode::OK,
        Json(serde_json::json!({ "accounts": [
            { "id": "chk-1001", "name": "Everyday checking", "balance": balance, "currency": "USD" },
            { "id": "sav-2002", "name": "Savings", "balance": 1_250_000, "currency": "USD" }
        ] })),
    )
}

fn moving(
    kind: &'static str,
    prefix: &'static str,
) -> impl Fn(State<Bank>, HeaderMap, Json<serde_json::Value>) -> std::future::Ready<Reply> + Clone {
    move |State(bank): State<Bank>, headers: HeaderMap, Json(body): Json<serde_json::Value>| {
        std::future::ready(record(&bank, &headers, &body, kind, prefix))
    }
}

fn record(
    bank: &Bank,
    headers: &HeaderMap,
    body: &serde_json::Value,
    kind: &str,
    prefix: &str,
) -> Reply {
    if !authorized(bank, headers) {
        return refuse(StatusCode::UNAUTHORIZED, "missing or wrong token");
    }
    let Some(amount) = body["amount"].as_i64().filter(|a| *a > 0) else {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount must be a positive whole number of cents",
        );
    };
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Ok(mut ledger) = bank.ledger.lock() else {
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, "ledger unavailable");
    };
    if let Some(previous) = key.as_ref().and_then(|k| ledger.answered.get(k)) {
        return (StatusCode::OK, Json(previous.clone()));
    }
    if kind != "refund" && amount > ledger.balance_cents {
        return refuse(StatusCode::PAYMENT_REQUIRED, "insufficient funds");
    }
    ledger.next += 1;
    if kind == "refund" {
        ledger.balance_cents += amount;
    } else {
        ledger.balance_cents -= amount;
    }
    let mut answer = body.clone();
    answer["id"] = serde_json::json!(format!("{prefix}_{:04}", ledger.next));
    answer["status"] = serde_json::json!(match kind {
        "order" => "confirmed",
        "refund" => "refunded",
        _ => "completed",
    });
    answer["balance_after"] = serde_json::json!(ledger.balance_cents);
    if let Some(key) = key {
        ledger.answered.insert(key, answer.clone());
    }
    (StatusCode::CREATED, Json(answer))
}

/// The bank's routes, with `token` as the only accepted bearer token.
pub fn router(token: &str) -> axum::Router {
    let bank = Bank {
        token: Arc::from(token),
        ledger: Arc::new(Mutex::new(Ledger {
            balance_cents: 425_310,
            ..Ledger::default()
        })),
    };
    axum::Router::new()
        .route("/v1/balances", get(balances))
        .route("/v1/orders", post(moving("order", "ord")))
        .route("/v1/payments", post(moving("payment", "pay")))
        .route("/v1/transfers", post(moving("transfer", "trf")))
        .route("/v1/refunds", post(moving("refund", "ref")))
        .with_state(bank)
}
