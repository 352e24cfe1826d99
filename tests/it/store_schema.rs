//! The store's column lists (`src/store/schema/mod.rs`) against the tables
//! the migrations create in a real PostgreSQL: every listed column exists
//! with the listed type and nullability, and every column of the tables is
//! listed. (The
//! SQLite side is `store::schema::tests` in the library.)

use callq::store::Store;
use callq::store::schema::{CatalogColumn, POSTGRES_CATALOG_SQL, postgres_schema_differences};

use crate::support;

#[tokio::test]
async fn postgres_migrations_and_the_column_lists_name_the_same_columns() {
    let store = support::postgres_store().await;
    let Store::Postgres(pool) = &store else {
        panic!("postgres_store opens PostgreSQL");
    };
    let catalog: Vec<CatalogColumn> = sqlx::query_as(POSTGRES_CATALOG_SQL)
        .fetch_all(pool)
        .await
        .unwrap();
    for table in ["reports", "media_streams", "ingest_claims"] {
        assert!(
            catalog.iter().any(|c| c.table == table),
            "the catalog query found no {table} table"
        );
    }
    assert_eq!(postgres_schema_differences(&catalog), Vec::<String>::new());
    store.close().await;
}
