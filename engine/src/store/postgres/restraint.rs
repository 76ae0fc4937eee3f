//! PostgreSQL [`RestraintStore`]: sent messages, suppressions and consent.

use super::customers::merge_all;
use super::PostgresStore;
use crate::clock::Millis;
use crate::store::merge::consent_patch;
use crate::store::model::*;
use crate::store::views::*;
use crate::store::{
    claim_refusal, past_messages, tags_json, RestraintStore, StoreResult, WAITER_GRACE_MS,
};
use async_trait::async_trait;
use sqlx::PgConnection;

#[async_trait]
impl RestraintStore for PostgresStore {
    async fn messages_since(
        &self,
        customer_id: &str,
        channel: &str,
        kind: &str,
        since: Millis,
    ) -> StoreResult<Vec<Millis>> {
        Ok(sqlx::query_scalar(
            "SELECT sent_at FROM messages WHERE customer_id = $1 AND channel = $2 AND kind = $3 AND sent_at >= $4 ORDER BY sent_at",
        )
        .bind(customer_id)
        .bind(channel)
        .bind(kind)
        .bind(since)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn claim_slot(
        &self,
        key: &str,
        at: Millis,
        max: u32,
        window_ms: i64,
    ) -> StoreResult<Option<Millis>> {
        let since = at - window_ms;
        let mut tx = self.pool.begin().await?;
        // Claims of one key take turns on every node.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("throttle/{key}"))
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM throttle_slots WHERE key = $1 AND at <= $2")
            .bind(key)
            .bind(since)
            .execute(&mut *tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO throttle_slots (key, at) SELECT $1, $2 WHERE (SELECT COUNT(*) FROM throttle_slots WHERE key = $1) < $3",
        )
        .bind(key)
        .bind(at)
        .bind(i64::from(max))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let next = if inserted == 1 {
            None
        } else {
            let oldest: Option<Millis> =
                sqlx::query_scalar("SELECT MIN(at) FROM throttle_slots WHERE key = $1")
                    .bind(key)
                    .fetch_one(&mut *tx)
                    .await?;
            Some(oldest.unwrap_or(at) + window_ms)
        };
        tx.commit().await?;
        Ok(next)
    }

    async fn acquire_lease(&self, l: &LeaseClaim<'_>) -> StoreResult<Option<Millis>> {
        let mut tx = self.pool.begin().await?;
        // Claims of one key take turns, on every node.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("lease/{}", l.key))
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM call_leases WHERE key = $1 AND until <= $2")
            .bind(l.key)
            .bind(l.now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM call_waiters WHERE key = $1 AND until <= $2")
            .bind(l.key)
            .bind(l.now)
            .execute(&mut *tx)
            .await?;
        // Held already (a retry of the same call), or a slot free with no earlier waiter.
        let taken = sqlx::query(
            "UPDATE call_leases SET until = $3 WHERE key = $1 AND holder = $2",
        )
        .bind(l.key)
        .bind(l.holder)
        .bind(l.until)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1
            || sqlx::query(
                "INSERT INTO call_leases (key, holder, until) SELECT $1, $2, $3 \
                 WHERE (SELECT COUNT(*) FROM call_leases WHERE key = $1) \
                     + (SELECT COUNT(*) FROM call_waiters w WHERE w.key = $1 AND w.run_id <> $4 \
                        AND NOT EXISTS (SELECT 1 FROM call_waiters me WHERE me.key = $1 \
                            AND me.run_id = $4 AND (me.since, me.run_id) < (w.since, w.run_id))) < $5",
            )
            .bind(l.key)
            .bind(l.holder)
            .bind(l.until)
            .bind(l.run_id)
            .bind(i64::from(l.max))
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
        let retry = if taken {
            sqlx::query("DELETE FROM call_waiters WHERE key = $1 AND run_id = $2")
                .bind(l.key)
                .bind(l.run_id)
                .execute(&mut *tx)
                .await?;
            None
        } else {
            let earliest: Option<Millis> =
                sqlx::query_scalar("SELECT MIN(until) FROM call_leases WHERE key = $1")
                    .bind(l.key)
                    .fetch_one(&mut *tx)
                    .await?;
            let at = earliest.unwrap_or(l.until).min(l.until);
            sqlx::query(
                "INSERT INTO call_waiters (key, run_id, since, until) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (key, run_id) DO UPDATE SET until = excluded.until",
            )
            .bind(l.key)
            .bind(l.run_id)
            .bind(l.now)
            .bind(at + WAITER_GRACE_MS)
            .execute(&mut *tx)
            .await?;
            Some(at)
        };
        tx.commit().await?;
        Ok(retry)
    }

    async fn release_lease(&self, key: &str, holder: &str, now: Millis) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("lease/{key}"))
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM call_leases WHERE key = $1 AND holder = $2")
            .bind(key)
            .bind(holder)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE runs SET due_at = $2 WHERE due_at > $2 AND id = (SELECT run_id FROM call_waiters \
             WHERE key = $1 AND until > $2 ORDER BY since, run_id LIMIT 1)",
        )
        .bind(key)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn claim_message(
        &self,
        m: &SentMessage,
        run_id: &str,
        at: Millis,
        caps: Option<&CapCheck<'_>>,
    ) -> StoreResult<Claim> {
        let mut tx = self.pool.begin().await?;
        if let Some(caps) = caps {
            // Claims of one customer take turns, on every node (a cap may span channels): the
            // read and the insert below see every claim committed before, so together they
            // never pass a cap.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(format!(
                    "messages/{}",
                    m.customer_id.as_deref().unwrap_or("")
                ))
                .execute(&mut *tx)
                .await?;
            let rows: Vec<(String, Option<String>, Millis)> = sqlx::query_as(
                "SELECT MAX(channel), MAX(tags), MAX(sent_at) FROM messages WHERE customer_id = $1 \
                 AND kind = 'marketing' AND sent_at >= $2 AND (key IS NULL OR key <> $3) \
                 GROUP BY COALESCE(key, 'row:' || id)",
            )
            .bind(&m.customer_id)
            .bind(caps.since)
            .bind(&m.key)
            .fetch_all(&mut *tx)
            .await?;
            if let Some(refusal) = (caps.judge)(&past_messages(rows)) {
                tx.rollback().await?;
                return Ok(Claim::Over(refusal));
            }
        }
        let inserted = sqlx::query(
            "INSERT INTO messages (customer_id, channel, kind, sent_at, key, address, workflow, run_id, tags) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 \
             WHERE NOT EXISTS (SELECT 1 FROM suppressions WHERE address = $10) \
             AND ($3 <> 'marketing' OR EXISTS (SELECT 1 FROM customers WHERE id = $1 \
                  AND data->'consent'->$2 = 'true'::jsonb))",
        )
        .bind(&m.customer_id)
        .bind(&m.channel)
        .bind(&m.kind)
        .bind(at)
        .bind(&m.key)
        .bind(&m.address)
        .bind(&m.workflow)
        .bind(run_id)
        .bind(tags_json(&m.tags))
        .bind(m.address.as_ref().map(|a| a.to_lowercase()))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            tx.commit().await?;
            return Ok(Claim::Granted);
        }
        tx.rollback().await?;
        match claim_refusal(self, m).await? {
            Some(refused) => Ok(refused),
            // The suppression or withdrawal was lifted in between: claim again.
            None => self.claim_message(m, run_id, at, caps).await,
        }
    }

    async fn suppressed(&self, address: &str) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT reason FROM suppressions WHERE address = $1")
                .bind(address.to_lowercase())
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn suppress(&self, address: &str, reason: &str, at: Millis) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO suppressions (address, reason, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (address) DO UPDATE SET reason = excluded.reason",
        )
        .bind(address.to_lowercase())
        .bind(reason)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn unsuppress(&self, address: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM suppressions WHERE address = $1")
            .bind(address.to_lowercase())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn suppressions(&self) -> StoreResult<Vec<Suppression>> {
        Ok(sqlx::query_as(
            "SELECT address, reason, created_at FROM suppressions ORDER BY created_at DESC, address",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn set_consent(
        &self,
        customer_id: &str,
        channel: &str,
        granted: bool,
        source: &str,
        at: Millis,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let patch = (customer_id.to_string(), consent_patch(channel, granted), at);
        merge_all(&mut tx, &[patch]).await?;
        log_consents(&mut tx, &[(customer_id, channel, granted, source, at)]).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Appends consent changes (customer, channel, granted, source, when) to the consent log.
pub(super) async fn log_consents(
    tx: &mut PgConnection,
    changes: &[(&str, &str, bool, &str, Millis)],
) -> StoreResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO consent_log (customer_id, channel, granted, source, at)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::boolean[], $4::text[], $5::bigint[])",
    )
    .bind(changes.iter().map(|c| c.0).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.1).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.2).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.3).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.4).collect::<Vec<_>>())
    .execute(tx)
    .await?;
    Ok(())
}
