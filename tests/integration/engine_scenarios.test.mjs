// The real-time engine end to end, one visitor story per test: the events the
// browser tracker sends (docs/protocol.md) go in over HTTP, and each test checks
// what the detectors stored (docs/detectors.md: kinds, scores, evidence), the
// decision (docs/policy.md: rule, action, status, held_out, risk, the stored
// signals and explanation) and exactly what the visitor's WebSocket received.
//
//   1. the loan calculator's income field failing three times
//   2. a rage clicker on a disabled button
//   3. a confused navigator bouncing between two pages
//   4. a happy buyer (no signals, no intervention, converted)
//   5. a careful reader (no long_dwell) and an idle visitor (long_dwell)
//   6. a struggling visitor in the holdout (decided, stored, never pushed)
//
// One server; one project per kind of setting (see PROJECTS). The stories run
// concurrently, each in its own session with its own visitor. Nothing sleeps to
// wait for the server: tests wait on rows, messages and metrics. The only
// timed waits are the pace of the reader in (5), whose detector is about time,
// a bounded "nothing else arrives" check on sockets that must stay quiet, and
// settle()'s short grace after the engine's queues drained, before asserting
// that something was NOT stored (the engine exposes no "writes committed").
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startEngineServer, stopServer, Visitor, signalsOf, interventionsOf, interventionEvents, sessionRow,
  waitSignals, waitInterventions, waitStatus, waitSession, settle, waitFor, assertDecisionMatches,
  assertPushed, expectNoMessage, nextMessage, respond, pending, metric, close, sleep, sqlString,
} from './lib/engine.mjs';

const FORM = 'loan-calculator';
const DEFAULT_MESSAGE = (subject) =>
  `It looks like ${subject} is giving you trouble. Would you like to chat with someone who can help?`;
const DWELL_BOUND_MS = 6000;

const PROJECTS = {
  main: { holdout_pct: 0, goal: { path: '/thanks' } },
  dwell: { holdout_pct: 0, detectors: { long_dwell: { bound_ms: DWELL_BOUND_MS } } },
  holdout: { holdout_pct: 100 },
};

let j;
before(async () => { j = await startEngineServer({ projects: PROJECTS }); });
after(async () => { await stopServer(j); });

const kindsAndScores = (signals) => signals.map((s) => [s.kind, s.score]);
const isIntervention = (m) => m.type === 'intervention';

