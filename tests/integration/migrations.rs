//! Migrations over data that was there before them.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, Statement};
use uuid::Uuid;

use crate::harness::*;

/// Memberships made before they had ids get one each, distinct.
#[tokio::test]
async fn memberships_made_before_ids_existed_get_one() {
    let db = TestDb::new().await;
    // (a new SQLite file must be asked for)
    let url = if db.url.starts_with("sqlite:") {
        format!("{}?mode=rwc", db.url)
    } else {
        db.url.clone()
    };
    let conn = Database::connect(&url).await.unwrap();
    Migrator::up(&conn, Some(5)).await.unwrap();
    let backend = conn.get_database_backend();
    let org = Uuid::now_v7();
    let group = Uuid::now_v7();
    let users = [Uuid::now_v7(), Uuid::now_v7()];
    let now = chrono::Utc::now();
    let run = |sql: &str, values: Vec<sea_orm::Value>| Statement::from_sql_and_values(backend, sql, values);
    let (p1, p2, p3, p4) = match backend {
        sea_orm::DatabaseBackend::Postgres => ("$1", "$2", "$3", "$4"),
        _ => ("?", "?", "?", "?"),
    };
    conn.execute(run(
        &format!("INSERT INTO organizations (id, name, created_at) VALUES ({p1}, {p2}, {p3})"),
        vec![org.into(), "old".into(), now.into()],
    ))
    .await
    .unwrap();
    conn.execute(run(
        &format!("INSERT INTO groups (id, organization_id, name, created_at) VALUES ({p1}, {p2}, {p3}, {p4})"),
        vec![group.into(), org.into(), "old group".into(), now.into()],
    ))
    .await
    .unwrap();
    for user in users {
        conn.execute(run(
            &format!(
                "INSERT INTO users (id, organization_id, name, org_admin, created_at) VALUES ({p1}, {p2}, {p3}, false, {p4})"
            ),
            vec![user.into(), org.into(), "someone".into(), now.into()],
        ))
        .await
        .unwrap();
        conn.execute(run(
            &format!("INSERT INTO memberships (group_id, user_id, created_at) VALUES ({p1}, {p2}, {p3})"),
            vec![group.into(), user.into(), now.into()],
        ))
        .await
        .unwrap();
    }

    Migrator::up(&conn, None).await.unwrap();
    let rows = conn
        .query_all(Statement::from_string(backend, "SELECT id FROM memberships"))
        .await
        .unwrap();
    let ids: Vec<Uuid> = rows.iter().map(|r| r.try_get("", "id").unwrap()).collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    conn.close().await.ok();
}
