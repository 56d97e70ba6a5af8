import type { StateInfo } from './session.ts';

/** The page's elements (index.html) and the small renderers that update them. */

function byId<T extends HTMLElement>(id: string, type: new () => T): T {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`stream page: #${id} is missing`);
  return el;
}

export function findElements() {
  return {
    back: byId('back', HTMLAnchorElement),
    status: byId('status', HTMLElement),
    mute: byId('mute', HTMLButtonElement),
    microphone: byId('microphone', HTMLButtonElement),
    clipboard: byId('clipboard', HTMLButtonElement),
    statsToggle: byId('stats-toggle', HTMLButtonElement),
    resize: byId('resize', HTMLButtonElement),
    pointerLock: byId('pointer-lock', HTMLButtonElement),
    trackpad: byId('trackpad', HTMLButtonElement),
    keyboard: byId('keyboard', HTMLButtonElement),
    textInput: byId('text-input', HTMLTextAreaElement),
    fullscreen: byId('fullscreen', HTMLButtonElement),
    stage: byId('stage', HTMLElement),
    video: byId('video', HTMLVideoElement),
    stats: byId('stats', HTMLElement),
    statsList: byId('stats-list', HTMLElement),
    clipboardPanel: byId('clipboard-panel', HTMLElement),
    clipboardText: byId('clipboard-text', HTMLTextAreaElement),
    clipboardSend: byId('clipboard-send', HTMLButtonElement),
    files: byId('files', HTMLButtonElement),
    filesPanel: byId('files-panel', HTMLElement),
    filesInput: byId('files-input', HTMLInputElement),
    filesUpload: byId('files-upload', HTMLButtonElement),
    filesUploadFolder: byId('files-upload-folder', HTMLElement),
    filesDownloadFolder: byId('files-download-folder', HTMLElement),
    filesRefresh: byId('files-refresh', HTMLButtonElement),
    filesTransfers: byId('files-transfers', HTMLElement),
    filesList: byId('files-list', HTMLElement),
    filesMessage: byId('files-message', HTMLElement),
    viewOnly: byId('view-only', HTMLElement),
    viewers: byId('viewers', HTMLButtonElement),
    viewersPanel: byId('viewers-panel', HTMLElement),
    viewersList: byId('viewers-list', HTMLElement),
    shareForm: byId('share-form', HTMLFormElement),
    shareEmail: byId('share-email', HTMLInputElement),
    shareRole: byId('share-role', HTMLSelectElement),
    shareLink: byId('share-link', HTMLButtonElement),
    shareUrl: byId('share-url', HTMLInputElement),
    shareStatus: byId('share-status', HTMLElement),
    screen: byId('screen', HTMLElement),
    screenMessage: byId('screen-message', HTMLElement),
    screenAction: byId('screen-action', HTMLButtonElement),
    screenLink: byId('screen-link', HTMLAnchorElement),
  };
}

export type Elements = ReturnType<typeof findElements>;

export function renderState(ui: Elements, info: StateInfo): void {
  document.body.dataset.state = info.state;
  ui.status.textContent = info.state === 'streaming' ? '' : info.message;
  ui.screenMessage.textContent = info.message;
  ui.screenAction.hidden = info.action === null;
  if (info.action !== null) ui.screenAction.textContent = info.action;
  ui.screenLink.hidden = !info.over;
}

export function renderRows(list: HTMLElement, rows: [string, string][]): void {
  const items = rows.flatMap(([label, value]) => {
    const dt = document.createElement('dt');
    dt.textContent = label;
    const dd = document.createElement('dd');
    dd.textContent = value;
    return [dt, dd];
  });
  list.replaceChildren(...items);
}

/** A toggle button's on/off look and label, for aria-pressed or aria-expanded buttons. */
export function setToggle(
  button: HTMLButtonElement,
  attribute: 'aria-pressed' | 'aria-expanded',
  on: boolean,
): void {
  button.setAttribute(attribute, String(on));
}
