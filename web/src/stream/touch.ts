import type { InputMessage } from '@floe/streamer/protocol';
import { MAX_DELTA } from './contract.ts';
import { contentRect, pointerFraction } from './geometry.ts';
import {
  type GestureAction,
  type GestureEvent,
  initialGesture,
  LONG_PRESS_MS,
  stepGesture,
  type TouchMode,
  withMode,
} from './gestures.ts';
import { panView, unzoomed, type View, viewTransform, zoomView } from './view.ts';

/**
 * Forwards touches on the stage as the gestures of gestures.ts decide: the browser's touch
 * events in, mouse messages and the page's zoom out. Touch events are cancelled, so the
 * browser neither scrolls or zooms the page nor fires the mouse events it would emulate.
 */

export interface TouchOptions {
  stage: HTMLElement;
  video: HTMLVideoElement;
  send(message: InputMessage): void;
  /** Called on the first touch: the page shows its touch controls. */
  touched(): void;
  /** Whether a touch should take the keyboard focus (not while the text input has it). */
  mayFocus(): boolean;
}

export interface TouchHandle {
  mode: TouchMode;
  readonly view: View;
  /** Forget the gesture and held buttons (the remote is told separately, with a `reset`). */
  reset(): void;
  /** Keep the zoomed view inside the stage after the stage changed size. */
  refit(): void;
  detach(): void;
}

/** Trackpad mode: display pixels per CSS pixel of finger travel, on top of the picture's scale. */
export const TRACKPAD_SPEED = 1.5;

const clamp = (n: number) => Math.max(-MAX_DELTA, Math.min(MAX_DELTA, n));

export function attachTouch({ stage, video, send, touched, mayFocus }: TouchOptions): TouchHandle {
  let gesture = initialGesture('direct');
  let view = unzoomed;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let rel = { dx: 0, dy: 0 };
  let seen = false;
  const held = new Set<number>();

  const stageBox = () => stage.getBoundingClientRect();

  const applyView = (next: View) => {
    view = next;
    video.style.transformOrigin = '0 0';
    video.style.transform = viewTransform(view);
  };

  /** Display pixels per CSS pixel of the picture as shown (zoom included). */
  const displayScale = () => {
    const content = contentRect(video.getBoundingClientRect(), video.videoWidth, video.videoHeight);
    return content ? video.videoWidth / content.width : 1;
  };

  const act = (action: GestureAction) => {
    switch (action.kind) {
      case 'point': {
        const p = pointerFraction(
          video.getBoundingClientRect(),
          video.videoWidth,
          video.videoHeight,
          action.x,
          action.y,
          true,
        );
        if (p) send({ t: 'move', ...p });
        return;
      }
      case 'rel': {
        const k = displayScale() * TRACKPAD_SPEED;
        rel = { dx: rel.dx + action.dx * k, dy: rel.dy + action.dy * k };
        // whole pixels only; the fraction waits for the next move so slow motion is not lost
        const dx = Math.trunc(rel.dx);
        const dy = Math.trunc(rel.dy);
        rel = { dx: rel.dx - dx, dy: rel.dy - dy };
        if (dx !== 0 || dy !== 0) send({ t: 'rel', dx: clamp(dx), dy: clamp(dy) });
        return;
      }
      case 'button':
        if (action.down) held.add(action.button);
        else held.delete(action.button);
        send({ t: 'button', button: action.button, down: action.down });
        return;
      case 'wheel':
        send({ t: 'wheel', dx: clamp(action.dx), dy: clamp(action.dy) });
        return;
      case 'zoom':
        applyView(zoomView(view, action.factor, action.x, action.y, stageBox()));
        return;
      case 'pan':
        applyView(panView(view, action.dx, action.dy, stageBox()));
        return;
    }
  };

  const feed = (event: GestureEvent) => {
    const step = stepGesture(gesture, event);
    gesture = step.state;
    for (const action of step.actions) act(action);
    clearTimeout(timer);
    if (gesture.phase === 'pending') {
      const wait = Math.max(0, gesture.start.t + LONG_PRESS_MS - performance.now());
      timer = setTimeout(() => feed({ type: 'tick', t: performance.now() }), wait);
    }
  };

  const onTouch = (e: TouchEvent) => {
    e.preventDefault();
    if (!seen) {
      seen = true;
      touched();
    }
    if (e.type === 'touchstart' && mayFocus()) stage.focus({ preventScroll: true });
    if (e.type === 'touchcancel') {
      feed({ type: 'cancel', t: e.timeStamp });
      return;
    }
    for (const touch of Array.from(e.changedTouches)) {
      const at = { id: touch.identifier, x: touch.clientX, y: touch.clientY, t: e.timeStamp };
      if (e.type === 'touchstart') feed({ type: 'down', ...at });
      else if (e.type === 'touchmove') feed({ type: 'move', ...at });
      else feed({ type: 'up', id: at.id, t: at.t });
    }
  };

  const events = ['touchstart', 'touchmove', 'touchend', 'touchcancel'] as const;
  for (const name of events) stage.addEventListener(name, onTouch, { passive: false });

  const forget = () => {
    clearTimeout(timer);
    gesture = initialGesture(gesture.mode);
    held.clear();
    rel = { dx: 0, dy: 0 };
  };

  return {
    get mode() {
      return gesture.mode;
    },
    set mode(mode: TouchMode) {
      // a drag in progress must not leave its button held
      for (const button of held) send({ t: 'button', button, down: false });
      held.clear();
      clearTimeout(timer);
      gesture = withMode(gesture, mode);
    },
    get view() {
      return view;
    },
    reset: forget,
    refit() {
      applyView(panView(view, 0, 0, stageBox()));
    },
    detach() {
      forget();
      for (const name of events) stage.removeEventListener(name, onTouch);
    },
  };
}
