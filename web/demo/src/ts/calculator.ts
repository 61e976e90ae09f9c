/*
 * calculator.html: the loan calculator form (#loan-calculator).
 *
 * The form has `novalidate`: every rule lives in loan.ts and every rejected
 * field is reported twice, to the visitor (inline message, aria-invalid, an
 * error summary) and to Journey (journey.validationError(field, message,
 * {form: 'loan-calculator'}), which the tracker sends as $field_invalid with
 * source "api"). The rules are also mirrored into the fields' custom validity
 * so the tracker's `valid` flags tell the truth (see syncValidity).
 *
 * "Apply now" (#apply-now) is a trap for the dead-click and rage-click
 * detectors: until a valid calculation it carries aria-disabled="true" (not
 * the disabled attribute, which would swallow the clicks) and a click on it
 * changes nothing at all: no DOM mutation, no request, no navigation.
 */

import { clearFieldError, showErrorSummary, showFieldError } from './field-errors';
import { track, validationError } from './journey';
import { calculateLoan, formatMoney, type LoanField, type LoanResult, type Quote } from './loan';

const FORM_ID = 'loan-calculator';

interface CalculatorElements {
    form: HTMLFormElement;
    fields: Record<LoanField, HTMLInputElement | HTMLSelectElement>;
    summary: HTMLElement;
    result: HTMLElement;
    applyNow: HTMLButtonElement;
    applyHint: HTMLElement;
}

function find(form: HTMLFormElement): CalculatorElements | null {
    const amount = form.elements.namedItem('amount');
    const term = form.elements.namedItem('term');
    const income = form.elements.namedItem('income');
    const summary = document.getElementById('calc-errors');
    const result = document.getElementById('quote-result');
    const applyNow = document.getElementById('apply-now');
    const applyHint = document.getElementById('apply-now-hint');
    if (
        !(amount instanceof HTMLInputElement) ||
        !(term instanceof HTMLSelectElement) ||
        !(income instanceof HTMLInputElement) ||
        !summary ||
        !result ||
        !(applyNow instanceof HTMLButtonElement) ||
        !applyHint
    ) {
        return null;
    }
    return { form, fields: { amount, term, income }, summary, result, applyNow, applyHint };
}

function isApplyEnabled(button: HTMLButtonElement): boolean {
    return button.getAttribute('aria-disabled') !== 'true';
}

function renderQuote(el: CalculatorElements, quote: Quote): void {
    const headline = document.createElement('p');
    headline.className = 'quote-headline';
    const label = document.createElement('span');
    label.textContent = 'Your monthly payment';
    const value = document.createElement('strong');
    value.id = 'monthly-payment';
    value.textContent = formatMoney(quote.monthlyPayment, true);
    headline.append(label, value);

    const details = document.createElement('dl');
    details.className = 'quote-details';
    const rows: [string, string][] = [
        ['Amount', formatMoney(quote.amount)],
        ['Term', `${quote.termMonths} months`],
        ['Representative APR', `${quote.aprPercent.toFixed(1)}%`],
        ['Total repayable', formatMoney(quote.totalRepayable, true)],
    ];
    for (const [term, desc] of rows) {
        const dt = document.createElement('dt');
        dt.textContent = term;
        const dd = document.createElement('dd');
        dd.textContent = desc;
        details.append(dt, dd);
    }
    el.result.replaceChildren(headline, details);
    el.result.classList.add('has-quote');
    el.applyNow.removeAttribute('aria-disabled');
    el.applyHint.textContent = 'Your quote is ready. Applying takes about three minutes.';
}

/* Called when an input changes after a quote was shown: the quote no longer
 * matches the form, so it goes and "Apply now" is disabled again. */
function resetQuote(el: CalculatorElements): void {
    if (!el.result.classList.contains('has-quote')) return;
    const p = document.createElement('p');
    p.className = 'quote-placeholder';
    p.textContent = 'You changed your details. Press Calculate to see your new payment.';
    el.result.replaceChildren(p);
    el.result.classList.remove('has-quote');
    el.applyNow.setAttribute('aria-disabled', 'true');
    el.applyHint.textContent = 'Calculate your monthly payment first.';
}

function currentResult(el: CalculatorElements): LoanResult {
    const { amount, term, income } = el.fields;
    return calculateLoan({ amount: amount.value, term: term.value, income: income.value });
}

/*
 * Mirrors our rules into each field's constraint validity (setCustomValidity),
 * kept current on every input. The form is `novalidate`, so the browser never
 * blocks or reports anything; but the tracker reads `validity` for the `valid`
 * flag of $field_change, $field_blur and $form_submit, and its submit listener
 * runs before ours, so the state must already be right when Calculate is
 * pressed. Messages stay silent until a submit (see onSubmit).
 */
function syncValidity(el: CalculatorElements, result: LoanResult): void {
    const bad = new Map<LoanField, string>(result.ok ? [] : result.errors.map((e) => [e.field, e.message]));
    for (const [name, field] of Object.entries(el.fields) as [LoanField, HTMLInputElement | HTMLSelectElement][]) {
        field.setCustomValidity(bad.get(name) ?? '');
    }
}

function onSubmit(el: CalculatorElements, event: SubmitEvent): void {
    event.preventDefault();
    const result = currentResult(el);
    syncValidity(el, result);

    for (const field of Object.values(el.fields)) clearFieldError(field);
    if (!result.ok) {
        const problems = result.errors.map((e) => ({ field: el.fields[e.field], message: e.message }));
        for (const { field, message } of problems) showFieldError(field, message);
        for (const e of result.errors) validationError(FORM_ID, e.field, e.message);
        showErrorSummary(el.summary, problems);
        resetQuote(el);
        problems[0]?.field.focus();
        return;
    }
    showErrorSummary(el.summary, []);
    renderQuote(el, result.quote);
    track('Loan Calculated', {
        amount: result.quote.amount,
        term_months: result.quote.termMonths,
        apr: result.quote.aprPercent,
        monthly_payment: result.quote.monthlyPayment,
    });
}

export function initCalculator(form: HTMLFormElement): void {
    const el = find(form);
    if (!el) {
        console.warn('calculator: markup is incomplete');
        return;
    }
    syncValidity(el, currentResult(el));
    form.addEventListener('submit', (event) => onSubmit(el, event as SubmitEvent));
    form.addEventListener('input', (event) => {
        syncValidity(el, currentResult(el));
        const target = event.target;
        if (target instanceof HTMLInputElement || target instanceof HTMLSelectElement) clearFieldError(target);
        resetQuote(el);
    });
    el.applyNow.addEventListener('click', () => {
        // Disabled: do nothing at all. That silence is what a dead click is.
        if (!isApplyEnabled(el.applyNow)) return;
        track('Apply Clicked', { from: 'calculator' });
        window.location.href = 'apply.html';
    });
}
