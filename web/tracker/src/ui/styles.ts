/*
 * styles.ts: the one stylesheet of the tracker's UI, applied inside its shadow root only.
 *
 * `:host { all: initial }` cuts inheritance from the site (fonts, colours, line heights), and the
 * shadow boundary keeps these selectors from ever matching the site's elements. Layout is fluid: a
 * centred card on desktop, a bottom sheet under 480 px wide.
 *
 * Light or dark follows the visitor's colour scheme through `color-scheme: light dark` and the CSS
 * system colours Canvas / CanvasText (the browser's own page background and text, the highest contrast
 * pair there is; the tooltip inverts them); only the accent (--a, with --t the text on it) needs a
 * value per scheme: #0b57d0 with white text (6.1:1) in light, #8ab4f8 with #202124 (8:1) in dark.
 * Borders (#6b7580) keep at least 3:1 against either background. Every control has a visible
 * :focus-visible ring in the accent colour; nothing animates.
 */
export const CSS =
    ':host{all:initial}' +
    '*{box-sizing:border-box;margin:0;font:16px/1.4 system-ui,sans-serif;color:CanvasText;color-scheme:light dark;--a:#0b57d0;--t:#fff}' +
    '@media(prefers-color-scheme:dark){*{--a:#8ab4f8;--t:#202124}}' +
    '.bd,.card,.tip{position:fixed;z-index:2147483647}' +
    '.bd{inset:0;display:flex;align-items:center;justify-content:center;background:#0008}' +
    '.card,.tip{max-width:calc(100vw - 16px);background:Canvas;border-radius:12px;box-shadow:0 4px 24px #0006;padding:20px}' +
    '.bd .card{position:relative;width:420px}' +
    '.chat{right:16px;bottom:16px;width:360px}' +
    'h2{font-size:20px;margin-right:40px}' +
    'h2,label,button{font-weight:600}' +
    'p,label{display:block;margin:8px 0}' +
    'button,textarea{border:1px solid #6b7580;border-radius:8px;background:Canvas}' +
    'button{cursor:pointer;padding:10px 16px;margin:8px 0 0 8px}' +
    'button:hover{background:#8883}' +
    '.pri,.pri:hover{background:var(--a);border-color:var(--a);color:var(--t)}' +
    '.x,.x:hover{position:absolute;top:4px;right:4px;margin:0;border:0;padding:8px 14px;font-size:24px;line-height:1;background:none}' +
    ':focus-visible{outline:3px solid var(--a);outline-offset:2px}' +
    '.row,.me{text-align:right}' +
    '.me{color:var(--a)}' +
    '.log{max-height:40vh;overflow:auto;margin:12px 0;padding:0 8px;border:1px solid #d5dae0;border-radius:8px}' +
    '.log:empty{display:none}' +
    'textarea{width:100%;padding:8px;resize:vertical}' +
    '.tip{width:320px;padding:12px 48px 12px 16px;background:CanvasText}' +
    '.tip *{color:Canvas;margin:0}' +
    '.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}' +
    '@media(max-width:480px){.bd{align-items:flex-end}.card{right:0;bottom:0;border-radius:12px 12px 0 0}}';
