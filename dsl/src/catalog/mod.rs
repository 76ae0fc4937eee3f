//! The event catalog: the event types a team declares, in YAML files of the workflows folder's
//! `events/` (e.g. `workflows/events/commerce.yaml`), each with the shape of its payload and of
//! the customer attributes it relies on. Intake checks declared events against it (a bad one is
//! refused with the field and what was expected), so a workflow never meets a malformed one.
//!
//! ```yaml
//! cart.abandoned:
//!   description: A shopper left items in the cart.
//!   data:                       # the payload, in the shorthand (see `shorthand`)
//!     cart: { total: number, items: [string], coupon?: string }
//!   customer:                   # attributes the workflows of this event read
//!     email: string
//! contract.updated:
//!   data_schema: { type: object, required: [contract] }   # or any JSON Schema
//! ```

mod paths;
mod shorthand;
mod validate;

pub use paths::{event_scope, path_type, UnknownField};
pub use shorthand::{to_schema, without_required, ShorthandError};
pub use validate::FieldError;

use crate::diag::{Diagnostics, Problem};
use crate::locate::{Locator, Seg};
use crate::yaml::serde_problem;
use serde::Deserialize;
use serde_json::Value;
use serde_yaml::Value as Yaml;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One declared event type.
#[derive(Debug, Clone, PartialEq)]
pub struct EventType {
    /// The type, e.g. `cart.abandoned`.
    pub name: String,
    /// Free text for people.
    pub description: Option<String>,
    /// JSON Schema of the payload (`data`); `{}` when not declared.
    pub data: Value,
    /// JSON Schema of the customer attributes the type relies on; `{}` when not declared.
    pub customer: Value,
    /// The file that declares it.
    pub file: String,
}

/// One declaration as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Declaration {
    description: Option<String>,
    data: Option<Yaml>,
    data_schema: Option<Value>,
    customer: Option<Yaml>,
    customer_schema: Option<Value>,
}

/// Reads one catalog file: a mapping of event types to their declarations. Every problem is
/// reported with its line and column.
pub fn parse_file(file: &str, text: &str) -> Result<Vec<EventType>, Diagnostics> {
    let doc: Yaml = crate::yaml::read_yaml(file, text)?;
    let mut diags = Diagnostics::new(file, text);
    let loc = Locator::new(text);
    let entries = match doc {
        Yaml::Null => Default::default(),
        Yaml::Mapping(m) => m,
        _ => {
            diags.push(
                Problem::new(
                    "catalog",
                    loc.span(&[]),
                    "an event catalog is a mapping of event types to their declarations",
                )
                .hint("start with a line such as `cart.abandoned:`"),
            );
            return Err(diags.finish());
        }
    };
    let mut types = Vec::new();
    for (key, value) in entries {
        let Some(name) = key.as_str().map(str::to_string) else {
            diags.push(Problem::new(
                "catalog",
                loc.span(&[]),
                "an event type must be a text such as `cart.abandoned`",
            ));
            continue;
        };
        match declared(file, &name, value, &loc) {
            Ok(ty) => types.push(ty),
            Err(problem) => diags.push(problem),
        }
    }
    if diags.is_empty() {
        Ok(types)
    } else {
        Err(diags.finish())
    }
}

/// The event type `name` from its declaration.
fn declared(file: &str, name: &str, value: Yaml, loc: &Locator) -> Result<EventType, Problem> {
    let at = |path: &[&str]| {
        let mut segs = vec![Seg::Key(name)];
        segs.extend(path.iter().map(|k| Seg::Key(k)));
        loc.span(&segs)
    };
    if !valid_type(name) {
        return Err(Problem::new(
            "catalog",
            loc.key_span(&[], name),
            format!("`{name}` is not an event type"),
        )
        .hint("use dotted words such as `cart.abandoned`"));
    }
    let value = if value.is_null() {
        Yaml::Mapping(Default::default())
    } else {
        value
    };
    let d: Declaration = serde_yaml::from_value(value).map_err(|e| {
        let mut p = serde_problem(&e.to_string(), at(&[]));
        p.code = "catalog";
        p
    })?;
    let data = schema_of(d.data, d.data_schema, "data", &at)?;
    let customer = schema_of(d.customer, d.customer_schema, "customer", &at)?;
    Ok(EventType {
        name: name.to_string(),
        description: d.description,
        data,
        customer,
        file: file.to_string(),
    })
}

