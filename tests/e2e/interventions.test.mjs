// The intervention loop end to end (issue 4): a real visitor in Debian's Chromium on the demo loan site served by
// `journey serve --demo`, the real tracker, the real engine, and what ends up in the real SQLite file.
//
//   node --test --test-concurrency=1 tests/e2e/interventions.test.mjs     (after `make` and `node web/build.mjs`)
//
// Every test starts its own server (build/debug/journey, or JOURNEY_BIN) on 127.0.0.1 with a fresh data dir and
// opens fresh browser contexts (a new visitor each). The visitor acts with real clicks and key presses
// (tests/e2e/lib/browser.mjs); the tests wait on conditions (the page, the store) and use a bounded wait only to
// prove that something does NOT happen. The demo project's holdout is 10% by default, so every test sets it
// (PUT /api/v1/settings, docs/policy.md): 0 where a popup must show, 100 where it must not.
//
// The struggle (docs/demo.md's traps): three rejected "Calculate"s, each on a different field (calculator_retry,
// 70), then three quick clicks on the still-disabled "Apply now" (rage_click, 70): exit risk 81 >= 75, the
// default "high-risk" rule, decided on the third click. If calculator_retry is missed (a known engine bug: see the
// last test, marked todo) the dead clicks reported 1 s after the rage click bring the risk to 81 instead, and the
// offer comes ~1 s after the last click: still within the 2 s budget. Each test's diagnostics say which happened.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  ARTIFACTS, checkBuilt, engineDrained, interventionSteps, interventionsOf, launchBrowser, openVisitor,
  rejectedSubmissions, restartDemoServer, sessionRow, sleep, startDemoServer, stopDemoServer, struggle, typeInto, waitFor,
  waitIntervention, waitStatus,
} from './lib/browser.mjs';

const T = { timeout: 90_000 };
const POPUP_BUDGET_MS = 2000;
let browser;

