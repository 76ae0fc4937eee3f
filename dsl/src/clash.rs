//! Name/version clashes across files: two files may not define the same workflow version.

use crate::ir::Workflow;
use std::collections::BTreeMap;

/// A name and version used by two files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clash {
    /// Workflow name.
    pub name: String,
    /// Version.
    pub version: u32,
    /// The files that define it.
    pub files: Vec<String>,
}

/// Finds workflows that share a name and version across files.
pub fn clashes<'w>(workflows: impl IntoIterator<Item = &'w Workflow>) -> Vec<Clash> {
    let mut by_key: BTreeMap<(String, u32), Vec<String>> = BTreeMap::new();
    for w in workflows {
        by_key
            .entry((w.name.clone(), w.version))
            .or_default()
            .push(w.file.clone());
    }
    by_key
        .into_iter()
        .filter(|(_, files)| files.len() > 1)
        .map(|((name, version), files)| Clash {
            name,
            version,
            files,
        })
        .collect()
}
