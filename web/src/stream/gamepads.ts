/**
 * The browser's gamepads into the session (docs/gamepads.md): polled on each animation frame
 * while a pad is connected (the Gamepad API has no events for presses), and only the changes
 * sent, as `gamepad` messages of the session's layout (gamepad-map.ts). Only while this viewer
 * holds control and the page is shown; otherwise the session's pads are brought to rest. The
 * app's rumble comes back as `rumble` and plays on the browser's pad.
 */
import { GAMEPAD_PADS, type InputMessage, type StreamerMessage } from '@floe/streamer/protocol';
import { padChanges, padState, restingState } from './gamepad-map.ts';

export interface GamepadsOptions {
  /** sends on the input channel; false when it is not open (the change is sent again later) */
  send: (message: InputMessage) => boolean;
  /** whether this viewer's pads should reach the session now */
  active: () => boolean;
}

export function attachGamepads(opts: GamepadsOptions) {
  /** what the session has of each pad, as this page last sent it */
  const sent = Array.from({ length: GAMEPAD_PADS }, restingState);
  let frame = 0;

  const poll = () => {
    frame = 0;
    const pads = navigator.getGamepads?.() ?? [];
    const on = opts.active();
    let connected = false;
    for (let i = 0; i < GAMEPAD_PADS; i++) {
      const pad = pads[i];
      if (pad?.connected) connected = true;
      const now = on && pad?.connected ? padState(pad) : restingState();
      const change = padChanges(i, sent[i]!, now);
      if (change && opts.send(change)) sent[i] = now;
    }
    if (connected) frame = requestAnimationFrame(poll);
  };
  const start = () => {
    if (frame === 0) frame = requestAnimationFrame(poll);
  };
  window.addEventListener('gamepadconnected', start);
  // one more poll sends the lost pad back to rest
  window.addEventListener('gamepaddisconnected', start);
  if ([...(navigator.getGamepads?.() ?? [])].some((p) => p?.connected)) start();

  return {
    /**
     * A new input channel: the streamer put the pads at rest when the last one closed, so the
     * next poll sends whatever is held now.
     */
    connected() {
      sent.fill(restingState());
      if ([...(navigator.getGamepads?.() ?? [])].some((p) => p?.connected)) start();
    },
    /** Every pad this page moved back to rest (the page is hidden: no more changes come). */
    reset() {
      for (let i = 0; i < GAMEPAD_PADS; i++) {
        const change = padChanges(i, sent[i]!, restingState());
        if (change && opts.send(change)) sent[i] = restingState();
      }
    },
    /** The app's rumble, on the browser's pad of that index (where the browser can). */
    rumble(message: Extract<StreamerMessage, { t: 'rumble' }>) {
      const actuator = navigator.getGamepads?.()[message.pad]?.vibrationActuator;
      if (!actuator) return;
      if (message.duration === 0) void actuator.reset().catch(() => {});
      else
        void actuator
          .playEffect('dual-rumble', {
            duration: message.duration,
            strongMagnitude: message.strong,
            weakMagnitude: message.weak,
          })
          .catch(() => {});
    },
  };
}
