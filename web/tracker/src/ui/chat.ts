/*
 * chat.ts: the minimal built-in chat panel, opened by "Start live chat" when the site registered no
 * journey.on('chat', fn) handler.
 *
 *   <div role="dialog" aria-modal="false" aria-labelledby="jNt" class="card chat">   not modal
 *     <button class="x" aria-label="Close chat">×</button>
 *     <h2 id="jNt">Live chat</h2>
 *     <div role="log" aria-live="polite" aria-label="Messages">  messages  </div>
 *     <form> <label for="jiM">Your message</label> <textarea id="jiM"> <button>Send</button> </form>
 *
 * The "accepted" response already asked the server for a human; this panel only reassures the
 * visitor. Sending shows the visitor's own text in the panel (it never leaves the page) and reports
 * `$chat_message` with the length only. Escape or the close button closes it and returns focus.
 */
import { card, isEscape } from './dialog';
import { h, uid, type Ui } from './root';

export const CHAT_NOTICE = 'A member of our team will be with you shortly.';

export function showChat(ui: Ui, onSend: (length: number) => void, onClose: () => void): void {
    const doc = ui._doc;
    const id = uid();
    const log = h(doc, 'div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Messages' });
    const input = h(doc, 'textarea', { id, rows: '3' }) as HTMLTextAreaElement;
    const form = h(
        doc,
        'form',
        {},
        h(doc, 'label', { for: id }, 'Your message'),
        input,
        h(doc, 'div', { class: 'row' }, h(doc, 'button', { class: 'pri' }, 'Send')),
    );
    const c = card(ui, { _title: 'Live chat', _modal: false, _closeLabel: 'Close chat', _cls: 'chat' }, onClose, log, form);
    const say = (text: string, cls: string): void => {
        log.appendChild(h(doc, 'p', { class: cls }, text));
    };
    form.addEventListener('submit', (e) => {
        e.preventDefault();
        const text = input.value;
        if (!text.trim()) return;
        input.value = '';
        say(text, 'me');
        onSend(text.length);
        if (!log.querySelector('.them')) say(CHAT_NOTICE, 'them');
    });
    c._box.addEventListener('keydown', (e) => isEscape(e) && c._close());
    input.focus();
}
