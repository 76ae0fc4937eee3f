//! Experiment entries and conversions on SQLite, inside the writer's transactions.

use crate::store::{ConversionHit, ExperimentEntry, StoreResult};
use rusqlite::{params, Transaction};

/// Records the splits a run took (once per run and experiment).
pub(super) fn insert_entries(
    tx: &Transaction<'_>,
    run_id: &str,
    at: i64,
    entries: &[ExperimentEntry],
) -> StoreResult<()> {
    for e in entries {
        let (event, by) = match &e.convert {
            Some((event, within)) => (Some(event.as_str()), Some(at.saturating_add(*within))),
            None => (None, None),
        };
        tx.prepare_cached(
            "INSERT OR IGNORE INTO experiment_entries (run_id, experiment, workflow, variant, unit, entered_at, convert_event, convert_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![run_id, e.experiment, e.workflow, e.variant, e.unit, at, event, by])?;
    }
    Ok(())
}

/// Marks converted the open entries each hit converts.
pub(super) fn convert(tx: &Transaction<'_>, hits: &[ConversionHit]) -> StoreResult<()> {
    for h in hits {
        tx.prepare_cached(
            "UPDATE experiment_entries SET converted_at = ?1, converted_by_event = ?2
             WHERE unit = ?3 AND convert_event = ?4 AND converted_at IS NULL AND entered_at <= ?1 AND convert_by >= ?1",
        )?
        .execute(params![h.at, h.event_id, h.unit, h.event_type])?;
    }
    Ok(())
}
