//! The YAML form: serde_yaml reads the document into the types below (which also publish the JSON
//! Schema), and the [`Locator`] supplies line and column for every later problem.

use crate::ast::*;
use crate::diag::{Diagnostics, Problem};
use crate::expr::parse_duration;
mod decide;
mod serde_errors;
mod split;
mod timing;
mod trigger;

use crate::locate::{Locator, Seg};
use crate::span::Span;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_errors::did_you_mean;
pub(crate) use serde_errors::{read_yaml, serde_problem};
use serde_yaml::{Mapping, Value};

/// A workflow file in YAML form.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct YamlWorkflow {
    /// Unique workflow name, e.g. `cart-abandon`.
    pub workflow: String,
    /// Version number; bump it when you change the logic.
    pub version: u32,
    /// Free text for people.
    #[serde(default)]
    pub description: Option<String>,
    /// What starts a run.
    pub trigger: YamlTrigger,
    /// Entry condition, e.g. `event.cart.total >= 50 and customer.consent.email`.
    #[serde(default)]
    pub when: Option<Scalar>,
    /// Event type that ends a run early as "goal reached", e.g. `order.placed`.
    #[serde(default)]
    pub goal: Option<String>,
    /// `never` (default), `always`, `after 30d`, `when_finished` (one active run per customer;
    /// a trigger during it is dropped) or `replace` (a new trigger ends the active run),
    /// optionally followed by `per <expression>` to count by something else than the customer
    /// (`when_finished per event.kpi.id`).
    #[serde(default)]
    pub re_enroll: Option<String>,
    /// Over the frequency cap: `skip` (default) or `defer` customer-facing steps.
    #[serde(default)]
    #[schemars(extend("enum" = ["skip", "defer"]))]
    pub over_cap: Option<String>,
    /// `low`, `normal` (default) or `high`: a workflow below the highest priority in use leaves
    /// the last slot of every frequency cap to the workflows above it.
    #[serde(default)]
    #[schemars(extend("enum" = ["low", "normal", "high"]))]
    pub priority: Option<String>,
    /// When marketing messages may go out, in each customer's time zone: `weekdays 09:00-20:00`,
    /// a mapping with `hours`, `timezone`, `holidays` and `outside`, or `off` (not even the
    /// server's default window).
    #[serde(default)]
    #[schemars(with = "Option<timing::YamlSendWindow>")]
    pub send_window: Option<Value>,
    /// A burst of triggers starts one run, with the last event, once this long passed without
    /// another: `5m`, or `5m per event.account_id` to group by something else than the customer.
    #[serde(default)]
    pub debounce: Option<String>,
    /// The steps, in order.
    #[schemars(with = "Vec<YamlStep>")]
    pub steps: Vec<Value>,
}

/// What starts a run: exactly one of `event`, `schedule` or `date`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct YamlTrigger {
    /// Event type, e.g. `cart.abandoned`.
    pub event: Option<String>,
    /// A segment whose entries (or exits, with `on: leave`) start runs, e.g. `at-risk`.
    pub segment: Option<String>,
    /// With `segment`: `enter` (default) or `leave`.
    pub on: Option<String>,
    /// Cron expression (5 fields, or 6 with seconds), e.g. `0 9 * * *`.
    pub schedule: Option<String>,
    /// IANA time zone for `schedule` or `date`, e.g. `Asia/Tokyo` (default UTC).
    pub timezone: Option<String>,
    /// With `schedule`: run once per stored entity of this kind (e.g. `contract`).
    pub for_each: Option<String>,
    /// Path to a date in the event, e.g. `event.contract.renewal_date`.
    pub date: Option<String>,
    /// With `date`: fire this long before the date, e.g. `30d`.
    pub before: Option<String>,
    /// With `date`: fire this long after the date.
    pub after: Option<String>,
    /// With `date`: time of day `HH:MM` (default `09:00`).
    pub at: Option<String>,
    /// With `date`: the event type that carries the date, e.g. `contract.updated`.
    pub from_event: Option<String>,
}

