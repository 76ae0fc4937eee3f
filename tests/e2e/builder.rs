//! What the page's builder uses, through the real binary: the actions with their input
//! schemas, the JSON Schema of the YAML form, the paths a trigger's events carry (declared or
//! seen in recent events), and creating a workflow file, with the refusals naming the field.

use crate::harness::{start_with, workspace};
use serde_json::json;

const CATALOG: &str = "cart.abandoned:\n  data:\n    cart: { total: number }\n";
const NEW_FLOW: &str = "# made in the builder\nworkflow: trial-nudge\nversion: 1\ntrigger:\n  event: trial.started\nsteps:\n  - exit: done\n";

#[tokio::test]
async fn the_builder_reads_actions_schema_and_paths() {
    let dir = workspace(&[("events/shop.yaml", CATALOG)]);
    let engine = start_with(&dir, &[]);
    let actions = engine.get("/actions").await;
    let email = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "email.send")
        .expect("email.send is listed");
    assert_eq!(email["channel"], "email");
    assert_eq!(email["input_schema"]["required"], json!(["to"]));
    assert_eq!(
        email["input_schema"]["properties"]["subject"]["type"],
        "string"
    );
    let schema = engine.get("/schema").await;
    assert!(
        schema["$defs"]["YamlStep"]["properties"]["wait"].is_object(),
        "{schema}"
    );
    assert_eq!(
        schema["properties"]["when"]["examples"],
        json!(["event.cart", "event.cart.total"])
    );

    let declared = engine.get("/event-types/cart.abandoned/paths").await;
    assert_eq!(
        declared,
        json!([{"path": "event.cart", "type": "object", "source": "catalog"},
               {"path": "event.cart.total", "type": "number", "source": "catalog"}])
    );
    assert_eq!(
        engine.get("/event-types/trial.started/paths").await,
        json!([])
    );
    let event = json!({"id": "t1", "type": "trial.started", "customer": {"id": "c1", "tier": "gold"}, "data": {"trial": {"plan": "pro", "seats": 3}}});
    assert_eq!(engine.post_events(&event.to_string()).await.0, 202);
    let seen = engine.get("/event-types/trial.started/paths").await;
    let seen: Vec<String> = seen
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{} {} {}", p["path"], p["type"], p["source"]))
        .collect();
    assert_eq!(
        seen,
        [
            "\"customer.tier\" \"string\" \"events\"",
            "\"event.trial\" \"object\" \"events\"",
            "\"event.trial.plan\" \"string\" \"events\"",
            "\"event.trial.seats\" \"integer\" \"events\"",
        ]
    );
}

#[tokio::test]
async fn a_workflow_file_is_created_once_and_refusals_name_the_field() {
    let dir = workspace(&[]);
    let engine = start_with(&dir, &[]);
    let create = |file: &str, source: &str| json!({ "file": file, "source": source }).to_string();
    let (status, answer) = engine
        .post("/workflows", &create("trial-nudge.yaml", NEW_FLOW))
        .await;
    assert_eq!(
        (status, answer["name"].as_str()),
        (201, Some("trial-nudge")),
        "{answer}"
    );
    let written = std::fs::read_to_string(dir.path().join("workflows/trial-nudge.yaml")).unwrap();
    assert_eq!(written, NEW_FLOW, "written as sent, comment and all");
    let listed = engine.get("/workflows").await;
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["name"] == "trial-nudge"),
        "{listed}"
    );

    let refused = [
        (
            create("trial-nudge.yaml", NEW_FLOW),
            "file",
            "exists already",
        ),
        (
            create("other.yaml", NEW_FLOW),
            "file",
            "a workflow named `trial-nudge` exists",
        ),
        (
            create("../escape.yaml", NEW_FLOW),
            "file",
            "use lowercase letters",
        ),
        (
            create("x.yml", NEW_FLOW),
            "file",
            "must end in .yaml or .mkw",
        ),
        (
            create(
                "broken.yaml",
                "workflow: broken\nversion: 1\ntrigger:\n  event: a.b\nsteps: []\n",
            ),
            "source",
            "the workflow has problems",
        ),
    ];
    for (body, field, message) in refused {
        let (status, answer) = engine.post("/workflows", &body).await;
        assert_eq!(
            (status, answer["field"].as_str()),
            (400, Some(field)),
            "{answer}"
        );
        assert!(
            answer["error"].as_str().unwrap().contains(message),
            "{answer}"
        );
    }
    let (_, answer) = engine
        .post(
            "/workflows",
            &create(
                "broken.yaml",
                "workflow: broken\nversion: 1\ntrigger:\n  event: a.b\nsteps: []\n",
            ),
        )
        .await;
    assert_eq!(answer["problems"][0]["line"], 1, "{answer}");
    assert!(
        !dir.path().join("workflows/broken.yaml").exists(),
        "a refused file is not written"
    );
    assert!(!dir.path().join("workflows/other.yaml").exists());
}

