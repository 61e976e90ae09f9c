/*
 * forms.ts: how visitors fill in forms, never what they type.
 *
 * Capture-phase listeners on document (focusin/focusout bubble; invalid does not bubble but is seen
 * in the capture phase): $field_focus, $field_blur, $field_change, $field_invalid, $form_submit.
 * Every field event carries {form, field, field_type} from dom.ts; blur and change add the value's
 * length and validity (dom.ts fieldLength / fieldValid: the value itself is never read into anything).
 *
 * The PageState keeps "form\nfield" -> [form, length] for fields touched on this page view (updated
 * on input, change and blur; a submit forgets its form's fields) so $page_leave can say how much was
 * left unsent. $form_submit's `valid` is computed from each field's validity rather than
 * form.checkValidity(), which would fire a second round of `invalid` events.
 *
 * reportInvalid() is shared with journey.validationError(), the API for sites that validate in
 * JavaScript and never trigger native validation. Only that API sends a `message` (the site's own
 * text, max 200): native events send the ValidityState reason alone, because the browser's
 * validationMessage can quote what the visitor typed (Chrome: "'sam@' is incomplete").
 */
import type { Ctx } from '../context';
import { listen, trunc, type Props } from '../util';
import {
    describeField,
    fieldLength,
    fieldValid,
    formName,
    invalidReason,
    isField,
    type Field,
} from './dom';

type Described = ReturnType<typeof describeField>;

const NOT_INPUT = /^(hidden|submit|button|reset|image)$/;
const key = (d: Described): string => d.form + '\n' + d.field;

/* A message goes out only from validationError(): it is the site's own text. Never the browser's
 * validationMessage, which can quote the value ("'sam@' is incomplete"). */
function reportInvalid(ctx: Ctx, d: Described, reason: string, source: string, message?: unknown): void {
    const p: Props = { ...d, reason, source };
    if (source === 'api') p.message = trunc(message, 200);
    ctx._track('$field_invalid', p, true);
}

/* journey.validationError(field, message?, {form?}): `field` is a name, an id or the element. */
export function apiInvalid(ctx: Ctx, field: unknown, message?: unknown, opts?: { form?: unknown }): void {
    const doc = ctx._doc;
    const el = typeof field === 'string' ? doc.getElementsByName(field)[0] || doc.getElementById(field) : field;
    let d: Described;
    if (isField(el as EventTarget)) d = describeField(el as Field);
    else if (typeof field === 'string' && field) d = { form: '', field, field_type: '' };
    else return;
    if (opts && opts.form != null) d.form = String(opts.form);
    reportInvalid(ctx, d, 'custom', 'api', message);
}

export function installForms(ctx: Ctx): void {
    const { _doc: doc, _env: env } = ctx;
    let focused: EventTarget | null = null;
    let focusedAt = 0;

    const remember = (el: Field, d: Described): number => {
        const len = fieldLength(el);
        ctx._ps()._fields[key(d)] = [d.form, len];
        return len;
    };

    listen(doc, 'focusin', (e: FocusEvent) => {
        const el = e.target;
        if (!isField(el)) return;
        focused = el;
        focusedAt = env._now();
        ctx._track('$field_focus', describeField(el));
    });

    listen(doc, 'focusout', (e: FocusEvent) => {
        const el = e.target;
        if (!isField(el)) return;
        const d = describeField(el);
        const length = remember(el, d);
        const dwell_ms = focused === el ? env._now() - focusedAt : 0;
        focused = null;
        ctx._track('$field_blur', { ...d, length, valid: fieldValid(el), dwell_ms });
    });

    listen(doc, 'input', (e: Event) => {
        if (isField(e.target)) remember(e.target, describeField(e.target));
    });

    listen(doc, 'change', (e: Event) => {
        const el = e.target;
        if (!isField(el)) return;
        const d = describeField(el);
        const length = remember(el, d);
        const changes = ctx._ps()._changes;
        const change_count = (changes[key(d)] = (changes[key(d)] || 0) + 1);
        ctx._track('$field_change', { ...d, length, valid: fieldValid(el), change_count });
    });

    listen(doc, 'invalid', (e: Event) => {
        const el = e.target;
        if (isField(el)) reportInvalid(ctx, describeField(el), invalidReason(el), 'native');
    });

    listen(doc, 'submit', (e: Event) => {
        const form = e.target as HTMLFormElement;
        if (!form || form.tagName !== 'FORM') return;
        const name = formName(form);
        const fields = ([].slice.call(form.elements) as Element[]).filter(
            (f): f is Field => isField(f) && !NOT_INPUT.test((f as Field).type),
        );
        const fieldsState = ctx._ps()._fields;
        for (const k in fieldsState) if (fieldsState[k][0] === name) delete fieldsState[k];
        ctx._track(
            '$form_submit',
            {
                form: name,
                field_count: fields.length,
                filled_count: fields.filter((f) => fieldLength(f) > 0).length,
                valid: fields.every(fieldValid),
            },
            true,
        );
    });
}
