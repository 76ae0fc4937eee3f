// Unit tests of the condition builder's text (engine/web/src/conditions.ts): expressions read
// as rows when they are rows, rows written back as the DSL's expression text, values quoted as
// literals, and what rows cannot show left as text.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { load } from "./bundle.mjs";

let c;
before(async () => {
  c = await load("conditions");
});

test("rows joined by one word are read back as rows", () => {
  assert.deepEqual(c.parseCondition('event.cart.total >= 50 and customer.consent.email'), {
    join: "and",
    rows: [{ path: "event.cart.total", op: ">=", value: "50" }, { path: "customer.consent.email", op: "is true", value: "" }],
  });
  assert.deepEqual(c.parseCondition('event.ticket.priority in ["high", "urgent"] or not customer.vip'), {
    join: "or",
    rows: [{ path: "event.ticket.priority", op: "in", value: '["high", "urgent"]' }, { path: "customer.vip", op: "is false", value: "" }],
  });
  assert.deepEqual(c.parseCondition('event.note contains " and "'), { join: "and", rows: [{ path: "event.note", op: "contains", value: '" and "' }] });
  assert.deepEqual(c.parseCondition(""), { join: "and", rows: [] });
});

test("what rows cannot show stays text", () => {
  for (const text of ["a == 1 and b == 2 or c == 3", "(a == 1 or b == 2) and c", "len(event.items) > 2", "event.total > event.limit", 'a == "open'])
    assert.equal(c.parseCondition(text), null, text);
});

test("rows are written as the DSL's expression text, values as literals", () => {
  const rows = [
    { path: "event.trial.plan", op: "==", value: "pro" },
    { path: "event.cart.total", op: ">=", value: " 50 " },
    { path: "event.ticket.priority", op: "in", value: "high, urgent, 3" },
    { path: "customer.consent.email", op: "is true", value: "" },
    { path: "customer.blocked", op: "is false", value: "" },
    { path: "  ", op: "==", value: "ignored: no path yet" },
  ];
  assert.equal(c.conditionText("and", rows), 'event.trial.plan == "pro" and event.cart.total >= 50 and event.ticket.priority in ["high", "urgent", 3] and customer.consent.email and not customer.blocked');
  assert.equal(c.literal('say "hi"', "=="), '"say \\"hi\\""');
  assert.equal(c.literal("true", "!="), "true");
  const text = c.conditionText("or", rows.slice(0, 3));
  assert.deepEqual(c.parseCondition(text).rows.map((r) => r.path), ["event.trial.plan", "event.cart.total", "event.ticket.priority"], "written text reads back as the same rows");
});