/// A step: exactly one of `action`, `wait`, `if` or `exit`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct YamlStep {
    /// Optional id, unique in the workflow.
    pub id: Option<String>,
    /// Action name, e.g. `email.send`.
    pub action: Option<String>,
    /// Action arguments; strings may hold `{{ expressions }}`.
    #[schemars(with = "Option<std::collections::BTreeMap<String, serde_json::Value>>")]
    pub with: Option<Mapping>,
    /// Retry policy of the action.
    pub retry: Option<YamlRetry>,
    /// At most so many calls of the action per time, e.g. `10/1s`, or per key:
    /// `10/1s per event.account_id` (a CRM API's quota).
    pub throttle: Option<String>,
    /// Wait for a duration, or until an event.
    pub wait: Option<YamlWait>,
    /// Condition of a branch.
    #[serde(rename = "if")]
    pub if_: Option<Scalar>,
    /// Steps when the condition holds.
    #[schemars(with = "Option<Vec<YamlStep>>")]
    pub then: Option<Vec<Value>>,
    /// Steps when it does not.
    #[serde(rename = "else")]
    #[schemars(with = "Option<Vec<YamlStep>>")]
    pub otherwise: Option<Vec<Value>>,
    /// End the run, with an optional reason.
    pub exit: Option<Option<String>>,
    /// An experiment's name: each customer takes one of the `variants`, by weight, the same
    /// one every time.
    pub split: Option<String>,
    /// With `split`: what counts as a conversion, e.g. `order.placed within 7d`.
    pub convert: Option<String>,
    /// A decision table: `{ inputs: [...], hit: first|collect, rows: [{ when: [...], then: {...} }] }`;
    /// the matching row's `then` becomes the step's output (`steps.<id>.output`).
    pub decide: Option<decide::YamlDecide>,
    /// With `split`: the variants, each `{ name, weight, steps }`.
    #[schemars(with = "Option<Vec<split::YamlVariant>>")]
    pub variants: Option<Vec<Value>>,
}

/// Wait settings.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct YamlWait {
    /// How long, e.g. `1h` (the timeout with `until_event`).
    #[serde(rename = "for")]
    pub duration: Option<String>,
    /// A moment to wait for instead of a duration: `customer-local 09:00 on weekdays`,
    /// `event.contract.renewal_date - 7d at 10:00`.
    pub until: Option<String>,
    /// An event that ends the wait early, e.g. `order.placed`.
    pub until_event: Option<String>,
    /// Correlation key (default `customer.id`), e.g. `event.ticket.id`.
    #[serde(rename = "match")]
    pub match_key: Option<String>,
    /// A condition the awaited event must meet too, e.g. `event.kpi.value < event.kpi.threshold`
    /// (`event` is the awaited event here).
    #[serde(rename = "where")]
    pub condition: Option<String>,
    /// An awaited event received this long before the wait began still counts, e.g. `10m` (a
    /// reply that raced the wait is not lost).
    pub lookback: Option<String>,
    /// `continue` (default) or `exit` when the event arrives.
    pub on_event: Option<String>,
    /// `continue` (default) or `exit` when the time is up.
    pub on_timeout: Option<String>,
}

/// Retry settings.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct YamlRetry {
    /// Total attempts (default 3).
    pub attempts: u32,
    /// First backoff, doubled each attempt (default `10s`).
    pub backoff: Option<String>,
    /// Largest backoff (default `1h`).
    pub max_backoff: Option<String>,
}

/// A scalar that is read as expression text (`true`, `5` and strings all work).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Scalar {
    /// A string.
    Str(String),
    /// A boolean.
    Bool(bool),
    /// A number.
    Num(f64),
}

impl Scalar {
    fn text(&self) -> String {
        match self {
            Scalar::Str(s) => s.clone(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Num(n) => n.to_string(),
        }
    }
}

/// Files at least this large are parsed and indexed on two threads.
const PARALLEL_PARSE_BYTES: usize = 64 * 1024;

/// Parses YAML text into the AST, pushing problems into `diags`.
pub fn parse(text: &str, diags: &mut Diagnostics) -> Option<WorkflowAst> {
    let (doc, loc) = if text.len() >= PARALLEL_PARSE_BYTES {
        // The typed parse and the position index are independent passes over the text: on two
        // threads a 1 MiB file checks in about 240 ms instead of 330 ms.
        std::thread::scope(|s| {
            let loc = s.spawn(|| Locator::new(text));
            let doc = serde_yaml::from_str::<YamlWorkflow>(text);
            let loc = loc.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            (doc, Some(loc))
        })
    } else {
        (serde_yaml::from_str(text), None)
    };
    let doc = match doc {
        Ok(doc) => doc,
        Err(e) => {
            let at = e.location().map(|l| l.index()).unwrap_or(0);
            diags.push(serde_problem(&e.to_string(), Span::new(at, at + 1)));
            return None;
        }
    };
    let loc = loc.unwrap_or_else(|| Locator::new(text));
    let mut r = Reader { loc: &loc, diags };
    r.workflow(doc)
}

struct Reader<'a> {
    loc: &'a Locator,
    diags: &'a mut Diagnostics,
}

/// An owned path into the document.
type Path = Vec<PathSeg>;

#[derive(Debug, Clone)]
enum PathSeg {
    Key(&'static str),
    Name(String),
    Index(usize),
}

fn segs(path: &Path) -> Vec<Seg<'_>> {
    path.iter()
        .map(|p| match p {
            PathSeg::Key(k) => Seg::Key(k),
            PathSeg::Name(k) => Seg::Key(k),
            PathSeg::Index(i) => Seg::Index(*i),
        })
        .collect()
}

