//! Reads over many ids (`IN (…)` lists) in few statement shapes.
//!
//! sqlx keeps each connection's prepared statements by their SQL text. A list of 37 ids and one
//! of 38 are different texts, so every batch size was parsed and planned by SQLite again (8 % of
//! the engine's instructions at 4,000 runs/s, when the writes were multi-row statements too) and
//! pushed the hot statements out of the cache. Split into power-of-two chunks, a statement has
//! at most ten shapes, each prepared once.

use sqlx::{QueryBuilder, Sqlite};

/// The largest chunk, far below SQLite's 32,766 parameters.
pub(super) const MAX_ROWS: usize = 512;

/// `items` in chunks whose lengths are powers of two, largest first, none over [`MAX_ROWS`].
pub(super) fn chunks<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = MAX_ROWS.min(1 << rest.len().ilog2());
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}

/// `{head} IN (?, ?, …)` with `values` bound, one per placeholder.
pub(super) fn in_list<'a, T>(head: &str, values: &'a [T]) -> QueryBuilder<'a, Sqlite>
where
    &'a T: sqlx::Encode<'a, Sqlite> + sqlx::Type<Sqlite>,
{
    let mut q = QueryBuilder::<Sqlite>::new(format!("{head} IN ("));
    let mut list = q.separated(", ");
    for v in values {
        list.push_bind(v);
    }
    q.push(")");
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_lands_in_one_power_of_two_chunk() {
        let items: Vec<usize> = (0..1_300).collect();
        let sizes: Vec<usize> = chunks(&items).map(<[usize]>::len).collect();
        assert_eq!(sizes, [512, 512, 256, 16, 4]);
        let joined: Vec<usize> = chunks(&items).flatten().copied().collect();
        assert_eq!(joined, items);
        assert_eq!(chunks::<u8>(&[]).count(), 0);
        let distinct: std::collections::BTreeSet<usize> = (1..=2_000)
            .flat_map(|n| {
                chunks(&items[..n.min(1_300)])
                    .map(<[usize]>::len)
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(distinct.len(), 10, "1, 2, 4, …, 512");
    }
}
