//! Criterion benchmarks: compiling many generated rules, and evaluating a typical entry condition.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mikawaya_dsl::expr::{Env, Expr, Scope};
use mikawaya_dsl::{compile_source, Syntax};
use serde_json::json;
use std::hint::black_box;

fn rule(i: usize) -> String {
    format!(
        "workflow: rule-{i}\nversion: 1\ntrigger: {{ event: cart.abandoned }}\nwhen: event.cart.total >= {i} and customer.consent.email\n\
         steps:\n  - wait: {{ for: 1h, until_event: order.placed, on_event: exit }}\n  - action: email.send\n    with:\n      to: \"{{{{ customer.email }}}}\"\n      subject: \"Cart of {{{{ event.cart.total }}}}\"\n  - if: len(event.cart.items) > 3\n    then:\n      - action: task.create\n        with: {{ title: call, queue: retention }}\n"
    )
}

fn compile_rules(c: &mut Criterion) {
    let rules: Vec<String> = (0..10_000).map(rule).collect();
    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    group.throughput(Throughput::Elements(rules.len() as u64));
    group.bench_function("10k_yaml_rules", |b| {
        b.iter(|| {
            for (i, r) in rules.iter().enumerate() {
                black_box(compile_source(&format!("r{i}.yaml"), r, Syntax::Yaml).unwrap());
            }
        })
    });
    group.finish();
}

/// A valid workflow of almost 1 MiB (the largest file accepted): thousands of steps.
fn big_workflow() -> String {
    let mut text = String::from(
        "workflow: big\nversion: 1\ntrigger: { event: a.b }\nre_enroll: always\nsteps:\n",
    );
    let mut i = 0;
    while text.len() < mikawaya_dsl::MAX_FILE_BYTES - 200 {
        text.push_str(&format!("  - action: log\n    with: {{ message: \"step {i} of a long workflow for {{{{ event.id }}}}\" }}\n"));
        i += 1;
    }
    text
}

fn check_big_file(c: &mut Criterion) {
    let text = big_workflow();
    let mut group = c.benchmark_group("check");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("1mib_yaml_file", |b| {
        b.iter(|| black_box(compile_source("big.yaml", &text, Syntax::Yaml).unwrap()))
    });
    group.finish();
}

/// 10,000 expressions of the shapes rules use: comparisons, boolean logic, constant lists,
/// functions and paths (the comparison: zen-expression compiles such a set in ~10 ms).
fn compile_expressions(c: &mut Criterion) {
    let texts: Vec<String> = (0..10_000)
        .map(|i| match i % 4 {
            0 => format!("event.cart.total >= {i} and customer.consent.email"),
            1 => format!(
                "customer.tier in [\"gold\", \"silver\", \"t{i}\"] or event.cart.total > {i}.5"
            ),
            2 => format!("len(event.cart.items) > {} and not customer.blocked", i % 7),
            _ => format!("event.region == \"r{i}\" and (customer.score + {i}) * 2 >= 100"),
        })
        .collect();
    let env = Env::default();
    let mut group = c.benchmark_group("compile");
    group.sample_size(20);
    group.throughput(Throughput::Elements(texts.len() as u64));
    group.bench_function("10k_expressions", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(Expr::parse(t, &env).unwrap());
            }
        })
    });
    group.finish();
}

fn evaluate_condition(c: &mut Criterion) {
    let expr = Expr::parse(
        "event.cart.total >= 50 and customer.consent.email",
        &Env::default(),
    )
    .unwrap();
    let event = json!({"id": "e1", "type": "cart.abandoned", "cart": {"total": 72.5, "items": [1, 2, 3], "currency": "JPY"}});
    let customer = json!({"id": "c1", "email": "a@example.com", "consent": {"email": true, "sms": false}, "tags": ["vip"]});
    let mut scope = Scope::with_event(&event, chrono::Utc::now());
    scope.customer = &customer;
    let mut group = c.benchmark_group("evaluate");
    group.throughput(Throughput::Elements(1));
    group.bench_function("entry_condition", |b| {
        b.iter(|| black_box(expr.matches(black_box(&scope))))
    });
    group.finish();
}

criterion_group!(
    benches,
    compile_rules,
    check_big_file,
    compile_expressions,
    evaluate_condition
);
criterion_main!(benches);