fn with(path: &Path, seg: PathSeg) -> Path {
    let mut p = path.clone();
    p.push(seg);
    p
}

impl Reader<'_> {
    fn span(&self, path: &Path) -> Span {
        self.loc.span(&segs(path))
    }

    fn spanned(&self, value: String, path: &Path) -> Spanned<String> {
        let span = self.span(path);
        Spanned::new(value, span)
    }

    fn expr(&self, text: String, path: &Path) -> ExprSrc {
        ExprSrc {
            offset: self.loc.text_offset(&segs(path)),
            text,
        }
    }

    fn problem(&mut self, code: &'static str, path: &Path, message: String, hint: &str) {
        let span = self.span(path);
        self.diags
            .push(Problem::new(code, span, message).hint(hint));
    }

    /// A duration, or a problem naming why `text` is not one.
    fn duration(&mut self, text: &str, path: &Path) -> Option<i64> {
        let d = parse_duration(text);
        if d.is_none() {
            let (message, hint) = if duration_shaped(text) {
                (
                    format!("`{text}` is longer than 100 years"),
                    "durations go up to 100 years",
                )
            } else {
                (
                    format!("`{text}` is not a duration"),
                    "write a number and a unit: `30s`, `15m`, `1h`, `30d`, `2w`",
                )
            };
            self.problem("duration", path, message, hint);
        }
        d
    }

    fn workflow(&mut self, doc: YamlWorkflow) -> Option<WorkflowAst> {
        let root: Path = vec![];
        let trigger = self.trigger(doc.trigger);
        let re_enroll_path = vec![PathSeg::Key("re_enroll")];
        // `after 1d per event.kpi.id`: the policy, then what it counts by.
        let (re_enroll, re_enroll_per) = match doc.re_enroll.as_deref() {
            Some(text) => {
                let (policy, per) = self.split_per(text, &re_enroll_path);
                let policy = self
                    .re_enroll(policy, &re_enroll_path)
                    .map(|v| Spanned::new(v, self.span(&re_enroll_path)));
                (policy, per)
            }
            None => (None, None),
        };
        let steps = self.steps(doc.steps, &with(&root, PathSeg::Key("steps")));
        let send_window = doc.send_window.and_then(|w| self.send_window(w));
        let debounce = doc.debounce.and_then(|d| self.debounce(&d));
        Some(WorkflowAst {
            name: self.spanned(doc.workflow, &vec![PathSeg::Key("workflow")]),
            version: Spanned::new(doc.version, self.span(&vec![PathSeg::Key("version")])),
            description: doc.description,
            trigger: trigger?,
            when: doc
                .when
                .map(|w| self.expr(w.text(), &vec![PathSeg::Key("when")])),
            goal: doc
                .goal
                .map(|g| self.spanned(g, &vec![PathSeg::Key("goal")])),
            over_cap: doc
                .over_cap
                .map(|o| self.spanned(o, &vec![PathSeg::Key("over_cap")])),
            priority: doc
                .priority
                .map(|p| self.spanned(p, &vec![PathSeg::Key("priority")])),
            re_enroll,
            re_enroll_per,
            send_window,
            debounce,
            steps,
        })
    }

    fn re_enroll(&mut self, text: &str, path: &Path) -> Option<ReEnrollAst> {
        match text.trim() {
            "never" => Some(ReEnrollAst::Never),
            "always" => Some(ReEnrollAst::Always),
            "when_finished" | "when finished" => Some(ReEnrollAst::WhenFinished),
            "replace" => Some(ReEnrollAst::Replace),
            other => match other.strip_prefix("after ") {
                Some(d) => self.duration(d.trim(), path).map(ReEnrollAst::After),
                None => {
                    self.problem(
                        "re-enroll",
                        path,
                        format!("`{other}` is not a re-enrollment policy"),
                        "write `never`, `always`, `after 30d`, `when_finished` or `replace`",
                    );
                    None
                }
            },
        }
    }

    fn steps(&mut self, values: Vec<Value>, path: &Path) -> Vec<StepAst> {
        values
            .into_iter()
            .enumerate()
            .filter_map(|(i, v)| self.step(v, &with(path, PathSeg::Index(i))))
            .collect()
    }

    /// One step (taken by value: a 1 MiB workflow must not copy every step to read it).
    fn step(&mut self, value: Value, path: &Path) -> Option<StepAst> {
        let span = self.span(path);
        let Some(map) = value.as_mapping() else {
            self.problem(
                "step",
                path,
                "a step must be a mapping".into(),
                "write e.g. `- action: email.send` or `- wait: { for: 1h }`",
            );
            return None;
        };
        let kinds = ["action", "wait", "if", "split", "decide", "exit"]
            .iter()
            .filter(|k| map.contains_key(**k))
            .count();
        let step: YamlStep = match serde_yaml::from_value(value) {
            Ok(s) => s,
            Err(e) => {
                let msg = e.to_string();
                let field = msg.split('`').nth(1).unwrap_or("");
                let at = if msg.contains("unknown field") {
                    self.loc.key_span(&segs(path), field)
                } else {
                    span
                };
                let mut p = serde_problem(&msg, at);
                if msg.contains("unknown field") {
                    p.message = format!("unknown step kind or field `{field}`");
                    let kinds = "a step is one of `action:` (with `with:`, `retry:`), `wait:`, `if:` (with `then:`, `else:`), `split:` (with `convert:`, `variants:`), `decide:` or `exit:`";
                    p.hint = Some(match did_you_mean(&msg) {
                        Some(suggestion) => format!("{suggestion} {kinds}"),
                        None => kinds.into(),
                    });
                }
                self.diags.push(p);
                return None;
            }
        };
        if kinds != 1 {
            let message = if kinds == 0 {
                "a step needs one of `action`, `wait`, `if`, `split`, `decide` or `exit`"
            } else {
                "a step can only be one of `action`, `wait`, `if`, `split`, `decide` or `exit`"
            };
            self.problem("step", path, message.into(), "split it into several steps");
            return None;
        }
        let id = step
            .id
            .map(|i| self.spanned(i, &with(path, PathSeg::Key("id"))));
        let kind = if let Some(name) = step.action {
            let args_path = with(path, PathSeg::Key("with"));
            let args = step
                .with
                .unwrap_or_default()
                .iter()
                .filter_map(|(k, v)| {
                    let key = k.as_str()?.to_string();
                    let p = with(&args_path, PathSeg::Name(key.clone()));
                    Some((self.spanned(key, &p), self.arg(v, &p)))
                })
                .collect();
            let retry = step
                .retry
                .map(|r| self.retry(r, &with(path, PathSeg::Key("retry"))));
            let throttle = step
                .throttle
                .map(|t| self.throttle(&t, &with(path, PathSeg::Key("throttle"))));
            StepKindAst::Action {
                name: self.spanned(name, &with(path, PathSeg::Key("action"))),
                args,
                retry,
                throttle,
            }
        } else if let Some(w) = step.wait {
            self.wait(w, &with(path, PathSeg::Key("wait")))
        } else if let Some(cond) = step.if_ {
            StepKindAst::If {
                cond: self.expr(cond.text(), &with(path, PathSeg::Key("if"))),
                then: self.steps(
                    step.then.unwrap_or_default(),
                    &with(path, PathSeg::Key("then")),
                ),
                otherwise: self.steps(
                    step.otherwise.unwrap_or_default(),
                    &with(path, PathSeg::Key("else")),
                ),
            }
        } else if let Some(d) = step.decide {
            self.decide(d, &with(path, PathSeg::Key("decide")))
        } else if let Some(name) = step.split {
            self.split(name, step.convert, step.variants.unwrap_or_default(), path)
        } else {
            StepKindAst::Exit {
                reason: step.exit.flatten(),
            }
        };
        Some(StepAst { id, kind, span })
    }

    fn retry(&mut self, r: YamlRetry, path: &Path) -> RetryAst {
        RetryAst {
            attempts: Spanned::new(r.attempts, self.span(&with(path, PathSeg::Key("attempts")))),
            backoff_ms: r
                .backoff
                .and_then(|b| self.duration(&b, &with(path, PathSeg::Key("backoff")))),
            max_backoff_ms: r
                .max_backoff
                .and_then(|b| self.duration(&b, &with(path, PathSeg::Key("max_backoff")))),
        }
    }

    fn arg(&mut self, value: &Value, path: &Path) -> ArgAst {
        match value {
            Value::String(s) if s.contains("{{") => ArgAst::Template(self.expr(s.clone(), path)),
            Value::Mapping(m) => ArgAst::Map(
                m.iter()
                    .filter_map(|(k, v)| {
                        let key = k.as_str()?.to_string();
                        let arg = self.arg(v, &with(path, PathSeg::Name(key.clone())));
                        Some((key, arg))
                    })
                    .collect(),
            ),
            Value::Sequence(items) => ArgAst::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| self.arg(v, &with(path, PathSeg::Index(i))))
                    .collect(),
            ),
            other => {
                ArgAst::Literal(serde_json::to_value(other).unwrap_or(serde_json::Value::Null))
            }
        }
    }
}

/// Digits and a unit (`12d`), whatever the size: a refused one of this shape is too long.
fn duration_shaped(text: &str) -> bool {
    let text = text.trim();
    let unit = text.trim_start_matches(|c: char| c.is_ascii_digit());
    unit.len() < text.len() && ["ms", "s", "m", "h", "d", "w"].contains(&unit)
}