/// The schema of `data` or `customer`, from the shorthand or the full JSON Schema.
fn schema_of(
    shorthand: Option<Yaml>,
    full: Option<Value>,
    key: &str,
    at: &dyn Fn(&[&str]) -> crate::span::Span,
) -> Result<Value, Problem> {
    let full_key = format!("{key}_schema");
    let schema = match (shorthand, full) {
        (Some(_), Some(_)) => {
            return Err(Problem::new(
                "catalog",
                at(&[&full_key]),
                format!("`{key}` and `{full_key}` both describe the {key}"),
            )
            .hint(format!(
                "keep one: `{key}` in the shorthand, or `{full_key}` as JSON Schema"
            )))
        }
        (Some(s), None) => to_schema(&s).map_err(|e| {
            let mut path = vec![key];
            path.extend(e.path.iter().map(String::as_str));
            Problem::new("catalog", at(&path), e.message).hint(e.hint)
        })?,
        (None, Some(full)) => full,
        (None, None) => return Ok(serde_json::json!({})),
    };
    validate::compile(&schema).map_err(|e| {
        Problem::new(
            "catalog",
            at(&[&full_key]),
            format!("not a valid JSON Schema: {e}"),
        )
        .hint("see https://json-schema.org/understanding-json-schema/")
    })?;
    Ok(schema)
}

fn valid_type(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// A declared type with its compiled validators.
#[derive(Debug)]
struct Entry {
    ty: EventType,
    data: jsonschema::Validator,
    customer_patch: jsonschema::Validator,
}

/// What the catalog says of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Its type is not declared.
    Undeclared,
    /// It fits its declaration.
    Valid,
    /// It does not: the first field at fault.
    Invalid(FieldError),
}

/// Every declared event type, ready to check events.
#[derive(Debug, Clone, Default)]
pub struct EventCatalog {
    types: BTreeMap<String, Arc<Entry>>,
}

impl EventCatalog {
    /// The catalog of `files` (name and text each); a type declared twice is a problem of the
    /// later file. All files' problems are returned together.
    pub fn from_files(files: &[(String, String)]) -> Result<EventCatalog, Vec<Diagnostics>> {
        let mut catalog = EventCatalog::default();
        let mut failed = Vec::new();
        for (file, text) in files {
            let types = match parse_file(file, text) {
                Ok(types) => types,
                Err(d) => {
                    failed.push(d);
                    continue;
                }
            };
            let mut diags = Diagnostics::new(file, text);
            let loc = Locator::new(text);
            for ty in types {
                if let Some(first) = catalog.types.get(&ty.name) {
                    diags.push(
                        Problem::new(
                            "catalog",
                            loc.key_span(&[], &ty.name),
                            format!(
                                "event type `{}` is already declared in {}",
                                ty.name, first.ty.file
                            ),
                        )
                        .hint("declare each event type once"),
                    );
                    continue;
                }
                let data = validate::compile(&ty.data).expect("checked when parsed");
                let customer_patch = validate::compile(&without_required(&ty.customer))
                    .expect("checked when parsed");
                let entry = Entry {
                    ty,
                    data,
                    customer_patch,
                };
                catalog.types.insert(entry.ty.name.clone(), Arc::new(entry));
            }
            if !diags.is_empty() {
                failed.push(diags.finish());
            }
        }
        if failed.is_empty() {
            Ok(catalog)
        } else {
            Err(failed)
        }
    }

    /// The declaration of `name`.
    pub fn get(&self, name: &str) -> Option<&EventType> {
        self.types.get(name).map(|e| &e.ty)
    }

    /// The shape of `event.*` for workflows triggered by `name`, when it declares its fields.
    pub fn event_shape(&self, name: &str) -> Option<crate::expr::EventShape> {
        let entry = self.types.get(name)?;
        Some(crate::expr::EventShape {
            event_type: name.to_string(),
            file: entry.ty.file.clone(),
            scope: Arc::new(event_scope(&entry.ty.data)?),
        })
    }

    /// Every path into a declared payload (`event.cart.total`) or customer attribute
    /// (`customer.consent.email`), sorted, once each: what editors offer to complete.
    pub fn paths(&self) -> Vec<String> {
        fn walk(prefix: &str, schema: &Value, out: &mut std::collections::BTreeSet<String>) {
            let Some(fields) = schema.get("properties").and_then(Value::as_object) else {
                return;
            };
            for (field, sub) in fields {
                let path = format!("{prefix}.{field}");
                walk(&path, sub, out);
                out.insert(path);
            }
        }
        let mut out = std::collections::BTreeSet::new();
        for t in self.types() {
            walk("event", &t.data, &mut out);
            walk("customer", &t.customer, &mut out);
        }
        out.into_iter().collect()
    }

    /// The declared types, by name.
    pub fn types(&self) -> impl Iterator<Item = &EventType> {
        self.types.values().map(|e| &e.ty)
    }

    /// How many types are declared.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    /// Whether no type is declared.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// Checks an event of type `event_type`: its payload against the declared payload, and the
    /// customer attributes it carries (a partial update: types only) against the declared ones.
    pub fn check(&self, event_type: &str, data: &Value, customer: &Value) -> Check {
        let Some(entry) = self.types.get(event_type) else {
            return Check::Undeclared;
        };
        let problem = validate::first_error(&entry.data, data, "data")
            .or_else(|| validate::first_error(&entry.customer_patch, customer, "customer"));
        match problem {
            Some(e) => Check::Invalid(e),
            None => Check::Valid,
        }
    }
}

#[cfg(test)]
mod tests;
