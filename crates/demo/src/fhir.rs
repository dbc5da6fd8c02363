//! The demo clinic's FHIR R4 server, backed by SQLite: patients, appointments, observations and
//! medication requests, behind a bearer token, on loopback.

use std::path::Path;
use std::str::FromStr as _;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

#[derive(Clone)]
struct Clinic {
    token: Arc<str>,
    pool: SqlitePool,
}

type Reply = (StatusCode, Json<serde_json::Value>);

fn outcome(status: StatusCode, text: &str) -> Reply {
    (
        status,
        Json(
            serde_json::json!({ "resourceType": "OperationOutcome", "issue": [ { "severity": "error", "code": "processing", "diagnostics": text } ] }),
        ),
    )
}

fn authorized(clinic: &Clinic, headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t == &*clinic.token)
}

const PATIENTS: &[(&str, &str)] = &[
    (
        "pat-123",
        r#"{"resourceType":"Patient","id":"pat-123","name":[{"family":"Doe","given":["Jane"]}],"gender":"female","birthDate":"1980-02-29","telecom":[{"system":"phone","value":"555-0142"}],"identifier":[{"system":"http://hl7.org/fhir/sid/us-ssn","value":"123-45-6789"}]}"#,
    ),
    (
        "pat-456",
        r#"{"resourceType":"Patient","id":"pat-456","name":[{"family":"Rivera","given":["Sam"]}],"gender":"male","birthDate":"1975-07-14"}"#,
    ),
];

const OBSERVATIONS: &[(&str, &str, &str)] = &[
    (
        "obs-1",
        "pat-123",
        r#"{"resourceType":"Observation","id":"obs-1","status":"final","category":[{"coding":[{"code":"laboratory"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"4548-4","display":"Hemoglobin A1c"}],"text":"HbA1c"},"subject":{"reference":"Patient/pat-123","display":"Jane Doe"},"effectiveDateTime":"2026-11-20T08:15:00-05:00","valueQuantity":{"value":6.1,"unit":"%"},"interpretation":[{"text":"slightly high"}]}"#,
    ),
    (
        "obs-2",
        "pat-123",
        r#"{"resourceType":"Observation","id":"obs-2","status":"final","category":[{"coding":[{"code":"laboratory"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"13457-7","display":"LDL cholesterol"}],"text":"LDL"},"subject":{"reference":"Patient/pat-123","display":"Jane Doe"},"effectiveDateTime":"2026-11-20T08:15:00-05:00","valueQuantity":{"value":118,"unit":"mg/dL"}}"#,
    ),
];

async fn patient(
    State(clinic): State<Clinic>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Reply {
    if !authorized(&clinic, &headers) {
        return outcome(StatusCode::UNAUTHORIZED, "missing or wrong token");
    }
    let row: Option<String> =
        sqlx::query_scalar("SELECT resource FROM resources WHERE type = 'Patient' AND id = ?")
            .bind(&id)
            .fetch_optional(&clinic.pool)
            .await
            .unwrap_or_default();
    match row.and_then(|text| serde_json::from_str(&text).ok()) {
        Some(resource) => (StatusCode::OK, Json(resource)),
        None => outcome(StatusCode::NOT_FOUND, "no such patient"),
    }
}

#[derive(serde::Deserialize)]
struct Search {
    patient: Option<String>,
}

async fn observations(
    State(clinic): State<Clinic>,
    headers: HeaderMap,
    Query(search): Query<Search>,
) -> Reply {
    if !authorized(&clinic, &headers) {
        return outcome(StatusCode::UNAUTHORIZED, "missing or wrong token");
    }
    let patient = search.patient.unwrap_or_default();
    let patient = patient.trim_start_matches("Patient/");
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT resource FROM resources WHERE type = 'Observation' AND patient = ? ORDER BY id",
    )
    .bind(patient)
    .fetch_all(&clinic.pool)
    .await
    .unwrap_or_default();
    let entries: Vec<serde_json::Value> = rows
        .iter()
        .filter_map(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .map(|resource| serde_json::json!({ "resource": resource }))
        .collect();
    (
        StatusCode::OK,
        Json(
            serde_json::json!({ "resourceType": "Bundle", "type": "searchset", "total": entries.len(), "entry": entries }),
        ),
    )
}

fn create(
    kind: &'static str,
) -> impl Fn(
    State<Clinic>,
    HeaderMap,
    Json<serde_json::Value>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Reply> + Send>>
+ Clone {
    move |State(clinic): State<Clinic>,
          headers: HeaderMap,
          Json(mut body): Json<serde_json::Value>| {
        Box::pin(async move {
            if !authorized(&clinic, &headers) {
                return outcome(StatusCode::UNAUTHORIZED, "missing or wrong token");
            }
            if body["resourceType"] != kind {
                return outcome(
                    StatusCode::BAD_REQUEST,
                    "resourceType does not match the endpoint",
                );
            }
            let count: i64 = sqlx::query_scalar("SELECT count(*) FROM resources WHERE type = ?")
                .bind(kind)
                .fetch_one(&clinic.pool)
                .await
                .unwrap_or(0);
            let id = format!("{}-{}", kind.to_lowercase(), 1001 + count);
            body["id"] = serde_json::json!(id);
            body["meta"] = serde_json::json!({ "versionId": "1" });
            let stored = sqlx::query(
                "INSERT INTO resources (type, id, patient, resource) VALUES (?, ?, NULL, ?)",
            )
            .bind(kind)
            .bind(&id)
            .bind(body.to_string())
            .execute(&clinic.pool)
            .await;
            match stored {
                Ok(_) => (StatusCode::CREATED, Json(body)),
                Err(error) => outcome(StatusCode::INTERNAL_SERVER_ERROR, &error.to_string()),
            }
        })
    }
}

/// Opens (creating and seeding) the clinic's store at `file` and returns the routes, with
/// `token` as the only accepted bearer token.
///
/// # Errors
/// When the SQLite file cannot be created.
pub async fn router(file: &Path, token: &str) -> Result<axum::Router, sqlx::Error> {
    let options = SqliteConnectOptions::from_str("sqlite://")?
        .filename(file)
        .create_if_missing(true);
    let pool = SqlitePool::connect_with(options).await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS resources (type TEXT NOT NULL, id TEXT NOT NULL, patient TEXT, resource TEXT NOT NULL, PRIMARY KEY (type, id))")
        .execute(&pool)
        .await?;
    for (id, resource) in PATIENTS {
        sqlx::query("INSERT OR IGNORE INTO resources VALUES ('Patient', ?, ?, ?)")
            .bind(id)
            .bind(id)
            .bind(resource)
            .execute(&pool)
            .await?;
    }
    for (id, patient, resource) in OBSERVATIONS {
        sqlx::query("INSERT OR IGNORE INTO resources VALUES ('Observation', ?, ?, ?)")
            .bind(id)
            .bind(patient)
            .bind(resource)
            .execute(&pool)
            .await?;
    }
    let clinic = Clinic {
        token: Arc::from(token),
        pool,
    };
    Ok(axum::Router::new()
        .route("/fhir/r4/Patient/{id}", get(patient))
        .route("/fhir/r4/Observation", get(observations))
        .route("/fhir/r4/Appointment", post(create("Appointment")))
        .route(
            "/fhir/r4/MedicationRequest",
            post(create("MedicationRequest")),
        )
        .with_state(clinic))
}
