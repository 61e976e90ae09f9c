/*
 * The "live chat" panel a struggling visitor reaches by pressing "Start live
 * chat" in Journey's "Need help?" dialog (the tracker calls the handlers
 * registered with journey.on('chat', fn)).
 *
 * Registering that handler replaces the tracker's built-in chat panel (see
 * docs/tracker.md), so this one behaves like it where it matters: what the
 * visitor types never leaves the page, only `$chat_message {length}` is
 * tracked. This is a demo lender: no adviser exists. The panel greets the
 * visitor, echoes what they type and answers with one canned reply, which is
 * enough to show the end of the loop on stage. The transcript is marked
 * data-journey-mask so the tracker never reads its text.
 *
 * The panel is a non-modal dialog: focus moves into it on open, Escape or the
 * close button closes it and returns focus where it was.
 */

import { track } from './journey';

const ADVISER = 'Sam';
const REPLY_DELAY_MS = 900;

let panel: HTMLElement | null = null;
let returnFocus: HTMLElement | null = null;

function say(log: HTMLElement, who: 'adviser' | 'visitor', text: string): void {
    const item = document.createElement('li');
    item.className = `chat-message chat-${who}`;
    const name = document.createElement('span');
    name.className = 'chat-name';
    name.textContent = who === 'adviser' ? ADVISER : 'You';
    const body = document.createElement('p');
    body.textContent = text;
    item.append(name, body);
    log.append(item);
    log.scrollTop = log.scrollHeight;
}

function closeChat(): void {
    if (!panel || panel.hidden) return;
    panel.hidden = true;
    returnFocus?.focus();
    returnFocus = null;
}

function build(): HTMLElement {
    const section = document.createElement('section');
    section.id = 'live-chat';
    section.className = 'chat';
    section.setAttribute('role', 'dialog');
    section.setAttribute('aria-modal', 'false');
    section.setAttribute('aria-labelledby', 'live-chat-title');
    section.hidden = true;

    const head = document.createElement('div');
    head.className = 'chat-head';
    const title = document.createElement('h2');
    title.id = 'live-chat-title';
    title.textContent = 'Live chat';
    const close = document.createElement('button');
    close.type = 'button';
    close.className = 'chat-close';
    close.setAttribute('aria-label', 'Close chat');
    close.textContent = '\u00d7';
    close.addEventListener('click', closeChat);
    head.append(title, close);

    const log = document.createElement('ol');
    log.className = 'chat-log';
    log.setAttribute('aria-live', 'polite');
    log.setAttribute('data-journey-mask', '');

    const form = document.createElement('form');
    form.id = 'live-chat-form';
    form.className = 'chat-form';
    const label = document.createElement('label');
    label.htmlFor = 'live-chat-input';
    label.className = 'visually-hidden';
    label.textContent = 'Your message';
    const input = document.createElement('input');
    input.id = 'live-chat-input';
    input.name = 'message';
    input.autocomplete = 'off';
    input.setAttribute('data-journey-mask', '');
    const send = document.createElement('button');
    send.type = 'submit';
    send.className = 'button button-primary';
    send.textContent = 'Send';
    form.append(label, input, send);
    form.addEventListener('submit', (event) => {
        event.preventDefault();
        const text = input.value.trim();
        if (text === '') return;
        say(log, 'visitor', text);
        input.value = '';
        // As the tracker's built-in panel does: the length only, never the text.
        track('$chat_message', { length: text.length });
        window.setTimeout(
            () =>
                say(
                    log,
                    'adviser',
                    'Thanks! In a real deployment an adviser would answer here. ' +
                        'This is a demo, so your message stayed in your browser.',
                ),
            REPLY_DELAY_MS,
        );
    });

    const note = document.createElement('p');
    note.className = 'chat-note';
    note.textContent = 'Demo chat: nothing you type is sent or stored.';

    section.append(head, log, form, note);
    section.addEventListener('keydown', (event) => {
        if (event.key === 'Escape') closeChat();
    });
    say(log, 'adviser', `Hi, I'm ${ADVISER}, a loan adviser. What can I help you with?`);
    return section;
}

/** Opens the panel (building it on first use) and focuses its input. */
export function openChat(): void {
    if (!panel) {
        panel = build();
        document.body.append(panel);
    }
    if (panel.hidden) {
        returnFocus = document.activeElement instanceof HTMLElement ? document.activeElement : null;
        panel.hidden = false;
    }
    panel.querySelector('input')?.focus();
}