before(async () => {
  checkBuilt();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

// Runs fn(j) against a fresh demo server with these settings; stops it (by its PID) and removes its data dir.
async function withServer(settings, fn) {
  const j = await startDemoServer({ settings });
  try {
    return await fn(j);
  } finally {
    await stopDemoServer(j);
  }
}

// Opens a visitor; closes the context whatever happens.
async function withVisitor(j, fn) {
  const v = await openVisitor(browser, j);
  try {
    return await fn(v);
  } finally {
    await v.close();
  }
}

// The shadow root's focused control (its aria-label, else its text) and whether the document's focus is on our
// host, i.e. inside the dialog.
function focusInDialog(page) {
  return page.evaluate(() => {
    const host = document.querySelector('[data-journey-ui]');
    const a = host?.shadowRoot?.activeElement;
    return {
      label: a ? a.getAttribute('aria-label') || a.textContent.trim() : null,
      inside: !!host && document.activeElement === host && !!a?.closest('[role=dialog]'),
    };
  });
}

// Which signals made the decision (for the diagnostics): rage_click with calculator_retry, or dead clicks.
function signalSummary(iv) {
  return JSON.parse(iv.signals).map((s) => `${s.kind}:${s.score}`).join(', ');
}

// A visitor who struggles until the offer is on screen. Returns { sessionId, shown, iv }.
async function struggleToOffer(t, v) {
  await v.goto('/demo/calculator.html');
  await struggle(v);
  const shown = await v.waitDialog();
  const sessionId = await v.sessionId();
  const iv = await waitIntervention(v.j, sessionId);
  t.diagnostic(`offer inserted ${shown.insertedAfterMs.toFixed(1)} ms and painted ${shown.visibleAfterMs.toFixed(1)} ms after the last ${shown.lastAction.kind} (${shown.lastAction.target}); risk ${iv.risk} from ${signalSummary(iv)}`);
  return { sessionId, shown, iv };
}

/* ---- 1. struggle -> popup within 2 s -> "Start live chat" is recorded as accepted -------------------------- */

test('a struggling visitor sees the offer within 2 s of the last click, and "Start live chat" is stored as accepted', T, async (t) => {
  await withServer({ holdout_pct: 0 }, (j) => withVisitor(j, async (v) => {
    const { sessionId, shown, iv } = await struggleToOffer(t, v);

    assert.equal(shown.lastAction.kind, 'click');
    assert.equal(shown.lastAction.target, 'button#apply-now', 'the last action before the offer is the last click on "Apply now"');
    assert.ok(shown.visibleAfterMs < POPUP_BUDGET_MS,
      `the offer was painted ${shown.visibleAfterMs.toFixed(0)} ms after the last click (budget ${POPUP_BUDGET_MS} ms)`);

    // The accessible dialog of docs/tracker.md, with the server's default text.
    const dialog = v.dialog();
    assert.equal(await dialog.getAttribute('aria-modal'), 'true');
    assert.match(await dialog.innerText(), /Need help\?/);
    assert.equal(iv.held_out, 0);
    assert.equal(iv.action, 'live_chat_offer');
    assert.equal(iv.rule, 'high-risk');
    assert.ok(iv.risk >= 75, `risk ${iv.risk}`);

    await dialog.getByRole('button', { name: 'Start live chat' }).click();
    await dialog.waitFor({ state: 'detached' });
    await v.page.locator('#live-chat').waitFor({ state: 'visible' }); // the demo's own chat panel (journey.on('chat'))

    await waitStatus(j, iv.id, 'accepted');
    const steps = interventionSteps(j, iv.id);
    assert.deepEqual(steps.filter((s) => s !== 'delivered'), ['created', 'shown', 'accepted'], `steps: ${steps}`);
    assert.ok(steps.indexOf('delivered') > 0 && steps.indexOf('delivered') < steps.indexOf('shown'), `steps: ${steps}`);
    const row = interventionsOf(j, sessionId)[0];
    assert.ok(row.shown_at && row.responded_at >= row.shown_at, 'shown_at and responded_at are stored');
    assert.equal(interventionsOf(j, sessionId).length, 1, 'one decision for the session');
    assert.deepEqual(v.problems, []);
  }));
});

/* ---- 2. a happy visitor converts, and is left alone -------------------------------------------------------- */

test('a happy visitor completes an application: no offer, and the session is stored as converted', T, async () => {
  await withServer({ holdout_pct: 0 }, (j) => withVisitor(j, async (v) => {
    const { page } = v;
    await v.goto('/demo/index.html');
    await v.arrive('/demo/calculator.html', () => page.getByRole('link', { name: 'Calculate your payment' }).click());

    await typeInto(page, '#amount', '10,000');
    await page.locator('#term').selectOption('36');
    await typeInto(page, '#income', '30,000');
    await page.getByRole('button', { name: 'Calculate' }).click();
    assert.equal(await page.locator('#monthly-payment').innerText(), '$308.31');

    await v.arrive('/demo/apply.html', () => page.locator('#apply-now').click());
    await typeInto(page, '#full-name', 'Robin Example');
    await typeInto(page, '#email', 'robin@example.com');
    await typeInto(page, '#phone', '07700900123');
    await page.locator('#employment').selectOption('full-time');
    await page.locator('#consent').click();
    await v.arrive('/demo/thanks.html', () => page.getByRole('button', { name: 'Send application' }).click());
    await page.getByRole('heading', { name: 'Application received' }).waitFor();

    const sessionId = await v.sessionId();
    const s = await waitFor(() => { const r = sessionRow(j, sessionId); return r?.converted === 1 && r; },
      { timeout: 30000, interval: 200, what: 'sessions.converted = 1 (session rows are written every 10 s)' });
    assert.ok(s.converted_at > 0);
    assert.equal(s.exit_path, '/demo/thanks.html');

    // Absence: once every event is through the engine, give a push the time it would have needed (with margin).
    await engineDrained(j);
    await sleep(2000);
    assert.deepEqual(interventionsOf(j, sessionId), [], 'no decision for a calm visitor');
    assert.deepEqual(v.dialogs, [], 'no dialog on any page of the visit');
    assert.equal(v.frames.filter((f) => f.type === 'intervention').length, 0, 'nothing pushed on the live channel');
    assert.deepEqual(v.problems, []);
  }));
});

/* ---- 3. holdout: decided and stored, never shown ------------------------------------------------------------ */

test('a visitor in the holdout struggles: the decision is stored held out and nothing is shown', T, async () => {
  await withServer({ holdout_pct: 100 }, (j) => withVisitor(j, async (v) => {
    await v.goto('/demo/calculator.html');
    await struggle(v);
    const sessionId = await v.sessionId();
    const iv = await waitIntervention(j, sessionId);
    assert.equal(iv.held_out, 1);
    assert.equal(iv.status, 'held_out');
    assert.ok(iv.risk >= 75, `risk ${iv.risk}`);
    assert.ok(interventionSteps(j, iv.id).includes('held_out'), `steps: ${interventionSteps(j, iv.id)}`);

    // Absence: 3 s after the decision is stored (a pushed offer takes milliseconds).
    await sleep(3000);
    assert.deepEqual(v.dialogs, [], 'no dialog');
    assert.equal(await v.page.locator('[data-journey-ui] [role=dialog]').count(), 0);
    assert.equal(v.frames.filter((f) => f.type === 'intervention').length, 0, 'nothing pushed on the live channel');
    const pending = await j.get(`/v1/interventions/${encodeURIComponent(sessionId)}/pending?writeKey=${encodeURIComponent(j.writeKey)}`);
    assert.equal(pending.status, 200);
    assert.deepEqual(pending.json.interventions, [], 'nothing for the polling route either');
    const after3s = interventionsOf(j, sessionId);
    assert.equal(after3s.length, 1);
    assert.equal(after3s[0].status, 'held_out', 'still held out: never delivered or shown');
    assert.equal(after3s[0].delivered_at, null);
    assert.deepEqual(v.problems, []);
  }));
});

/* ---- 4. the server goes away mid-visit: the browser's queue keeps the events ------------------------------- */

test('events made while the server is down wait in localStorage and arrive after a restart on the same port, once each', T, async (t) => {
  const j = await startDemoServer({ settings: { holdout_pct: 100 } });
  try {
    await withVisitor(j, async (v) => {
      const { page } = v;
      await v.goto('/demo/calculator.html');
      await typeInto(page, '#amount', '10,000');
      await page.locator('#term').selectOption('36');
      const sessionId = await v.sessionId();
      await waitFor(() => j.countEvents(`session_id = '${sessionId}' AND event = '$click'`) >= 1,
        { timeout: 15000, interval: 100, what: 'the first click stored' });
      await waitFor(async () => (await v.queue()).length === 0, { timeout: 15000, what: 'the queue to drain before the stop' });

      // SIGTERM by the PID we started; the server shuts down cleanly.
      const port = j.port;
      const exit = await j.stop('SIGTERM');
      assert.equal(exit.code, 0, `exit ${JSON.stringify(exit)}`);
      const postsBefore = v.batches.length;

      // The visitor goes on: a valid calculation, whose events cannot be sent.
      await typeInto(page, '#income', '30,000');
      await page.getByRole('button', { name: 'Calculate' }).click();
      await page.locator('#monthly-payment').waitFor();
      await page.keyboard.press('Tab');
      const queued = await waitFor(async () => {
        const q = await v.queue();
        return q.some((m) => m.event === 'Loan Calculated') && v.batches.length > postsBefore && q;
      }, { timeout: 15000, what: 'the new events in the localStorage queue after a failed send' });
      const queuedIds = queued.map((m) => m.messageId);
      t.diagnostic(`${queuedIds.length} messages queued in localStorage while the server was down: ${[...new Set(queued.map((m) => m.event || m.type))].join(', ')}`);
      for (const id of queuedIds) assert.equal(j.countEvents(`message_id = '${id}'`), 0, 'not stored while the server is down');

      // The same data dir and port; the tracker's retry (backoff up to 30 s) delivers them.
      await restartDemoServer(j);
      assert.equal(j.port, port);
      await waitFor(async () => (await v.queue()).length === 0, { timeout: 45000, what: 'the localStorage queue to drain after the restart' });
      await waitFor(() => queuedIds.every((id) => j.countEvents(`message_id = '${id}'`) === 1),
        { timeout: 15000, interval: 100, what: 'every queued message stored' });

      // And the visit goes on normally.
      await v.arrive('/demo/apply.html', () => page.locator('#apply-now').click());
      await waitFor(() => j.countEvents(`session_id = '${sessionId}' AND type = 'page' AND path = '/demo/apply.html'`) === 1,
        { timeout: 15000, interval: 100, what: 'the next page view stored' });
      await waitFor(async () => (await v.queue()).length === 0, { timeout: 15000, what: 'the queue to drain' });

      const posted = v.batches.flat();
      const resent = posted.filter((id, i) => posted.indexOf(id) !== i);
      assert.ok(resent.length > 0, 'some messages were sent more than once (the failed attempts, then the retry)');
      const counts = j.eventCounts();
      for (const id of new Set(posted)) assert.equal(counts.get(id), 1, `message ${id} is stored exactly once`);
      assert.deepEqual(j.query('SELECT message_id, count(*) AS n FROM events GROUP BY project_id, message_id HAVING n > 1'), [],
        'no duplicate message ids');
      assert.equal(j.countDeadLetters(), 0);
      // Only the expected failures: requests refused while the server was down.
      assert.deepEqual(v.problems.filter((p) => !/ERR_CONNECTION_REFUSED|WebSocket connection/.test(p)), []);
    });
  } finally {
    await stopDemoServer(j);
  }
});

/* ---- 5. what visitors type is never stored ------------------------------------------------------------------ */

// Distinctive values, each typed into a field of the demo site (or its chat), none of which the site itself
// sends: rejected amounts, incomes (the site tracks only a valid quote's amount), the application's fields
// (wrong then right), and a chat message.
const TYPED = {
  bigAmount: '$61,827', amount: '$25,000', income: '47,391.52', monthlyIncome: '2,483.19', goodIncome: '58,204.17',
  name: 'Ottoline Quibbleworth', badEmail: 'ottoline.quibble7@', email: 'ottoline.quibble7@example.test',
  badPhone: '(555) 867-5309', phone: '+15558675309', chat: 'Xylophage umbrella 4471',
};
const SECRETS = [
  '$61,827', '61,827', '47,391.52', '4739152', '2,483.19', '248319', '58,204.17', '5820417', 'Ottoline', 'Quibbleworth',
  'ottoline.quibble7', 'quibble7@', '(555) 867-5309', '867-5309', '8675309', '+15558675309', '15558675309', 'Xylophage',
  'umbrella 4471',
];

function filesUnder(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

test('values typed into the forms and the chat never reach the store: not in events, dead letters or the db file', T, async (t) => {
  const j = await startDemoServer({ settings: { holdout_pct: 0 } });
  let sessionId;
  try {
    await withVisitor(j, async (v) => {
      const { page } = v;
      await v.goto('/demo/calculator.html');
      await struggle(v, { bigAmount: TYPED.bigAmount, amount: TYPED.amount, income: TYPED.income, monthlyIncome: TYPED.monthlyIncome });
      await v.waitDialog();
      sessionId = await v.sessionId();
      const iv = await waitIntervention(j, sessionId);
      await v.dialog().getByRole('button', { name: 'Start live chat' }).click();
      await page.locator('#live-chat-input').waitFor({ state: 'visible' });
      await page.locator('#live-chat-input').click();
      await page.keyboard.type(TYPED.chat, { delay: 10 });
      await page.keyboard.press('Enter');
      await page.locator('#live-chat .chat-visitor').waitFor();
      await page.getByRole('button', { name: 'Close chat' }).click();
      await waitStatus(j, iv.id, 'accepted');

      // A valid quote, then the application: wrong values first (native validation), then right ones.
      await typeInto(page, '#amount', '10,000');
      await page.locator('#term').selectOption('36');
      await typeInto(page, '#income', TYPED.goodIncome);
      await page.getByRole('button', { name: 'Calculate' }).click();
      await page.locator('#monthly-payment').waitFor();
      await v.arrive('/demo/apply.html', () => page.locator('#apply-now').click());
      await typeInto(page, '#full-name', TYPED.name);
      await typeInto(page, '#email', TYPED.badEmail);
      await typeInto(page, '#phone', TYPED.badPhone);
      await page.getByRole('button', { name: 'Send application' }).click();
      await page.locator('#phone[aria-invalid="true"]').waitFor();
      await typeInto(page, '#email', TYPED.email);
      await typeInto(page, '#phone', TYPED.phone);
      await page.locator('#employment').selectOption('self-employed');
      await page.locator('#consent').click();
      await v.arrive('/demo/thanks.html', () => page.getByRole('button', { name: 'Send application' }).click());
      await waitFor(() => sessionRow(j, sessionId)?.converted === 1, { timeout: 30000, interval: 200, what: 'the conversion stored (session rows are written every 10 s)' });
      await waitFor(async () => (await v.queue()).length === 0, { timeout: 15000, what: 'the queue to drain' });

      // The visit was captured (so absence means something): the chat as its length, the fields as lengths.
      const chat = j.query(`SELECT json_extract(payload, '$.properties') AS p FROM events WHERE session_id = '${sessionId}' AND event = '$chat_message'`);
      assert.equal(chat.length, 1);
      assert.deepEqual(JSON.parse(chat[0].p), { length: TYPED.chat.length });
      const phone = j.query(`SELECT json_extract(payload, '$.properties.length') AS n FROM events WHERE session_id = '${sessionId}' AND event = '$field_change' AND json_extract(payload, '$.properties.field') = 'phone' ORDER BY id`);
      assert.deepEqual(phone.map((r) => r.n), [TYPED.badPhone.length, TYPED.phone.length]);
      const invalid = j.query(`SELECT json_extract(payload, '$.properties.reason') AS r FROM events WHERE session_id = '${sessionId}' AND event = '$field_invalid' AND json_extract(payload, '$.properties.source') = 'native'`);
      assert.ok(invalid.some((r) => r.r === 'patternMismatch'), 'the wrong phone was reported as a pattern mismatch');
      t.diagnostic(`${j.countEvents(`session_id = '${sessionId}'`)} events stored for the visit`);
    });

    await engineDrained(j);
    const stored = [
      ...j.query('SELECT payload AS text, path, session_id, user_id, anonymous_id FROM events').map((r) => JSON.stringify(r)),
      ...j.query('SELECT CAST(raw AS TEXT) AS raw, reason, detail, context FROM dead_letters').map((r) => JSON.stringify(r)),
      ...j.query('SELECT payload, signals, explanation FROM interventions').map((r) => JSON.stringify(r)),
      ...j.query('SELECT evidence FROM signals').map((r) => r.evidence),
      ...j.query('SELECT detail FROM intervention_events').map((r) => r.detail ?? ''),
    ].join('\n');
    for (const s of SECRETS) assert.ok(!stored.includes(s), `"${s}" was stored`);

    // The bytes of every file in the data dir, after SIGTERM (the store checkpoints the WAL into the db on close).
    const exit = await j.stop('SIGTERM');
    assert.equal(exit.code, 0);
    const files = filesUnder(j.dataDir);
    assert.ok(files.some((f) => f.endsWith('journey.db')));
    const db = readFileSync(path.join(j.dataDir, 'journey.db'));
    assert.ok(db.includes(Buffer.from(sessionId)), 'the db file holds the visit (sanity check of the byte search)');
    for (const f of files) {
      const bytes = readFileSync(f);
      for (const s of SECRETS) {
        for (const enc of ['utf8', 'utf16le']) {
          assert.equal(bytes.indexOf(Buffer.from(s, enc)), -1, `"${s}" (${enc}) found in ${path.relative(j.dataDir, f)}`);
        }
      }
    }
    for (const s of SECRETS) assert.ok(!j.logs.includes(s), `"${s}" in the server's log`);
  } finally {
    await stopDemoServer(j);
  }
});

/* ---- 6. the popup: a screenshot, and keyboard-only use ------------------------------------------------------ */

test('the offer dialog: screenshot, focus trapped by Tab/Shift+Tab, Escape dismisses, Space and Enter press its buttons', T, async (t) => {
  await withServer({ holdout_pct: 0 }, async (j) => {
    // Visitor A: screenshot, focus trap, Escape.
    await withVisitor(j, async (v) => {
      const { page } = v;
      const { iv } = await struggleToOffer(t, v);
      mkdirSync(ARTIFACTS, { recursive: true });
      const file = path.join(ARTIFACTS, 'popup.png');
      await page.screenshot({ path: file });
      assert.ok(statSync(file).size > 5000, 'popup.png written');

      assert.deepEqual(await focusInDialog(page), { label: 'Start live chat', inside: true }, 'focus starts on "Start live chat"');
      const order = [];
      for (let i = 0; i < 4; i++) {
        await page.keyboard.press('Tab');
        const f = await focusInDialog(page);
        assert.ok(f.inside, `Tab ${i + 1} left the dialog`);
        order.push(f.label);
      }
      assert.deepEqual(order, ['Close', 'Maybe later', 'Start live chat', 'Close'], 'Tab cycles through the dialog only');
      const back = [];
      for (let i = 0; i < 3; i++) {
        await page.keyboard.press('Shift+Tab');
        const f = await focusInDialog(page);
        assert.ok(f.inside, `Shift+Tab ${i + 1} left the dialog`);
        back.push(f.label);
      }
      assert.deepEqual(back, ['Start live chat', 'Maybe later', 'Close'], 'Shift+Tab cycles backwards');

      await page.keyboard.press('Escape');
      await v.dialog().waitFor({ state: 'detached' });
      await waitStatus(j, iv.id, 'dismissed');
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'apply-now', 'focus returns to where it was');
      assert.deepEqual(v.problems, []);
    });

    // Visitor B: Tab to "Maybe later", Space.
    await withVisitor(j, async (v) => {
      const { page } = v;
      const { iv } = await struggleToOffer(t, v);
      await page.keyboard.press('Shift+Tab');
      assert.deepEqual(await focusInDialog(page), { label: 'Maybe later', inside: true });
      await page.keyboard.press('Space');
      await v.dialog().waitFor({ state: 'detached' });
      await waitStatus(j, iv.id, 'declined');
      assert.equal(await page.locator('#live-chat').count(), 0, 'no chat after "Maybe later"');
      assert.deepEqual(v.problems, []);
    });

    // Visitor C: Enter on "Start live chat" (focused on open): the site's chat opens with focus in its input.
    await withVisitor(j, async (v) => {
      const { page } = v;
      const { iv } = await struggleToOffer(t, v);
      await page.keyboard.press('Enter');
      await v.dialog().waitFor({ state: 'detached' });
      await waitStatus(j, iv.id, 'accepted');
      await page.locator('#live-chat').waitFor({ state: 'visible' });
      await waitFor(() => page.evaluate(() => document.activeElement?.id === 'live-chat-input'), { timeout: 5000, what: 'focus in the chat input' });
      assert.deepEqual(v.problems, []);
    });
  });
});

/* ---- known bug: a session's events reach the engine in arrival order, not in the order they happened -------- */

// The tracker sends an interaction at once, in a new request if the previous one is still in flight (up to 3 at a
// time, web/tracker/src/transport.ts), and the engine handles a session's events in the order they were committed
// (src/engine/engine.c). Pressing "Calculate" makes two requests within a millisecond: the $click, carrying the
// $field_change events queued before it, and the $form_submit alone. When the submit's request is committed first,
// calculator_retry (src/engine/detectors/calc_retry.c, via changes_since_submit in src/engine/session.c) sees a
// resubmit with no change and does not count it. It happened by itself in about 1 of 10 fresh runs of the struggle
// here; this test makes it happen every time by holding back the requests carrying the changes made between the
// first and the second "Calculate" until the second submit is stored (a few hundred ms, as any real network can).
test('three rejected submissions count as a calculator retry even when the second one\'s requests arrive out of order', {
  ...T,
  // regression: a submit stored before the changes that preceded it is still a retry (calc_retry.c)
}, async () => {
  await withServer({ holdout_pct: 100 }, (j) => withVisitor(j, async (v) => {
    // Between the first and the second submit, requests carrying $field_change wait (in the browser, as on a slow
    // network) until the second submit's request has been answered, i.e. committed.
    let submits = 0;
    let release;
    const held = new Promise((r) => { release = r; });
    await v.page.route('**/v1/batch', async (route) => {
      const body = route.request().postData() || '';
      if (/"event":"\$form_submit"/.test(body) && ++submits === 2) {
        const response = await route.fetch();
        await route.fulfill({ response });
        return release();
      }
      if (submits === 1 && /"event":"\$field_change"/.test(body)) await held;
      return route.fallback();
    });
    await v.goto('/demo/calculator.html');
    await rejectedSubmissions(v.page);
    const sessionId = await v.sessionId();
    await waitFor(async () => (await v.queue()).length === 0, { timeout: 15000, what: 'the queue to drain' });
    await engineDrained(j);
    // Compared on the browser's clock (original_timestamp): the server's `timestamp` counts the time held in transit
    // as clock skew (timestamp = receivedAt - (sentAt - originalTimestamp)) and puts the late events after the submit.
    const stored = j.query(`SELECT id, original_timestamp AS t, event FROM events WHERE session_id = '${sessionId}' AND event IN ('$form_submit', '$field_change') ORDER BY id`);
    const late = stored.filter((e, i) => stored.slice(0, i).some((p) => p.event === '$form_submit' && p.t > e.t));
    assert.ok(late.length > 0, 'the reordering was reproduced (a $field_change committed after a later $form_submit)');
    const signals = () => j.query(`SELECT kind, score FROM signals WHERE session_id = '${sessionId}'`);
    const found = await waitFor(() => signals().some((s) => s.kind === 'calculator_retry'), { timeout: 5000, interval: 50 })
      .catch(() => false);
    assert.ok(found, `three changed, rejected submissions: signals ${JSON.stringify(signals())}`);
  }));
});
