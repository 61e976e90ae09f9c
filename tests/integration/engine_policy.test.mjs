// The intervention policy and the live channel of the real server
// (docs/policy.md, docs/protocol.md), each through HTTP in and WebSocket out:
//
//   7.  frequency caps: caps.session_interval (default and "2s"), daily_per_visitor
//   8.  cooldown after "maybe later" (declined) or a dismissal
//   9.  exclude_paths; tooltip, custom and priority_route actions (the webhook);
//       message templates
//   10. settings validation: the CLI refuses bad settings naming the field
//   11. the polling route (pending -> delivered), expiry after intervention_ttl,
//       pending interventions sent on connect, 409 / 404 / 400 answers
//   12. a restart rebuilds live sessions from the stored events, without
//       storing their signals twice
//   13. a client that stops reading is closed (1013) without holding up others;
//       a silent client is closed by the idle timeout
//   14. WebSocket handshake refusals: 401, 400, 426, 403
//
// Each group has its own server (and projects), so /metrics deltas are its own;
// the groups run concurrently. Tests wait on rows, messages and metrics; the
// only timed waits are for behaviour defined by time (TTL, idle timeout), the
// bounded "nothing else arrives" checks on sockets that must stay quiet, and
// settle()'s short grace before asserting that something was NOT stored.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, makeDataDir, createProject, cliResult, rawRequest } from './lib/journey.mjs';
import { connectWs } from './lib/ws.mjs';
import {
  startEngineServer, stopServer, setSettings, Visitor, connectLive, liveUrl, signalsOf, interventionsOf,
  interventionEvents, waitSignals, waitInterventions, waitStatus, settle, assertDecisionMatches, assertPushed,
  expectNoMessage, nextMessage, respond, pending, metric, webhookReceiver, close, within, waitFor, sleep, uuid, sqlString,
} from './lib/engine.mjs';

const FORM = 'loan-calculator';
const isIntervention = (m) => m.type === 'intervention';
const kindsAndScores = (signals) => signals.map((s) => [s.kind, s.score]);
const suppressed = (reason) => `journey_interventions_suppressed_total{reason="${reason}"}`;
const DEFAULT_MESSAGE = (subject) =>
  `It looks like ${subject} is giving you trouble. Would you like to chat with someone who can help?`;

// The loan-calculator struggle of engine_scenarios (1): form_errors 60, 80 and
// calculator_retry 70, risk about 84 after the third failed submit.
const struggleAtCalculator = (v, t = 0) =>
  v.page('/calculator', t).fieldFocus(FORM, 'income', t + 1000)
    .failedCalculation(t + 2000).failedCalculation(t + 4000).failedCalculation(t + 6000);

// A second, different struggle on the next page: three rage clicks (rage_click 70).
const rageAtApply = (v, t = 0, clicks = 3) => {
  v.page('/apply', t);
  for (let i = 0; i < clicks; i++) v.click('#submit-application', t + 1500 + 150 * i, { x: 500, y: 640, disabled: true });
  return v;
};

const servers = [];
after(async () => { await Promise.all(servers.map(stopServer)); });
async function server(opts) {
  const s = await startEngineServer(opts);
  servers.push(s);
  return s;
}

