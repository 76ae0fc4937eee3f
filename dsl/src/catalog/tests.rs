use super::*;
use serde_json::json;

const COMMERCE: &str = "\
cart.abandoned:
  description: A shopper left items in the cart.
  data:
    cart: { total: number, items: [string], coupon?: string }
  customer:
    email: string
order.placed:
  data_schema: { type: object, required: [order] }
";

fn catalog(files: &[(&str, &str)]) -> Result<EventCatalog, Vec<Diagnostics>> {
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(f, t)| (f.to_string(), t.to_string()))
        .collect();
    EventCatalog::from_files(&files)
}

fn first_problem(result: Result<EventCatalog, Vec<Diagnostics>>) -> String {
    let failed = result.unwrap_err();
    failed[0].to_plain()
}

#[test]
fn declared_events_are_checked_and_undeclared_ones_pass_through() {
    let c = catalog(&[("events/commerce.yaml", COMMERCE)]).unwrap();
    assert_eq!(c.len(), 2);
    assert_eq!(
        c.get("cart.abandoned").unwrap().description.as_deref(),
        Some("A shopper left items in the cart.")
    );
    let cart = json!({"cart": {"total": 80, "items": ["mug"]}});
    assert_eq!(c.check("cart.abandoned", &cart, &json!({})), Check::Valid);
    let bad = json!({"cart": {"total": "abc", "items": []}});
    assert_eq!(
        c.check("cart.abandoned", &bad, &json!({})),
        Check::Invalid(FieldError {
            field: "data.cart.total".into(),
            message: "expected a number, got \"abc\"".into()
        })
    );
    // Customer attributes an event carries are a partial update: present ones must fit.
    assert_eq!(
        c.check("cart.abandoned", &cart, &json!({"tier": "gold"})),
        Check::Valid
    );
    match c.check("cart.abandoned", &cart, &json!({"email": 7})) {
        Check::Invalid(e) => assert_eq!(e.field, "customer.email"),
        other => panic!("{other:?}"),
    }
    match c.check("order.placed", &json!({}), &json!({})) {
        Check::Invalid(e) => assert_eq!(e.field, "data.order"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.check("lead.created", &json!({"x": 1}), &json!({})),
        Check::Undeclared
    );
}

#[test]
fn problems_point_at_their_line_and_column() {
    let bad_type = "cart.abandoned:\n  data:\n    cart:\n      total: nubmer\n";
    let text = first_problem(catalog(&[("events/c.yaml", bad_type)]));
    assert!(text.contains("events/c.yaml:4:"), "{text}");
    assert!(text.contains("`nubmer` is not a type"), "{text}");
    assert!(text.contains("did you mean `number`?"), "{text}");

    let unknown_key = "cart.abandoned:\n  dta:\n    cart: object\n";
    let text = first_problem(catalog(&[("events/c.yaml", unknown_key)]));
    assert!(text.contains("unknown field `dta`"), "{text}");
    assert!(text.contains("did you mean `data`?"), "{text}");

    let both = "x.y:\n  data: { a: string }\n  data_schema: { type: object }\n";
    let text = first_problem(catalog(&[("events/c.yaml", both)]));
    assert!(text.contains("events/c.yaml:3:"), "{text}");

    let not_schema = "x.y:\n  data_schema: { type: nonsense }\n";
    let text = first_problem(catalog(&[("events/c.yaml", not_schema)]));
    assert!(text.contains("not a valid JSON Schema"), "{text}");

    let bad_name = "cart abandoned:\n  data: { a: string }\n";
    let text = first_problem(catalog(&[("events/c.yaml", bad_name)]));
    assert!(text.contains("events/c.yaml:1:1"), "{text}");

    let syntax = "x.y:\n  data: [\n";
    assert!(catalog(&[("events/c.yaml", syntax)]).is_err());
}

#[test]
fn a_type_declared_twice_is_a_problem_of_the_later_file() {
    let again = "order.placed:\n  data: { order: object }\n";
    let failed = catalog(&[("events/a.yaml", COMMERCE), ("events/b.yaml", again)]).unwrap_err();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].file, "events/b.yaml");
    assert!(failed[0]
        .to_plain()
        .contains("already declared in events/a.yaml"));
    assert!(catalog(&[("events/empty.yaml", "")]).unwrap().is_empty());
}

#[test]
fn paths_list_every_declared_field_once() {
    let c = catalog(&[("events/commerce.yaml", COMMERCE)]).unwrap();
    assert_eq!(
        c.paths(),
        [
            "customer.email",
            "event.cart",
            "event.cart.coupon",
            "event.cart.items",
            "event.cart.total"
        ]
    );
}
