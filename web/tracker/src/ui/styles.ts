/*
 * styles.ts: the one stylesheet of the tracker's UI, applied inside its shadow root only.
 *
 * `:host { all: initial }` cuts inheritance from the site (fonts, colours, line heights), and the
 * shadow boundary keeps these selectors from ever matching the site's elements. Layout is fluid: a
 * centred card on desktop, a bottom sheet under 480 px wide; light or dark after the visitor's
 * colour scheme. Text and controls meet WCAG AA contrast; every control has a visible :focus-visible
 * ring; nothing animates.
 */
export const CSS =
    ':host{all:initial}' +
    '*{box-sizing:border-box;margin:0;font:16px/1.4 system-ui,sans-serif;color:#1b1f24}' +
    '.bd{position:fixed;inset:0;z-index:2147483647;display:flex;align-items:center;justify-content:center;background:#0008}' +
    '.card,.tip{position:fixed;z-index:2147483647;max-width:calc(100vw - 16px);background:#fff;border-radius:12px;box-shadow:0 4px 24px #0006;padding:20px}' +
    '.bd .card{position:relative;width:420px}' +
    '.chat{right:16px;bottom:16px;width:360px}' +
    'h2{font-size:20px;font-weight:600;margin-right:40px}' +
    'p,label{display:block;margin:8px 0}' +
    'button{cursor:pointer;border:1px solid #6b7580;background:#fff;border-radius:8px;padding:10px 16px;margin:8px 0 0 8px;font-weight:600}' +
    'button:hover{background:#eef0f2}' +
    '.pri,.pri:hover{background:#0b57d0;border-color:#0b57d0;color:#fff}' +
    '.x,.x:hover{position:absolute;top:4px;right:4px;margin:0;border:0;padding:8px 14px;font-size:24px;line-height:1;background:none}' +
    ':focus-visible{outline:3px solid #0b57d0;outline-offset:2px}' +
    '.row{text-align:right}' +
    '.log{max-height:40vh;overflow:auto;margin:12px 0;padding:0 8px;border:1px solid #d5dae0;border-radius:8px}' +
    '.log:empty{display:none}' +
    '.me{text-align:right;color:#0842a0}' +
    '.them{color:#4a525a}' +
    'label{font-weight:600}' +
    'textarea{width:100%;border:1px solid #6b7580;border-radius:8px;padding:8px;resize:vertical}' +
    '.tip{width:320px;padding:12px 48px 12px 16px;background:#1b1f24}' +
    '.tip *{color:#fff;margin:0}' +
    '.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}' +
    '@media(max-width:480px){.bd{align-items:flex-end}.card{right:0;bottom:0;border-radius:12px 12px 0 0}}' +
    '@media(prefers-color-scheme:dark){*{color:#e8eaed}.card,button,textarea{background:#202124}' +
    'button{border-color:#9aa0a6}button:hover{background:#303134}.pri,.pri:hover{background:#8ab4f8;border-color:#8ab4f8;color:#202124}' +
    '.me{color:#8ab4f8}.them{color:#bdc1c6}:focus-visible{outline-color:#8ab4f8}.tip{background:#e8eaed}.tip *{color:#202124}}';