describe('engine policy', { concurrency: true }, () => {
  // -------------------------------------------------------------------------
  // 7. frequency caps

  test('caps.session_interval (default 10m): a second struggle in the session gets no second offer, and is counted as suppressed', async () => {
    const j = await server({ projects: { p: { holdout_pct: 0 } } });
    const v = new Visitor(j, j.projects.p);
    const ws = await v.connect();
    try {
      await struggleAtCalculator(v).send();
      const [iv] = await waitInterventions(j, v.sessionId, 1);
      assertPushed(await nextMessage(ws, isIntervention, 10000), iv);
      await settle(j);
      const before = await metric(j, suppressed('session_interval'));

      await rageAtApply(v, 0, 5).send();
      await waitSignals(j, v.sessionId, (s) => s.filter((x) => x.kind === 'rage_click').length >= 2, 'rage clicks');
      await waitFor(async () => (await metric(j, suppressed('session_interval'))) > before,
        { timeout: 10000, what: 'session_interval suppression counted' });
      await settle(j);
      assert.deepEqual(kindsAndScores(signalsOf(j, v.sessionId).filter((s) => s.kind === 'rage_click')), [['rage_click', 70], ['rage_click', 90]]);
      assert.equal(interventionsOf(j, v.sessionId).length, 1, 'still one decision');
      assert.equal(await metric(j, suppressed('cooldown')), 0);
      assert.equal(await metric(j, suppressed('daily_cap')), 0);
      await expectNoMessage(ws, (m) => isIntervention(m) && m.id !== iv.id, 500, 'second offer');
    } finally {
      close(ws);
    }
  });

  test('caps.session_interval "2s": a struggle within 2 s is suppressed, one after it gets a second offer', async () => {
    const j = await server({ projects: { p: { holdout_pct: 0, caps: { session_interval: '2s' } } } });
    const v = new Visitor(j, j.projects.p);
    const ws = await v.connect();
    try {
      // One timeline for the visitor, 30 s ago: the engine's clock for what an
      // event causes is the event's own time, so the caps are measured on it.
      const base = Date.now() - 30_000;
      await struggleAtCalculator(v, 0).send({ base }); // decided at the third submit, t = 6.6 s
      const [first] = await waitInterventions(j, v.sessionId, 1);
      assertPushed(await nextMessage(ws, isIntervention, 10000), first);

      // 0.4 s after the decision: rage clicks, suppressed.
      v.page('/apply', 6700);
      for (const t of [6800, 6900, 7000]) v.click('#submit-application', t, { x: 500, y: 640, disabled: true });
      await v.send({ base });
      await waitFor(async () => (await metric(j, suppressed('session_interval'))) >= 1,
        { timeout: 10000, what: 'session_interval suppression counted' });
      await waitSignals(j, v.sessionId, (s) => s.some((x) => x.kind === 'rage_click'), 'rage click');
      assert.equal(interventionsOf(j, v.sessionId).length, 1);

      // 3.9 s after it: a dead click, and a second offer. (Should the server
      // measure the interval on its own clock instead, this waits for it too.)
      await waitFor(() => Date.now() > first.created_at + 2200, { timeout: 10000, interval: 50, what: '2 s after the first offer' });
      v.deadClick('#submit-application', 10500, { x: 500, y: 640 });
      await v.send({ base });
      const [, second] = await waitInterventions(j, v.sessionId, 2);
      assert.ok(second.created_at - first.created_at >= 2000, 'not before the interval');
      assert.equal(second.rule, 'high-risk');
      assert.equal(second.path, '/apply');
      assertDecisionMatches(second, signalsOf(j, v.sessionId));
      assertPushed(await nextMessage(ws, (m) => isIntervention(m) && m.id === second.id, 10000), second);
      assert.deepEqual(ws.messages.map((m) => m.type), ['hello', 'intervention', 'intervention']);
    } finally {
      close(ws);
    }
  });

  test('caps.daily_per_visitor 1: the same anonymousId in a second session gets nothing; another visitor does', async () => {
    const j = await server({ projects: { p: { holdout_pct: 0, caps: { daily_per_visitor: 1 } } } });
    const v1 = new Visitor(j, j.projects.p);
    const v2 = new Visitor(j, j.projects.p, { anonymousId: v1.anonymousId }); // same browser, a new session
    const other = new Visitor(j, j.projects.p);
    const [ws1, ws2, ws3] = await Promise.all([v1.connect(), v2.connect(), other.connect()]);
    try {
      await struggleAtCalculator(v1).send();
      const [iv] = await waitInterventions(j, v1.sessionId, 1);
      assertPushed(await nextMessage(ws1, isIntervention, 10000), iv);

      await struggleAtCalculator(v2).send();
      await waitSignals(j, v2.sessionId, (s) => s.length >= 3, 'the second session struggling');
      await waitFor(async () => (await metric(j, suppressed('daily_cap'))) >= 1, { timeout: 10000, what: 'daily_cap suppression counted' });
      await settle(j);
      assert.deepEqual(interventionsOf(j, v2.sessionId), [], 'capped across sessions');
      assert.equal(await metric(j, suppressed('session_interval')), 0, 'not the session interval: a new session');

      await struggleAtCalculator(other).send();
      const [ivOther] = await waitInterventions(j, other.sessionId, 1);
      assertPushed(await nextMessage(ws3, isIntervention, 10000), ivOther);
      await expectNoMessage(ws2, isIntervention, 500, 'offer past the daily cap');
      assert.deepEqual(ws2.messages.map((m) => m.type), ['hello']);
    } finally {
      [ws1, ws2, ws3].forEach(close);
    }
  });

  // -------------------------------------------------------------------------
  // 8. cooldown

  test('cooldown: after "maybe later" (declined) or a dismissal, a new struggle in the session gets nothing', async () => {
    // session_interval 0, so only the cooldown can hold a second offer back
    // (the control session shows a second offer does come without a decline).
    const j = await server({ projects: { p: { holdout_pct: 0, caps: { session_interval: 0 } } } });
    const project = j.projects.p;
    const control = new Visitor(j, project);
    const wsControl = await control.connect();
    const sockets = [wsControl];
    try {
      for (const answer of ['declined', 'dismissed']) {
        const v = new Visitor(j, project);
        const ws = await v.connect();
        sockets.push(ws);
        await struggleAtCalculator(v).send();
        const [iv] = await waitInterventions(j, v.sessionId, 1);
        const msg = await nextMessage(ws, isIntervention, 10000);
        assertPushed(msg, iv);
        ws.send({ type: 'response', id: iv.id, status: 'shown' });
        await waitStatus(j, iv.id, 'shown');
        const res = await respond(j, v.writeKey, iv.id, answer, v.sessionId);
        assert.equal(res.status, 200, res.text);
        assert.deepEqual(res.json, { success: true, previous: 'shown', status: answer, changed: true });

        const before = await metric(j, suppressed('cooldown'));
        await rageAtApply(v, 0, 5).send();
        await waitSignals(j, v.sessionId, (s) => s.filter((x) => x.kind === 'rage_click').length >= 2, 'rage clicks');
        await waitFor(async () => (await metric(j, suppressed('cooldown'))) > before, { timeout: 10000, what: `cooldown after ${answer}` });
        await settle(j);
        assert.equal(interventionsOf(j, v.sessionId).length, 1, `nothing more after ${answer}`);
        await expectNoMessage(ws, (m) => isIntervention(m) && m.id !== iv.id, 300, `offer after ${answer}`);
        assert.deepEqual(interventionEvents(j, iv.id).map((e) => e.status), ['created', 'delivered', 'shown', answer]);
      }

      // Control: the same two struggles without a decline give a second offer.
      await struggleAtCalculator(control).send();
      const [c1] = await waitInterventions(j, control.sessionId, 1);
      await rageAtApply(control, 0, 3).send();
      const all = await waitInterventions(j, control.sessionId, 2);
      assert.notEqual(all[1].id, c1.id);
      await nextMessage(wsControl, (m) => isIntervention(m) && m.id === all[1].id, 10000);
    } finally {
      sockets.forEach(close);
    }
  });

  // -------------------------------------------------------------------------
  // 9. excluded pages, actions, templates

  describe('actions', { concurrency: true }, () => {
    let j;
    let hook;
    const settings = (hookUrl) => ({
      excluded: { holdout_pct: 0, exclude_paths: ['/checkout/*', '/account'] },
      tooltip: {
        holdout_pct: 0,
        rules: [{ name: 'income-help', when: { signal: { kind: 'form_errors', score_gte: 60 } },
          action: { type: 'tooltip', selector: '#income', text: 'Enter {{field_name}} per year: {{field}} on {{page}} wants a yearly figure.' } }],
      },
      custom: {
        holdout_pct: 0,
        rules: [{ name: 'faq-on-rage', when: { signal: { kind: 'rage_click' } },
          action: { type: 'custom', name: 'open-faq', payload: { topic: 'apply-button', articles: [12, 31], urgent: true } } }],
      },
      priority: {
        holdout_pct: 0,
        webhook_url: hookUrl,
        rules: [{ name: 'vip-route', when: { all: [{ risk_gte: 75 }, { path: '/calculator*' }] },
          action: { type: 'priority_route', title: 'A specialist is on the way', message: 'We saw {{signal}} on {{page}}.' } }],
      },
      templates: {
        holdout_pct: 0,
        rules: [{ name: 'templated', when: { risk_gte: 75 },
          action: { type: 'live_chat_offer', title: 'Stuck on {{form}}?',
            message: 'We noticed {{signal}} on {{page}}. Is {{field}} ({{field_name}}) unclear? Risk {{risk}}. {{form|no form}}' } }],
      },
    });
    before(async () => {
      hook = await webhookReceiver();
      j = await server({ projects: settings(hook.url) });
    });
    after(async () => { await hook?.close(); });

    test('exclude_paths: a struggle on /checkout/* is suppressed (excluded_path); on the next page it gets an offer', async () => {
      const v = new Visitor(j, j.projects.excluded);
      const ws = await v.connect();
      try {
        v.page('/checkout/payment', 0).fieldFocus('payment', 'card_number', 1000)
          .failedCalculation(2000, { form: 'payment', field: 'card_number' })
          .failedCalculation(4000, { form: 'payment', field: 'card_number' })
          .failedCalculation(6000, { form: 'payment', field: 'card_number' });
        await v.send();
        await waitSignals(j, v.sessionId, (s) => s.length >= 3, 'checkout struggle');
        await waitFor(async () => (await metric(j, suppressed('excluded_path'))) >= 1, { timeout: 10000, what: 'excluded_path counted' });
        await settle(j);
        assert.deepEqual(kindsAndScores(signalsOf(j, v.sessionId)), [['form_errors', 60], ['form_errors', 80], ['calculator_retry', 70]],
          'signals are still detected on excluded pages');
        assert.deepEqual(interventionsOf(j, v.sessionId), []);
        assert.deepEqual(ws.messages.map((m) => m.type), ['hello']);

        await rageAtApply(v, 0, 3).send();
        const [iv] = await waitInterventions(j, v.sessionId, 1);
        assert.equal(iv.path, '/apply');
        assert.equal(iv.rule, 'high-risk');
        assertDecisionMatches(iv, signalsOf(j, v.sessionId));
        assertPushed(await nextMessage(ws, isIntervention, 10000), iv);
      } finally {
        close(ws);
      }
    });

    test('tooltip action: the selector and the rendered text are pushed, no title', async () => {
      const v = new Visitor(j, j.projects.tooltip);
      const ws = await v.connect();
      try {
        v.page('/calculator', 0).fieldFocus(FORM, 'income', 1000).failedCalculation(2000).failedCalculation(4000);
        await v.send();
        const [iv] = await waitInterventions(j, v.sessionId, 1);
        const msg = await nextMessage(ws, isIntervention, 10000);
        assert.equal(iv.rule, 'income-help');
        assert.equal(iv.action, 'tooltip');
        assertDecisionMatches(iv, signalsOf(j, v.sessionId));
        assert.deepEqual(iv.signals, [{ kind: 'form_errors', score: 60, max_score: 60, count: 1 }]);
        assertPushed(msg, iv);
        assert.deepEqual(msg, {
          type: 'intervention', id: iv.id, action: 'tooltip', title: null,
          message: 'Enter income per year: the income field on /calculator wants a yearly figure.',
          selector: '#income', name: null, payload: null, rule: 'income-help', session_id: v.sessionId,
          expires_at: new Date(iv.expires_at).toISOString(),
        });
      } finally {
        close(ws);
      }
    });

    test('custom action: the name and the payload JSON are pushed as configured, nothing to render', async () => {
      const v = new Visitor(j, j.projects.custom);
      const ws = await v.connect();
      try {
        await rageAtApply(v, 0, 3).send();
        const [iv] = await waitInterventions(j, v.sessionId, 1);
        const msg = await nextMessage(ws, isIntervention, 10000);
        assert.equal(iv.action, 'custom');
        assert.equal(iv.rule, 'faq-on-rage');
        assert.deepEqual(iv.signals, [{ kind: 'rage_click', score: 70, max_score: 70, count: 1 }]);
        assertDecisionMatches(iv, signalsOf(j, v.sessionId));
        assertPushed(msg, iv);
        assert.deepEqual(msg, {
          type: 'intervention', id: iv.id, action: 'custom', title: null, message: null, selector: null,
          name: 'open-faq', payload: { topic: 'apply-button', articles: [12, 31], urgent: true },
          rule: 'faq-on-rage', session_id: v.sessionId, expires_at: new Date(iv.expires_at).toISOString(),
        });
      } finally {
        close(ws);
      }
    });

    test('priority_route: the offer is pushed and the webhook gets the session, its signals and risk', async () => {
      const v = new Visitor(j, j.projects.priority);
      const ws = await v.connect();
      try {
        await struggleAtCalculator(v).send();
        const [iv] = await waitInterventions(j, v.sessionId, 1);
        const msg = await nextMessage(ws, isIntervention, 10000);
        assert.equal(iv.action, 'priority_route');
        assert.equal(iv.rule, 'vip-route');
        assertDecisionMatches(iv, signalsOf(j, v.sessionId));
        assertPushed(msg, iv);
        assert.equal(msg.title, 'A specialist is on the way');
        assert.equal(msg.message, 'We saw repeated form errors on /calculator.');

        const calls = await waitFor(() => hook.calls.length >= 1 && hook.calls, { timeout: 15000, what: 'webhook call' });
        assert.equal(calls.length, 1);
        const call = calls[0];
        assert.equal(call.method, 'POST');
        assert.equal(call.url, '/hook');
        assert.ok(call.json, `webhook body is JSON: ${call.text}`);
        assert.deepEqual(call.json, {
          event: 'priority_route', project_id: j.projects.priority.id, intervention: msg,
          session_id: v.sessionId, anonymous_id: v.anonymousId, user_id: null, page: '/calculator',
          risk: iv.risk, signals: iv.signals,
        });
      } finally {
        close(ws);
      }
    });

    test('templates: {{form}}, {{signal}}, {{page}}, {{field}}, {{field_name}}, {{risk}} and a fallback are rendered', async () => {
      const v = new Visitor(j, j.projects.templates);
      const ws = await v.connect();
      try {
        await struggleAtCalculator(v).send();
        const [iv] = await waitInterventions(j, v.sessionId, 1);
        const msg = await nextMessage(ws, isIntervention, 10000);
        assertPushed(msg, iv);
        assert.equal(msg.title, `Stuck on ${FORM}?`);
        assert.equal(msg.message,
          `We noticed repeated form errors on /calculator. Is the income field (income) unclear? Risk ${iv.risk}. ${FORM}`);
      } finally {
        close(ws);
      }
    });
  });

  // -------------------------------------------------------------------------
  // 10. settings validation

  test('settings validation: journey project settings refuses bad settings, naming the field, and keeps the old ones', () => {
    const dataDir = makeDataDir();
    try {
      const p = createProject(dataDir, 'Validation');
      const good = { holdout_pct: 0, caps: { session_interval: '5m' } };
      setSettings(dataDir, p.id, good);
      const okRule = { name: 'ok', when: { risk_gte: 75 }, action: { type: 'live_chat_offer' } };
      const cases = [
        [{ rules: [{ name: 'r', when: { risk_gte: 150 }, action: { type: 'live_chat_offer' } }] },
          'rules[0].when.risk_gte: must be a number from 0 to 100'],
        [{ rules: [okRule, { when: { risk_lt: -1 }, action: { type: 'live_chat_offer' } }] },
          'rules[1].when.risk_lt: must be a number from 0 to 100'],
        [{ rules: [okRule, { when: { signal: { kind: 'rage_clicks' } }, action: { type: 'live_chat_offer' } }] },
          'rules[1].when.signal.kind: must name a signal kind'],
        [{ rules: [{ when: { risk_gte: 75 }, action: { type: 'tooltip', text: 'Need a hand?' } }] },
          'rules[0].action.selector: is required for a tooltip'],
        [{ rules: [{ when: { risk_gte: 75 }, action: { type: 'custom' } }] }, 'rules[0].action.name: is required for a custom action'],
        [{ rules: [{ when: { risk_gte: 75 }, action: { type: 'popup' } }] }, "rules[0].action.type: 'popup' is not one of"],
        [{ holdout: 5 }, 'holdout: unknown setting'],
        [{ holdout_pct: 101 }, 'holdout_pct: must be a number from 0 to 100'],
        [{ caps: { session_interval: 'soon' } }, 'caps.session_interval: must be a duration'],
        [{ exclude_paths: ['checkout'] }, 'exclude_paths: each pattern must be a string starting with /'],
        [{ webhook_url: 'ftp://127.0.0.1/hook' }, 'webhook_url: must be an http:// or https:// URL'],
        [{ intervention_ttl: '1s' }, 'intervention_ttl: must be between 5000 ms'],
        [{ goal: {} }, 'goal: needs an event or a path'],
        [{ detectors: { rage_click: { clicks: 1 } } }, 'detectors.rage_click.clicks: must be a number from 2 to 20'],
        [{ detectors: { rage_klick: {} } }, 'detectors.rage_klick: unknown detector'],
      ];
      for (const [bad, expected] of cases) {
        const r = cliResult(['project', 'settings', String(p.id), '--json', JSON.stringify(bad), '--data', dataDir]);
        assert.notEqual(r.status, 0, `${JSON.stringify(bad)} must be refused`);
        assert.ok(r.stderr.includes(expected), `${JSON.stringify(bad)}: stderr names the field: ${r.stderr}`);
      }
      const notJson = cliResult(['project', 'settings', String(p.id), '--json', '{"rules": [', '--data', dataDir]);
      assert.notEqual(notJson.status, 0);
      assert.match(notJson.stderr, /settings: must be a JSON object/);
      const current = cliResult(['project', 'settings', String(p.id), '--data', dataDir]);
      assert.equal(current.status, 0);
      assert.deepEqual(JSON.parse(current.stdout), good, 'refused settings leave the stored ones as they were');
    } finally {
      new Server({ dataDir }).cleanup();
    }
  });

  // -------------------------------------------------------------------------
  // 11. polling route, expiry, responses

  describe('pending route and life cycle', { concurrency: true }, () => {
    let j;
    before(async () => { j = await server({ projects: { ttl: { holdout_pct: 0, intervention_ttl: '5s' }, normal: { holdout_pct: 0 } } }); });

    test('no socket: the decision is pending; GET .../pending returns it and marks it delivered; not shown within intervention_ttl it expires', async () => {
      const v = new Visitor(j, j.projects.ttl);
      await struggleAtCalculator(v).send();
      const [iv] = await waitInterventions(j, v.sessionId, 1);
      assert.equal(iv.status, 'pending');
      assert.equal(iv.expires_at - iv.created_at, 5000);
      assert.deepEqual(interventionEvents(j, iv.id).map((e) => e.status), ['created']);
      await waitFor(async () => (await metric(j, 'journey_interventions_total{outcome="pending"}')) >= 1, { timeout: 10000, what: 'pending counted' });

      const res = await pending(j, v.writeKey, v.sessionId);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json, { interventions: [iv.payload] });
      await waitStatus(j, iv.id, 'delivered');
      assert.deepEqual(interventionEvents(j, iv.id).map((e) => e.status), ['created', 'delivered']);

      // Never shown: expired after 5 s (the expiry sweep runs every 2 s).
      await waitStatus(j, iv.id, 'expired', 20000);
      const events = interventionEvents(j, iv.id);
      assert.deepEqual(events.map((e) => e.status), ['created', 'delivered', 'expired']);
      assert.ok(events[2].ts >= iv.expires_at, 'not before expires_at');
      assert.deepEqual((await pending(j, v.writeKey, v.sessionId)).json, { interventions: [] }, 'an expired offer is not pending');
      const late = await respond(j, v.writeKey, iv.id, 'shown', v.sessionId);
      assert.equal(late.status, 409, late.text);
      assert.equal(late.json.error.code, 'invalid_transition');
    });

    test('a shown intervention does not expire (only pending or delivered ones do)',
      async () => {
          const v = new Visitor(j, j.projects.ttl);
        const ws = await v.connect();
        try {
          await struggleAtCalculator(v).send();
          const [iv] = await waitInterventions(j, v.sessionId, 1);
          await nextMessage(ws, isIntervention, 10000);
          ws.send({ type: 'response', id: iv.id, status: 'shown' });
          await waitStatus(j, iv.id, 'shown');
          // Past expires_at and two expiry sweeps (every 2 s).
          await waitFor(() => Date.now() > iv.expires_at + 4500, { timeout: 15000, interval: 100, what: 'past the TTL' });
          assert.deepEqual(interventionEvents(j, iv.id).map((e) => e.status), ['created', 'delivered', 'shown']);
        } finally {
          close(ws);
        }
      });

    test('a socket opened later gets hello then the pending offer; accepted after declined is 409; unknown id 404; bad status 400', async () => {
      const v = new Visitor(j, j.projects.normal);
      await struggleAtCalculator(v).send();
      const [iv] = await waitInterventions(j, v.sessionId, 1);
      assert.equal(iv.status, 'pending');
      const ws = await v.connect();
      try {
        const msg = await nextMessage(ws, isIntervention, 10000);
        assertPushed(msg, iv);
        assert.deepEqual(ws.messages.map((m) => m.type), ['hello', 'intervention']);
        await waitStatus(j, iv.id, 'delivered');

        const declined = await respond(j, v.writeKey, iv.id, 'declined', v.sessionId);
        assert.equal(declined.status, 200, declined.text);
        assert.deepEqual(declined.json, { success: true, previous: 'delivered', status: 'declined', changed: true });
        const again = await respond(j, v.writeKey, iv.id, 'declined', v.sessionId);
        assert.equal(again.status, 200, again.text);
        assert.equal(again.json.changed, false, 'the same answer twice is not a change');
        const accepted = await respond(j, v.writeKey, iv.id, 'accepted', v.sessionId);
        assert.equal(accepted.status, 409, accepted.text);
        assert.equal(accepted.json.success, false);
        assert.equal(accepted.json.error.code, 'invalid_transition');
        assert.deepEqual(interventionEvents(j, iv.id).map((e) => e.status), ['created', 'delivered', 'declined']);

        const unknown = await respond(j, v.writeKey, 'iv_000000000000000000000000', 'shown', v.sessionId);
        assert.equal(unknown.status, 404, unknown.text);
        assert.equal(unknown.json.error.code, 'unknown_intervention');
        const bad = await respond(j, v.writeKey, iv.id, 'maybe', v.sessionId);
        assert.equal(bad.status, 400, bad.text);
        assert.equal(bad.json.error.code, 'invalid_status');
        // Another project's key does not reach this project's intervention.
        const foreign = await respond(j, j.projects.ttl.writeKey, iv.id, 'shown', v.sessionId);
        assert.equal(foreign.status, 404, foreign.text);
      } finally {
        close(ws);
      }
    });
  });

  // -------------------------------------------------------------------------
  // 12. restart

  test('restart: a session half-way to an offer is rebuilt from its stored events; the next failure brings the offer; no signal stored twice', async () => {
    let j = await startEngineServer({ projects: { p: { holdout_pct: 0 } } });
    const project = j.projects.p;
    let k;
    try {
      const v = new Visitor(j, project);
      v.page('/calculator', 0).fieldFocus(FORM, 'income', 1000).failedCalculation(2000).failedCalculation(4000);
      await v.send();
      await waitSignals(j, v.sessionId, (s) => s.length >= 1, 'form_errors');
      await settle(j);
      assert.deepEqual(kindsAndScores(signalsOf(j, v.sessionId)), [['form_errors', 60]]);
      assert.deepEqual(interventionsOf(j, v.sessionId), []);

      const { code } = await j.stop('SIGTERM');
      assert.equal(code, 0);
      k = new Server({ dataDir: j.dataDir, writeKey: project.writeKey, projectId: project.id });
      await k.start();
      v.j = k;
      const ready = await waitFor(() => /"engine_replayed":(\d+)/.exec(k.logs), { timeout: 10000, what: 'ready log line' });
      assert.ok(Number(ready[1]) >= v.sent.length, `replayed ${ready[1]} events, sent ${v.sent.length}`);

      const ws = await v.connect();
      try {
        v.failedCalculation(0);
        await v.send();
        const [iv] = await waitInterventions(k, v.sessionId, 1);
        assertPushed(await nextMessage(ws, isIntervention, 10000), iv);
        await waitSignals(k, v.sessionId, (s) => s.length >= 3, 'three signals');
        await settle(k);
        const signals = signalsOf(k, v.sessionId);
        assert.deepEqual(kindsAndScores(signals), [['form_errors', 60], ['form_errors', 80], ['calculator_retry', 70]],
          'the replayed events stored no signal again; the third failure escalated from the rebuilt state');
        assert.equal(iv.rule, 'high-risk');
        assert.equal(iv.payload.message, DEFAULT_MESSAGE('the income field'));
        assert.deepEqual(iv.signals, [
          { kind: 'form_errors', score: 80, max_score: 80, count: 2 },
          { kind: 'calculator_retry', score: 70, max_score: 70, count: 1 },
        ]);
        assertDecisionMatches(iv, signals);
      } finally {
        close(ws);
      }
    } finally {
      await j.stop();
      if (k) await k.stop();
      j.cleanup();
    }
  });

  // -------------------------------------------------------------------------
  // 13. slow and silent clients

  // Every u-turn decides again (session_interval 0; a new anonymousId on each
  // page view keeps daily_per_visitor out of the way), and each offer carries
  // a 100 KB payload, so a client that stops reading fills the kernel's socket
  // buffers after a few dozen offers and then the server's bounded queue.
  const BLOB = 'x'.repeat(100_000);
  const slowSettings = {
    holdout_pct: 0,
    caps: { session_interval: 0, daily_per_visitor: 32 },
    rules: [{ name: 'every-u-turn', when: { signal: { kind: 'u_turn' } },
      action: { type: 'custom', name: 'bulk', payload: { blob: BLOB } } }],
    detectors: { long_dwell: { enabled: false } },
  };

  // Offers per round: 2 MB, less than the kernel buffers of a reading client
  // hold, so a healthy client can never be more than the server's queue behind.
  const ROUND = 20;

  // Sends page views A, B, A, ... from `from` (index), 10 ms apart on the
  // visitor's timeline starting at base (exact timestamps), each from a new
  // anonymousId; then waits until the healthy client has every offer the
  // engine decided (counted in the store, so no prediction is needed).
  async function bounce(j, v, healthy, from, n, base) {
    for (let i = from; i < from + n; i++) {
      v.page(i % 2 ? '/b' : '/a', i * 10);
      v.queue.at(-1).anonymousId = uuid();
    }
    await v.send({ base, exact: true });
    await settle(j, { graceMs: 300 });
    const decided = j.query(`SELECT count(*) AS n FROM interventions WHERE session_id = ${sqlString(v.sessionId)}`)[0].n;
    await waitFor(() => healthy.messages.filter(isIntervention).length >= decided,
      { timeout: 30000, what: `the healthy client's ${decided} offers` });
    return decided;
  }

  test('a client that stops reading is closed with 1013 and does not hold up others on its session or elsewhere', async (t) => {
    const j = await server({ projects: { slow: slowSettings }, args: ['--live-max-queued', '4'] });
    const v = new Visitor(j, j.projects.slow);
    const healthy = await v.connect();
    const paused = await connectLive(j, v.writeKey, v.sessionId, { readPaused: true });
    const elsewhere = new Visitor(j, j.projects.slow);
    const other = await elsewhere.connect();
    try {
      // Push offers to the session until the server gives up on the paused client.
      const base = Date.now() - 15_000; // 1000 page views fit before now
      let sent = 0;
      let offers = 0;
      while ((await metric(j, 'journey_live_slow_closed_total')) === 0) {
        assert.ok(sent < 1000, 'the paused client was never closed after 1000 page views (about 100 MB of offers)');
        offers = await bounce(j, v, healthy, sent, ROUND, base);
        sent += ROUND;
      }
      assert.ok(offers >= sent - 10, `an offer for (nearly) every u-turn: ${offers} for ${sent} page views`);
      t.diagnostic(`paused client given up after ${offers} offers of ${BLOB.length} bytes`);
      assert.equal(healthy.messages.filter(isIntervention).length, offers, 'the healthy client on the same session got every offer');

      // While the paused client is still stuck, another session's offer arrives promptly.
      const start = Date.now();
      await elsewhere.page('/a', 0).page('/b', 1000).page('/a', 2000).send();
      const msg = await nextMessage(other, isIntervention, 10000);
      assert.ok(Date.now() - start < 5000, `took ${Date.now() - start} ms`);
      assert.equal(msg.session_id, elsewhere.sessionId);

      // The paused client reads at last: what fitted in the buffers, then 1013.
      paused.socket.resume();
      const code = await within(paused.closed, 20000, 'still open');
      assert.equal(code, 1013, `close code (reason ${paused.closeReason})`);
      assert.equal(paused.closeReason, 'send queue full');
      const got = paused.messages.filter(isIntervention).length;
      assert.ok(got < offers, `the paused client got ${got} of ${offers}: the rest was never queued for it`);
      assert.deepEqual(paused.messages.filter(isIntervention).map((m) => m.id),
        healthy.messages.filter(isIntervention).slice(0, got).map((m) => m.id), 'in order, without gaps');
      assert.equal(healthy.closeCode, null, 'the healthy client is still open');
    } finally {
      [healthy, paused, other].forEach(close);
    }
  });

  test('journey_live_slow_closed_total counts one slow connection once',
    async () => {
      const j = await server({ projects: { slow: slowSettings }, args: ['--live-max-queued', '4'] });
      const v = new Visitor(j, j.projects.slow);
      const healthy = await v.connect();
      const paused = await connectLive(j, v.writeKey, v.sessionId, { readPaused: true });
      try {
        const base = Date.now() - 15_000; // 1000 page views fit before now
        let sent = 0;
        while ((await metric(j, 'journey_live_slow_closed_total')) === 0 && sent < 1000) {
          await bounce(j, v, healthy, sent, ROUND, base);
          sent += ROUND;
        }
        // More offers to the session after the close was queued.
        await bounce(j, v, healthy, sent, ROUND, base);
        assert.equal(await metric(j, 'journey_live_slow_closed_total'), 1, 'one connection closed for being slow');
      } finally {
        [healthy, paused].forEach(close);
      }
    });

  test('idle timeout: a client that never answers pings is closed (1001 idle); one that answers stays open', async () => {
    const j = await server({ projects: { p: { holdout_pct: 0 } }, args: ['--live-ping-interval', '1s', '--live-idle-timeout', '4s'] });
    const v = new Visitor(j, j.projects.p);
    const alive = await v.connect();
    const silent = await connectLive(j, v.writeKey, v.sessionId, { readPaused: true });
    try {
      // Time is the point here: past the idle timeout (4 s) plus housekeeping rounds (1-2 s); pings every 1-2 s keep the other client well inside it.
      const started = Date.now();
      await sleep(7000);
      silent.socket.resume();
      const code = await within(silent.closed, 10000, 'still open');
      assert.notEqual(code, 'still open', 'the silent client was closed');
      assert.equal(code, 1001, `close code ${code}, reason ${silent.closeReason}`);
      assert.equal(silent.closeReason, 'idle');
      assert.equal(alive.closeCode, null, `the client answering pings is open after ${Date.now() - started} ms`);

      // And still usable: an offer reaches it.
      await struggleAtCalculator(v).send();
      const [iv] = await waitInterventions(j, v.sessionId, 1);
      assertPushed(await nextMessage(alive, isIntervention, 10000), iv);
    } finally {
      [alive, silent].forEach(close);
    }
  });

  // -------------------------------------------------------------------------
  // 14. handshake refusals

  test('WebSocket handshake: unknown or missing write key 401, missing sessionId 400, plain GET 426, foreign Origin 403', async () => {
    const ORIGIN = 'https://shop.example.test';
    const j = await server({ projects: { p: { holdout_pct: 0 } }, args: ['--cors-origins', ORIGIN] });
    const key = j.projects.p.writeKey;
    const sid = `${Date.now()}-handshake`;
    const upgradeHeaders = {
      Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13',
    };
    const cases = [
      ['unknown write key', liveUrl(j, 'wk_not_a_key', sid), {}, 401, 'unknown_write_key'],
      ['no write key', liveUrl(j, undefined, sid), {}, 401, 'missing_write_key'],
      ['no sessionId', liveUrl(j, key, undefined), {}, 400, 'invalid_session_id'],
      ['foreign Origin', liveUrl(j, key, sid), { origin: 'https://evil.example' }, 403, 'origin_not_allowed'],
    ];
    for (const [what, url, opts, status, code] of cases) {
      const ws = await connectWs(url, opts);
      assert.equal(ws.status, status, `${what}: ${ws.responseHead}`);
      const headers = { ...upgradeHeaders };
      if (opts.origin) headers.Origin = opts.origin;
      const res = await rawRequest(url, { method: 'GET', headers });
      assert.equal(res.status, status, `${what}: ${res.text}`);
      assert.equal(res.json?.error?.code, code, `${what}: ${res.text}`);
      close(ws);
    }
    const plain = await j.get(`/v1/live?writeKey=${key}&sessionId=${sid}`);
    assert.equal(plain.status, 426, plain.text);
    assert.equal(plain.json.error.code, 'upgrade_required');

    // The allowed Origin (and none at all, as from a server) are let in.
    const allowed = await connectLive(j, key, sid, { origin: ORIGIN });
    const noOrigin = await connectLive(j, key, sid);
    close(allowed);
    close(noOrigin);
  });
});
