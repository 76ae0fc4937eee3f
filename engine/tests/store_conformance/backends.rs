//! How each backend is opened for one case.
#![allow(dead_code)] // each test binary that includes this uses some of it

use mikawaya_engine::store::*;
use std::sync::Arc;

pub async fn open_sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("c.db")).await.unwrap();
    (Arc::new(store), dir)
}

/// A schema of its own for one case, dropped when the case ends.
pub struct Schema(pub String);

impl Drop for Schema {
    fn drop(&mut self) {
        let name = self.0.clone();
        // Drop runs outside the case's runtime: a small one of its own does the cleanup.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(pool) = sqlx::PgPool::connect(&postgres_url()).await {
                    let drop = format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE");
                    sqlx::query(&drop).execute(&pool).await.ok();
                }
            })
        })
        .join()
        .ok();
    }
}

pub fn postgres_url() -> String {
    std::env::var("MIKAWAYA_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub async fn open_postgres() -> (Arc<dyn Store>, Schema) {
    let schema = format!("conformance_{}", uuid::Uuid::new_v4().simple());
    let store = PostgresStore::open(&postgres_url(), Some(&schema))
        .await
        .expect("PostgreSQL for the conformance suite (set MIKAWAYA_TEST_POSTGRES)");
    (Arc::new(store), Schema(schema))
}
