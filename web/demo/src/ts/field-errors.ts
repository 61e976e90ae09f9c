/*
 * Accessible inline error messages, shared by both forms.
 *
 * Markup contract (in the HTML, so nothing is created at run time):
 *   <input id="X" aria-describedby="X-hint">          the field (hint optional)
 *   <p id="X-error" class="field-error" hidden></p>   its error slot
 * Showing an error fills the slot, unhides it, sets aria-invalid="true" and
 * adds the slot to aria-describedby, so screen readers read the error with
 * the field; clearing undoes exactly that.
 */

type Field = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;

function errorSlot(field: Field): HTMLElement | null {
    return document.getElementById(`${field.id}-error`);
}

function describedBy(field: Field): string[] {
    return (field.getAttribute('aria-describedby') ?? '').split(/\s+/).filter((s) => s !== '');
}

export function showFieldError(field: Field, message: string): void {
    const slot = errorSlot(field);
    if (!slot) return;
    slot.textContent = message;
    slot.hidden = false;
    field.setAttribute('aria-invalid', 'true');
    const ids = describedBy(field);
    if (!ids.includes(slot.id)) field.setAttribute('aria-describedby', [...ids, slot.id].join(' '));
}

export function clearFieldError(field: Field): void {
    const slot = errorSlot(field);
    if (!slot || slot.hidden) return;
    slot.textContent = '';
    slot.hidden = true;
    field.removeAttribute('aria-invalid');
    const ids = describedBy(field).filter((id) => id !== slot.id);
    if (ids.length > 0) field.setAttribute('aria-describedby', ids.join(' '));
    else field.removeAttribute('aria-describedby');
}

/**
 * Fills an error summary (role="alert", hidden until needed) with one link
 * per problem, each moving focus to its field. An empty list hides it.
 */
export function showErrorSummary(summary: HTMLElement, problems: { field: Field; message: string }[]): void {
    const list = summary.querySelector('ul');
    if (!list) return;
    list.replaceChildren(
        ...problems.map(({ field, message }) => {
            const item = document.createElement('li');
            const link = document.createElement('a');
            link.href = `#${field.id}`;
            link.textContent = message;
            link.addEventListener('click', (event) => {
                event.preventDefault();
                field.focus();
            });
            item.append(link);
            return item;
        }),
    );
    summary.hidden = problems.length === 0;
}
