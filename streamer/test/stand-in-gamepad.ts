/**
 * Runs in a stream page before its own script: a stand-in gamepad, since headless Chromium
 * has no pad hardware. A standard-mapping pad of 17 buttons and 4 axes at
 * `window.__standInPad`, which a test moves, announced with `gamepadconnected`; the rumble
 * the page plays on it is kept at `window.__standInRumble`.
 */
export const STAND_IN_GAMEPAD = `(() => {
  const rumble = [];
  const pad = {
    id: 'Floe stand-in gamepad (STANDARD GAMEPAD)',
    index: 0,
    connected: true,
    mapping: 'standard',
    timestamp: 0,
    axes: [0, 0, 0, 0],
    buttons: Array.from({ length: 17 }, () => ({ pressed: false, touched: false, value: 0 })),
    vibrationActuator: {
      effects: ['dual-rumble'],
      playEffect: (type, params) => (rumble.push({ type, ...params }), Promise.resolve('complete')),
      reset: () => (rumble.push({ type: 'reset' }), Promise.resolve('complete')),
    },
  };
  window.__standInPad = pad;
  window.__standInRumble = rumble;
  Object.defineProperty(Navigator.prototype, 'getGamepads', {
    value: () => [pad, null, null, null],
    configurable: true,
  });
  addEventListener('load', () => {
    const event = new Event('gamepadconnected');
    event.gamepad = pad;
    dispatchEvent(event);
  });
})();`;

/** The page's window as the stand-in leaves it. */
export type PadWindow = {
  __standInPad: { axes: number[]; buttons: { pressed: boolean; value: number }[] };
  __standInRumble: Record<string, unknown>[];
};
