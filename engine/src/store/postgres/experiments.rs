//! Experiment entries and conversions on PostgreSQL, inside the batch's transaction.

use crate::store::{ConversionHit, ExperimentEntry, StoreResult};
use sqlx::PgConnection;

/// Records the splits a run took (once per run and experiment).
pub(super) async fn insert_entries(
    tx: &mut PgConnection,
    run_id: &str,
    at: i64,
    entries: &[ExperimentEntry],
) -> StoreResult<()> {
    for e in entries {
        let (event, by) = match &e.convert {
            Some((event, within)) => (Some(event.as_str()), Some(at.saturating_add(*within))),
            None => (None, None),
        };
        sqlx::query(
            "INSERT INTO experiment_entries (run_id, experiment, workflow, variant, unit, entered_at, convert_event, convert_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        )
        .bind(run_id)
        .bind(&e.experiment)
        .bind(&e.workflow)
        .bind(&e.variant)
        .bind(&e.unit)
        .bind(at)
        .bind(event)
        .bind(by)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Marks converted the open entries each hit converts.
pub(super) async fn convert(tx: &mut PgConnection, hits: &[ConversionHit]) -> StoreResult<()> {
    for h in hits {
        sqlx::query(
            "UPDATE experiment_entries SET converted_at = $1, converted_by_event = $2
             WHERE unit = $3 AND convert_event = $4 AND converted_at IS NULL AND entered_at <= $1 AND convert_by >= $1",
        )
        .bind(h.at)
        .bind(&h.event_id)
        .bind(&h.unit)
        .bind(&h.event_type)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