const SLA: &str = "workflow: sla\nversion: 1\ntrigger:\n  event: ticket.opened\nre_enroll: always\nsteps:\n  - wait: { for: 1h }\n  - action: task.create\n    with: { title: late, queue: support }\n";
const SLA_TEST: &str = "cases:\n  - name: a ticket gets a task after an hour\n    events:\n      - { at: 0s, type: ticket.opened, customer: c1 }\n    expect:\n      actions:\n        - { action: task.create, at: 1h, with: { queue: support } }\n";

#[tokio::test]
async fn a_draft_is_tested_and_backtested_without_touching_the_engine() {
    let dir = workspace(&[("sla.yaml", SLA), ("sla.test.yaml", SLA_TEST)]);
    let engine = start_with(&dir, &[]);
    let draft = |source: &str, days: u32| json!({ "source": source, "days": days }).to_string();
    let (status, saved) = engine.post("/workflows/sla/tests", "{}").await;
    assert_eq!(
        (status, saved["passed"].as_u64(), saved["failed"].as_u64()),
        (200, Some(1), Some(0)),
        "{saved}"
    );
    let changed = SLA.replace("queue: support", "queue: other");
    let (status, tried) = engine
        .post("/workflows/sla/tests", &draft(&changed, 7))
        .await;
    assert_eq!(
        (status, tried["failed"].as_u64()),
        (200, Some(1)),
        "{tried}"
    );
    let failure = tried["files"][0]["cases"][0]["failures"][0]
        .as_str()
        .unwrap();
    assert!(
        failure.contains("support") && failure.contains("other"),
        "{failure}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("workflows/sla.yaml")).unwrap(),
        SLA,
        "the file is untouched"
    );

    // A history two hours old: the draft would have created one task.
    let two_hours_ago = (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339();
    let old = json!({"id": "t1", "type": "ticket.opened", "customer": "c1", "occurred_at": two_hours_ago});
    assert_eq!(engine.post_events(&old.to_string()).await.0, 202);
    let (status, back) = engine
        .post("/workflows/sla/backtest", &draft(&changed, 1))
        .await;
    assert_eq!(status, 200, "{back}");
    assert_eq!(back["report"]["actions"]["task.create"], 1, "{back}");
    assert_eq!(back["report"]["reached"]["2"], 1, "{back}");
    assert!(back["graph"]["nodes"].as_array().unwrap().len() >= 3);

    let refused = [
        ("/workflows/sla/backtest", draft(&changed, 0), "days"),
        ("/workflows/sla/backtest", draft(&changed, 91), "days"),
        (
            "/workflows/sla/tests",
            draft(
                "workflow: sla\nversion: 1\ntrigger:\n  event: a.b\nsteps: []\n",
                7,
            ),
            "source",
        ),
    ];
    for (path, body, field) in refused {
        let (status, answer) = engine.post(path, &body).await;
        assert_eq!(
            (status, answer["field"].as_str()),
            (400, Some(field)),
            "{path}: {answer}"
        );
    }
    assert_eq!(engine.post("/workflows/nope/tests", "{}").await.0, 404);
}
