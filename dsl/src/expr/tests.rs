//! Evaluation tests of the expression language.

use super::*;
use chrono::{TimeZone, Utc};
use serde_json::json;

fn eval_with(text: &str, event: serde_json::Value) -> Result<serde_json::Value, String> {
    let env = Env {
        entity: Some("contract".into()),
        event: None,
    };
    let expr = Expr::parse(text, &env).map_err(|p| p[0].message.clone())?;
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
    let customer =
        json!({"email": "a@example.com", "tags": ["vip", "jp"], "consent": {"email": true}});
    let contract = json!({"renewal_date": "2026-12-24", "status": "active"});
    let mut scope = Scope::with_event(&event, now);
    scope.customer = &customer;
    scope.entity = &contract;
    expr.eval(&scope)
        .map(|v| v.to_json())
        .map_err(|e| e.message)
}

fn eval(text: &str) -> serde_json::Value {
    eval_with(
        text,
        json!({"cart": {"total": 72.5, "items": [1, 2, 3]}, "name": "Ada"}),
    )
    .unwrap()
}

#[test]
fn entry_condition_of_cart_abandon() {
    assert_eq!(
        eval("event.cart.total >= 50 and customer.consent.email"),
        json!(true)
    );
    assert_eq!(
        eval("event.cart.total >= 100 or not customer.consent.email"),
        json!(false)
    );
}

#[test]
fn membership_and_contains() {
    assert_eq!(eval("\"vip\" in customer.tags"), json!(true));
    assert_eq!(eval("customer.tags contains \"jp\""), json!(true));
    assert_eq!(eval("\"us\" not in customer.tags"), json!(true));
    assert_eq!(eval("3 in [1, 2, 3]"), json!(true));
    assert_eq!(eval("customer.email contains \"@example\""), json!(true));
}

#[test]
fn date_math_with_durations() {
    assert_eq!(eval("contract.renewal_date - 30d == today()"), json!(true));
    assert_eq!(eval("contract.renewal_date - 30d"), json!("2026-11-24"));
    assert_eq!(eval("now() + 1h"), json!("2026-11-24T13:00:00Z"));
    assert_eq!(
        eval("days(date(contract.renewal_date) - today())"),
        json!(30)
    );
    assert_eq!(eval("today() < contract.renewal_date"), json!(true));
}

#[test]
fn missing_paths_are_null_and_never_match() {
    assert_eq!(eval("event.nope.deeper"), json!(null));
    assert_eq!(eval("event.nope >= 50"), json!(false));
    assert_eq!(eval("event.nope == null"), json!(true));
    assert_eq!(eval("coalesce(event.nope, \"x\")"), json!("x"));
}

#[test]
fn functions_and_arithmetic() {
    assert_eq!(eval("len(event.cart.items) * 2 + 1"), json!(7));
    assert_eq!(eval("lower(\"ÄB\") + upper(event.name)"), json!("äbADA"));
    assert_eq!(eval("event.cart.items[1]"), json!(2));
    assert_eq!(eval("max(3, 9, 4)"), json!(9));
    assert_eq!(eval("round(event.cart.total)"), json!(73));
    assert_eq!(eval("-event.cart.total"), json!(-72.5));
}

#[test]
fn data_type_errors_surface_at_run_time() {
    let err = eval_with("event.name > 5", json!({"name": "Ada"})).unwrap_err();
    assert!(
        err.contains("cannot compare a string with a number"),
        "{err}"
    );
}

#[test]
fn static_errors_name_the_problem() {
    let cases = [
        ("30d == \"soon\"", "comparing a duration with a string"),
        ("lenn(event.x)", "unknown function `lenn`"),
        ("evnt.x > 1", "unknown name `evnt`"),
        ("len()", "takes 1 argument"),
        ("true < 1", "cannot order"),
        ("\"a\" * 2", "cannot apply `*`"),
        ("1 in 2", "cannot look inside"),
    ];
    for (text, want) in cases {
        let problems = Expr::parse(text, &Env::default()).unwrap_err();
        assert!(
            problems[0].message.contains(want),
            "{text}: {}",
            problems[0].message
        );
    }
}

#[test]
fn hints_suggest_the_nearest_name() {
    let problems = Expr::parse("lenn(event.x)", &Env::default()).unwrap_err();
    assert_eq!(problems[0].hint.as_deref(), Some("did you mean `len()`?"));
}

#[test]
fn spelling_does_not_change_the_compiled_tree() {
    let a = Expr::parse("event.a>=1 and(customer.b)", &Env::default()).unwrap();
    let b = Expr::parse("(event.a >= 1) and customer.b", &Env::default()).unwrap();
    assert_eq!(a, b);
}

#[test]
fn constant_lists_are_built_once_at_compile_time_and_behave_as_lists() {
    let env = Env::default();
    let consts = Expr::parse("event.name in [\"Ada\", \"Bo\", 3]", &env).unwrap();
    let Node::In(false, _, hay) = &consts.node else {
        panic!("{:?}", consts.node)
    };
    assert!(
        matches!(**hay, Node::ConstList(ref c) if c.len() == 3),
        "{hay:?}"
    );
    let mixed = Expr::parse("[event.name, 1]", &env).unwrap();
    assert!(matches!(mixed.node, Node::List(_)), "{:?}", mixed.node);
    assert_eq!(eval("event.name in [\"Ada\", \"Bo\"]"), json!(true));
    assert_eq!(eval("event.name not in [\"Ada\", \"Bo\"]"), json!(false));
    assert_eq!(eval("event.cart.total in [1, 72.5]"), json!(true));
    assert_eq!(eval("[\"x\", 2, null]"), json!(["x", 2, null]));
    assert_eq!(eval("len([1, 2, 3])"), json!(3));
    assert_eq!(
        consts.node.to_string(),
        "event.name in [\"Ada\", \"Bo\", 3]"
    );
}
