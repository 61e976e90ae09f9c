/*
 * apply.html: the application form (#application).
 *
 * Unlike the calculator, this form relies on native constraint validation
 * (required, type=email, a strict digits-only phone pattern), so a rejected
 * submit fires the browser's own `invalid` events, which the tracker captures
 * as $field_invalid with source "native". We cancel each `invalid` event only
 * to replace the browser's tooltip with an inline, screen-reader friendly
 * message; cancelling does not hide the event from the tracker, which listens
 * in the capture phase before us.
 *
 * A valid submit (the only kind the browser lets through) is intercepted: the
 * form's action is a GET to thanks.html, which would copy every field into the
 * URL, so we navigate to thanks.html ourselves. Nothing is stored or sent.
 */

import { clearFieldError, showErrorSummary, showFieldError } from './field-errors';
import { track } from './journey';

type Field = HTMLInputElement | HTMLSelectElement;

/* Our wording for each field's first failing constraint; the browser's own
 * validationMessage is the fallback. */
const MESSAGES: Record<string, Partial<Record<keyof ValidityState, string>>> = {
    full_name: { valueMissing: 'Enter your full name.' },
    email: {
        valueMissing: 'Enter your email address.',
        typeMismatch: 'Enter an email address like name@example.com.',
    },
    phone: {
        valueMissing: 'Enter your phone number.',
        patternMismatch: 'Enter your phone number using digits only, with no spaces or dashes.',
    },
    employment: { valueMissing: 'Choose your employment status.' },
    consent: { valueMissing: 'Tick the box so we can check your details.' },
};

const VALIDITY_KEYS: (keyof ValidityState)[] = [
    'valueMissing',
    'typeMismatch',
    'patternMismatch',
    'tooLong',
    'tooShort',
    'rangeUnderflow',
    'rangeOverflow',
    'stepMismatch',
    'badInput',
    'customError',
];

export function messageFor(field: Field): string {
    const reason = VALIDITY_KEYS.find((key) => field.validity[key] === true);
    return (reason && MESSAGES[field.name]?.[reason]) || field.validationMessage;
}

function isField(target: EventTarget | null): target is Field {
    return target instanceof HTMLInputElement || target instanceof HTMLSelectElement;
}

export function initApplication(form: HTMLFormElement): void {
    const summary = document.getElementById('application-errors');
    if (!summary) {
        console.warn('application: markup is incomplete');
        return;
    }

    // One rejected submit fires one `invalid` per bad field, synchronously.
    // Gather them, then show the summary and focus the first bad field once.
    let rejected: { field: Field; message: string }[] = [];
    form.addEventListener(
        'invalid',
        (event) => {
            if (!isField(event.target)) return;
            event.preventDefault(); // our inline message replaces the tooltip
            const field = event.target;
            const message = messageFor(field);
            showFieldError(field, message);
            if (rejected.length === 0) {
                window.setTimeout(() => {
                    showErrorSummary(summary, rejected);
                    rejected[0]?.field.focus();
                    rejected = [];
                }, 0);
            }
            rejected.push({ field, message });
        },
        true,
    );

    const revalidate = (event: Event): void => {
        if (isField(event.target) && event.target.validity.valid) clearFieldError(event.target);
    };
    form.addEventListener('input', revalidate);
    form.addEventListener('change', revalidate);

    form.addEventListener('submit', (event) => {
        event.preventDefault();
        showErrorSummary(summary, []);
        track('Application Submitted', { form: form.id });
        window.location.href = 'thanks.html';
    });
}