describe('engine scenarios', { concurrency: true }, () => {
  test('loan calculator: income fails three times -> form_errors + calculator_retry, a high-risk offer naming the field, pushed; shown then accepted stored in order', async () => {
    const v = new Visitor(j, j.projects.main);
    const ws = await v.connect();
    try {
      // Two failed attempts: form_errors at 60 (two errors on one field), risk 48: no decision yet.
      v.page('/calculator', 0).fieldFocus(FORM, 'income', 1500).failedCalculation(3000).failedCalculation(6000);
      await v.send();
      await waitSignals(j, v.sessionId, (s) => s.length >= 1, 'form_errors');
      await settle(j);
      let signals = signalsOf(j, v.sessionId);
      assert.deepEqual(kindsAndScores(signals), [['form_errors', 60]]);
      assert.deepEqual(signals[0].evidence, { field: 'income', form: FORM, errors: 2, reason: 'rangeUnderflow' });
      assert.equal(signals[0].path, '/calculator');
      assert.equal(interventionsOf(j, v.sessionId).length, 0, 'one signal at 60 (risk 48) is not enough to intervene');
      assert.deepEqual(j.query(`SELECT risk FROM risk_points WHERE session_id = ${sqlString(v.sessionId)} ORDER BY ts`), [{ risk: 48 }],
        'the risk curve moved once, to 48');

      // The third failure: form_errors escalates to 80 and the resubmits make a calculator retry (70).
      v.failedCalculation(0);
      await v.send();
      const [iv] = await waitInterventions(j, v.sessionId, 1);
      const msg = await nextMessage(ws, isIntervention, 10000);
      await waitSignals(j, v.sessionId, (s) => s.length >= 3, 'three signals');
      await settle(j);
      signals = signalsOf(j, v.sessionId);
      assert.deepEqual(kindsAndScores(signals), [['form_errors', 60], ['form_errors', 80], ['calculator_retry', 70]]);
      assert.deepEqual(signals[1].evidence, { field: 'income', form: FORM, errors: 3, reason: 'rangeUnderflow' });
      assert.deepEqual(signals[2].evidence, { form: FORM, attempts: 3 });
      const submit = v.sent.at(-1);
      assert.equal(signals[2].event_id, j.query(`SELECT id FROM events WHERE message_id = ${sqlString(submit.messageId)}`)[0].id,
        'the retry is the third submit');

      assert.equal(interventionsOf(j, v.sessionId).length, 1);
      assert.equal(iv.rule, 'high-risk');
      assert.equal(iv.action, 'live_chat_offer');
      assert.equal(iv.held_out, 0);
      assert.equal(iv.path, '/calculator');
      assert.equal(iv.anonymous_id, v.anonymousId);
      assert.equal(iv.event_id, signals[2].event_id, 'decided on the event that made the risk cross 75');
      assert.ok(iv.risk >= 75 && iv.risk <= 84, `risk ${iv.risk}`);
      assertDecisionMatches(iv, signals);
      assert.deepEqual(iv.signals, [
        { kind: 'form_errors', score: 80, max_score: 80, count: 2 },
        { kind: 'calculator_retry', score: 70, max_score: 70, count: 1 },
      ]);
      assert.equal(iv.payload.title, 'Need help?');
      assert.equal(iv.payload.message, DEFAULT_MESSAGE('the income field'));
      assert.equal(iv.expires_at - iv.created_at, 120000, 'default intervention_ttl 2m');

      // Exactly hello, then the offer.
      assertPushed(msg, iv);
      assert.deepEqual(msg, {
        type: 'intervention', id: iv.id, action: 'live_chat_offer', title: 'Need help?',
        message: DEFAULT_MESSAGE('the income field'), selector: null, name: null, payload: null,
        rule: 'high-risk', session_id: v.sessionId, expires_at: new Date(iv.expires_at).toISOString(),
      });
      assert.deepEqual(ws.messages.map((m) => m.type), ['hello', 'intervention']);
      await waitStatus(j, iv.id, 'delivered');

      // The browser shows it (over the socket), then "Start live chat" (over HTTP).
      ws.send({ type: 'response', id: msg.id, status: 'shown' });
      await waitStatus(j, iv.id, 'shown');
      const res = await respond(j, v.writeKey, msg.id, 'accepted', v.sessionId);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json, { success: true, previous: 'shown', status: 'accepted', changed: true });
      const events = interventionEvents(j, iv.id);
      assert.deepEqual(events.map((e) => e.status), ['created', 'delivered', 'shown', 'accepted']);
      for (let i = 1; i < events.length; i++) assert.ok(events[i].ts >= events[i - 1].ts, 'steps in time order');
      const [row] = interventionsOf(j, v.sessionId);
      assert.equal(row.status, 'accepted');
      assert.ok(row.delivered_at >= row.created_at && row.shown_at >= row.delivered_at && row.responded_at >= row.shown_at);
      assert.equal(sessionRow(j, v.sessionId).interventions, 1);
    } finally {
      close(ws);
    }
  });

  test('rage clicker: five clicks within a second on a disabled button, each dead -> rage_click and dead_click, an offer', async () => {
    const v = new Visitor(j, j.projects.main);
    const ws = await v.connect();
    try {
      const selector = 'form#application > button.submit';
      v.page('/apply', 0);
      const clickIds = [];
      for (let i = 0; i < 5; i++) {
        v.click(selector, 2000 + 200 * i, { x: 612 + i, y: 418, disabled: true, text: 'Submit application' });
        clickIds.push(v.lastClickId);
      }
      // The tracker reports each click dead 1000 ms after it.
      for (let i = 0; i < 5; i++) v.deadClick(selector, 3000 + 200 * i, { x: 612 + i, y: 418, clickId: clickIds[i] });
      await v.send();
      const [iv] = await waitInterventions(j, v.sessionId, 1);
      const msg = await nextMessage(ws, isIntervention, 10000);
      await waitSignals(j, v.sessionId, (s) => s.length >= 5, 'five signals');
      await settle(j);

      const signals = signalsOf(j, v.sessionId);
      assert.deepEqual(kindsAndScores(signals),
        [['rage_click', 70], ['rage_click', 90], ['dead_click', 50], ['dead_click', 70], ['dead_click', 85]],
        'rage at 3 clicks, escalated at 5; dead clicks 50, 70, 85 and no more');
      assert.deepEqual(signals[0].evidence, { clicks: 3, selector, x: 614, y: 418, disabled: true });
      assert.deepEqual(signals[1].evidence, { clicks: 5, selector, x: 616, y: 418, disabled: true });
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(signals[2 + i].evidence, { dead_clicks: i + 1, selector, tag: 'button', click_id: clickIds[i] });
      }
      assert.ok(signals.every((s) => s.path === '/apply'));

      // Rage 90 alone gives 72; the first dead click takes it to 83.
      assert.equal(interventionsOf(j, v.sessionId).length, 1, 'one offer per session (caps.session_interval)');
      assert.equal(iv.rule, 'high-risk');
      assert.equal(iv.action, 'live_chat_offer');
      assert.equal(iv.held_out, 0);
      assert.equal(iv.event_id, signals[2].event_id, 'decided on the first dead click');
      assertDecisionMatches(iv, signals);
      assert.deepEqual(iv.signals, [
        { kind: 'rage_click', score: 90, max_score: 90, count: 2 },
        { kind: 'dead_click', score: 50, max_score: 50, count: 1 },
      ]);
      assert.ok(iv.risk >= 75, `risk ${iv.risk}`);
      assert.equal(iv.payload.message, DEFAULT_MESSAGE('this page'), 'no field in trouble: the fallback');
      assertPushed(msg, iv);
      await expectNoMessage(ws, (m) => m.type !== 'hello' && m.id !== iv.id, 500, 'second message');
      assert.deepEqual(ws.messages.map((m) => m.type), ['hello', 'intervention']);
    } finally {
      close(ws);
    }
  });

  test('confused navigator: A, B, A, B, A with 2-3 s on each -> u_turn and rapid_navigation, an offer', async () => {
    const v = new Visitor(j, j.projects.main);
    const ws = await v.connect();
    try {
      const A = '/loans/compare';
      const B = '/loans/fixed-rate';
      v.page(A, 0).page(B, 2500).page(A, 5000).page(B, 7000).page(A, 10000);
      await v.send();
      const [iv] = await waitInterventions(j, v.sessionId, 1);
      const msg = await nextMessage(ws, isIntervention, 10000);
      await waitSignals(j, v.sessionId, (s) => s.length >= 4, 'four signals');
      await settle(j);

      const signals = signalsOf(j, v.sessionId);
      assert.deepEqual(kindsAndScores(signals), [['u_turn', 55], ['u_turn', 75], ['rapid_navigation', 65], ['u_turn', 85]]);
      assert.deepEqual(signals[0].evidence, { back_to: A, seconds_away: 2.5, u_turns: 1 });
      assert.deepEqual(signals[1].evidence, { back_to: B, seconds_away: 2, u_turns: 2 });
      assert.deepEqual(signals[2].evidence, { pages: 4, within_s: 10 });
      assert.deepEqual(signals[3].evidence, { back_to: A, seconds_away: 3, u_turns: 3 });

      // 55 alone is 44; the 4th page view (u_turn 75 + rapid_navigation 65) makes 81.
      assert.equal(interventionsOf(j, v.sessionId).length, 1);
      assert.equal(iv.rule, 'high-risk');
      assert.equal(iv.action, 'live_chat_offer');
      assert.equal(iv.held_out, 0);
      assert.equal(iv.path, B);
      assert.equal(iv.event_id, signals[1].event_id, 'decided on the fourth page view');
      assertDecisionMatches(iv, signals);
      assert.deepEqual(iv.signals, [
        { kind: 'u_turn', score: 75, max_score: 75, count: 2 },
        { kind: 'rapid_navigation', score: 65, max_score: 65, count: 1 },
      ]);
      assert.equal(iv.payload.message, DEFAULT_MESSAGE('this page'));
      assertPushed(msg, iv);
      assert.deepEqual(ws.messages.map((m) => m.type), ['hello', 'intervention']);
      const row = sessionRow(j, v.sessionId);
      assert.equal(row.interventions, 1);
      assert.equal(row.distinct_pages, 2);
    } finally {
      close(ws);
    }
  });

  // The happy buyer's journey (docs/protocol.md events), 27 s long, ending on the goal page.
  const happyJourney = (v) => v.page('/', 0).scroll(25, 1500).scroll(50, 2500)
    .page('/calculator', 5000)
    .fieldFocus(FORM, 'income', 6000).fieldChange(FORM, 'income', 7000, { length: 5 })
    .fieldFocus(FORM, 'term', 8000).fieldChange(FORM, 'term', 8800, { length: 2 })
    .formSubmit(FORM, 9500, { valid: true, fieldCount: 2, filledCount: 2 })
    .click('#apply-now', 12000, { tag: 'a', text: 'Apply now' })
    .page('/apply', 16000)
    .fieldFocus('application', 'name', 17000, { type: 'text' }).fieldChange('application', 'name', 18000, { type: 'text', length: 12 })
    .fieldFocus('application', 'email', 19000, { type: 'email' }).fieldChange('application', 'email', 20000, { type: 'email', length: 18 })
    .formSubmit('application', 21000, { valid: true, fieldCount: 2, filledCount: 2 })
    .page('/thanks', 27000);

  test('happy buyer: pages, a valid calculation, a valid application, the goal page -> no signals, no offer, only hello, converted', async () => {
    const v = new Visitor(j, j.projects.main);
    const ws = await v.connect();
    try {
      await happyJourney(v).send();
      // The engine writes a session's row as it goes (the goal is in it).
      const row = await waitSession(j, v.sessionId, (r) => r.events === v.sent.length, 'all events in the session row', 15000);
      assert.equal(row.converted, 1, 'the goal page converts the session');
      const thanks = v.sent.at(-1);
      const stored = j.query(`SELECT timestamp FROM events WHERE message_id = ${sqlString(thanks.messageId)}`)[0];
      assert.equal(row.converted_at, stored.timestamp, 'converted when the goal page was seen');
      assert.equal(row.pages, 4);
      assert.equal(row.entry_path, '/');
      assert.equal(row.exit_path, '/thanks');
      assert.equal(row.max_risk, 0);
      assert.equal(row.signals, 0);
      assert.equal(row.signal_counts, '{}');
      assert.equal(row.interventions, 0);
      assert.equal(row.held_out, 0);

      await settle(j);
      assert.deepEqual(signalsOf(j, v.sessionId), []);
      assert.deepEqual(interventionsOf(j, v.sessionId), []);
      assert.deepEqual(j.query(`SELECT * FROM risk_points WHERE session_id = ${sqlString(v.sessionId)}`), []);
      await expectNoMessage(ws, (m) => m.type !== 'hello', 1000);
      assert.deepEqual(ws.messages.map((m) => m.type), ['hello']);
    } finally {
      close(ws);
    }
  });

  test('careful reader scrolling deeper dwells past the bound -> no long_dwell; an idle visitor past it -> long_dwell', async () => {
    // long_dwell is measured on the server's clock against the events' times,
    // so these two visitors act in real time. The reader reads for 7.5 s (the
    // bound is 6 s) and reaches a new 25% of the page every 1.5 s (the idle
    // half-bound is 3 s), then switches tab. The idle visitor opens a page when
    // the reader is 4.5 s in and does nothing: it must get long_dwell at 6 s,
    // by when a detector ignoring progress (t = 6 s) or the hidden tab (t = 9 s)
    // would have flagged the reader.
    const reader = new Visitor(j, j.projects.dwell);
    const idle = new Visitor(j, j.projects.dwell);
    const t0 = Date.now();
    const at = async (ms) => { const d = t0 + ms - Date.now(); if (d > 0) await sleep(d); };
    await reader.page('/guide/repayment-options', 0).sendNow();
    let idleStart;
    for (const [ms, depth] of [[1500, 25], [3000, 50], [4500, 75], [6000, 100]]) {
      await at(ms);
      await reader.scroll(depth, 0).sendNow();
      if (depth === 50) {
        await at(4500);
        idleStart = Date.now();
        await idle.page('/guide/fees', 0).sendNow();
      }
    }
    await at(7500);
    await reader.visibility('hidden', 0).sendNow();

    const [sig] = await waitSignals(j, idle.sessionId, (s) => s.length >= 1, 'long_dwell', 30000);
    assert.equal(sig.kind, 'long_dwell');
    assert.equal(sig.score, 60);
    assert.equal(sig.path, '/guide/fees');
    assert.equal(sig.evidence.page, '/guide/fees');
    assert.equal(sig.evidence.bound, 'configured');
    assert.equal(sig.evidence.bound_seconds, DWELL_BOUND_MS / 1000);
    assert.ok(sig.evidence.seconds >= 6 && sig.evidence.seconds <= 8, `seconds ${sig.evidence.seconds}`);
    assert.equal(sig.evidence.idle_seconds, sig.evidence.seconds, 'no progress at all since the page view');
    const idlePage = j.query(`SELECT id, timestamp FROM events WHERE message_id = ${sqlString(idle.sent[0].messageId)}`)[0];
    assert.ok(sig.ts - idlePage.timestamp >= DWELL_BOUND_MS, 'not before the bound');
    assert.equal(sig.event_id, idlePage.id, 'evidence points at the page view');
    assert.ok(Date.now() - idleStart >= DWELL_BOUND_MS);
    assert.deepEqual(interventionsOf(j, idle.sessionId), [], 'long_dwell at 60 alone does not intervene');

    await settle(j);
    assert.deepEqual(signalsOf(j, reader.sessionId), [], 'the reader made progress the whole time');
    assert.deepEqual(interventionsOf(j, reader.sessionId), []);
    assert.ok(Date.now() - t0 > 7500 + 1000, 'the reader dwelt well past the bound');
  });

  test('holdout (holdout_pct 100): the struggle is decided and stored held_out, nothing is pushed, nothing pending', async () => {
    const v = new Visitor(j, j.projects.holdout);
    const ws = await v.connect();
    try {
      const heldBefore = await metric(j, 'journey_interventions_total{outcome="held_out"}');
      v.page('/calculator', 0).fieldFocus(FORM, 'income', 1500)
        .failedCalculation(3000).failedCalculation(6000).failedCalculation(9000);
      await v.send();
      const [iv] = await waitInterventions(j, v.sessionId, 1);
      await waitSignals(j, v.sessionId, (s) => s.length >= 3, 'three signals');
      await settle(j);
      const signals = signalsOf(j, v.sessionId);
      assert.deepEqual(kindsAndScores(signals), [['form_errors', 60], ['form_errors', 80], ['calculator_retry', 70]],
        'the holdout is detected exactly like everyone else');
      assert.equal(iv.held_out, 1);
      assert.equal(iv.status, 'held_out');
      assert.equal(iv.rule, 'high-risk');
      assert.equal(iv.action, 'live_chat_offer');
      assert.equal(iv.payload.message, DEFAULT_MESSAGE('the income field'), 'the message it would have had is stored');
      assert.equal(iv.delivered_at, null);
      assertDecisionMatches(iv, signals);
      assert.deepEqual(interventionEvents(j, iv.id).map((e) => e.status), ['held_out']);
      assert.equal(sessionRow(j, v.sessionId).held_out, 1);
      await waitFor(async () => (await metric(j, 'journey_interventions_total{outcome="held_out"}')) === heldBefore + 1,
        { timeout: 10000, what: 'held_out counted' });

      // The decision row exists: anything pushed would be on its way by now.
      await expectNoMessage(ws, isIntervention, 1000, 'intervention for a held-out session');
      assert.deepEqual(ws.messages.map((m) => m.type), ['hello']);
      const res = await pending(j, v.writeKey, v.sessionId);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json, { interventions: [] });
      assert.deepEqual(interventionEvents(j, iv.id).map((e) => e.status), ['held_out'], 'never delivered');
    } finally {
      close(ws);
    }
  });
});
