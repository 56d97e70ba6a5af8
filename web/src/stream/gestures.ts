/**
 * Touch gestures → what the remote display and the page's view should do. A pure state
 * machine: touch.ts feeds it the browser's touches (and a timer tick for the long press) and
 * carries out the actions it returns, so every gesture is decided here and tested as a table.
 *
 * Two modes, as on the touch clients of Selkies and Guacamole:
 *
 * - `direct` (a touchscreen): the pointer goes where the finger is. A tap clicks there, a
 *   long press right-clicks there, a one-finger drag drags with the left button held.
 * - `trackpad` (a laptop's touchpad): one finger moves the pointer by how far it moves; a tap
 *   clicks where the pointer is, a long press right-clicks there.
 *
 * In trackpad mode a tap followed at once by a finger that stays down drags (the left button
 * held while it moves), as on a laptop's touchpad ("tap and a half").
 *
 * In both, two fingers moving together scroll, two fingers moving apart or together zoom the
 * page's view of the picture (and pan it while they move), and a quick two-finger tap
 * right-clicks. A third finger ends the gesture until every finger is up.
 */

export type TouchMode = 'direct' | 'trackpad';

export type GestureEvent =
  | { type: 'down'; id: number; x: number; y: number; t: number }
  | { type: 'move'; id: number; x: number; y: number; t: number }
  | { type: 'up'; id: number; t: number }
  /** The browser took the touches away (a system gesture, an alert). */
  | { type: 'cancel'; t: number }
  /** The long-press timer fired. */
  | { type: 'tick'; t: number };

/** Positions are the page's client coordinates (CSS pixels). */
export type GestureAction =
  /** Put the remote pointer at this client point (direct mode). */
  | { kind: 'point'; x: number; y: number }
  /** Move the remote pointer by this many CSS pixels (trackpad mode). */
  | { kind: 'rel'; dx: number; dy: number }
  | { kind: 'button'; button: 1 | 3; down: boolean }
  /** Whole wheel notches; positive dy scrolls down, as the `wheel` message. */
  | { kind: 'wheel'; dx: number; dy: number }
  /** Scale the view by `factor` around this client point. */
  | { kind: 'zoom'; factor: number; x: number; y: number }
  /** Move the view by CSS pixels. */
  | { kind: 'pan'; dx: number; dy: number };

interface Touch {
  id: number;
  x: number;
  y: number;
}

type Phase =
  /** No finger down. */
  | 'idle'
  /** One finger down, not yet a tap, a long press or a drag. */
  | 'pending'
  /** One finger moving: dragging (direct) or moving the pointer (trackpad). */
  | 'drag'
  /** Two fingers down, not yet moved enough to be a scroll or a pinch. */
  | 'two'
  | 'scroll'
  | 'pinch'
  /** The gesture is over (long press fired, a third finger): wait for every finger to lift. */
  | 'done';

export interface GestureState {
  mode: TouchMode;
  phase: Phase;
  touches: readonly Touch[];
  /** Where and when the gesture's first finger (or second, for two-finger gestures) went down. */
  start: { x: number; y: number; t: number };
  /** Two fingers: their midpoint and distance when the phase began and at the last step. */
  startCentroid: { x: number; y: number };
  startDistance: number;
  lastCentroid: { x: number; y: number };
  lastDistance: number;
  /** Scroll not yet sent, in fractions of a notch. */
  wheel: { x: number; y: number };
  /** The left button is held by this gesture's drag (released when it ends). */
  holding: boolean;
  /** Trackpad: when the last one-finger tap ended, and whether this touch followed it closely. */
  lastTapAt: number | null;
  armed: boolean;
}

/** A finger that moves less than this (CSS px) is still tapping or pressing. */
export const TAP_SLOP = 10;
/** Held this long without moving, a finger right-clicks. */
export const LONG_PRESS_MS = 500;
/** Two fingers lifted within this time of touching, without moving, are a two-finger tap. */
export const TWO_FINGER_TAP_MS = 300;
/** Fingers moving apart or together by this much (CSS px) make a pinch, not a scroll. */
export const PINCH_SLOP = 30;
/** Two fingers moving together this far (CSS px) make a scroll. */
export const SCROLL_SLOP = 10;
/** Finger travel per wheel notch (CSS px): the wheel's 100 px is too far for a thumb. */
export const TOUCH_PX_PER_NOTCH = 40;
/** Trackpad: a finger down within this time of a tap's end drags instead of moving. */
export const TAP_DRAG_MS = 300;

export function initialGesture(mode: TouchMode): GestureState {
  const origin = { x: 0, y: 0 };
  return {
    mode,
    phase: 'idle',
    touches: [],
    start: { ...origin, t: 0 },
    startCentroid: origin,
    startDistance: 0,
    lastCentroid: origin,
    lastDistance: 0,
    wheel: origin,
    holding: false,
    lastTapAt: null,
    armed: false,
  };
}

const distance = (a: { x: number; y: number }, b: { x: number; y: number }) =>
  Math.hypot(a.x - b.x, a.y - b.y);

const centroid = (a: Touch, b: Touch) => ({ x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 });

/** Whole notches towards zero; the epsilon absorbs float error. */
const whole = (n: number) => Math.trunc(n + Math.sign(n) * 1e-9);

const click = (button: 1 | 3): GestureAction[] => [
  { kind: 'button', button, down: true },
  { kind: 'button', button, down: false },
];

export interface GestureStep {
  state: GestureState;
  actions: GestureAction[];
}

export function stepGesture(state: GestureState, event: GestureEvent): GestureStep {
  const s = state;
  const done = (next: Partial<GestureState>, actions: GestureAction[] = []): GestureStep => ({
    state: { ...s, ...next },
    actions,
  });

  switch (event.type) {
    case 'cancel':
      // A drag must not leave the left button held on the remote.
      return {
        state: { ...initialGesture(s.mode) },
        actions: s.holding ? [{ kind: 'button', button: 1, down: false }] : [],
      };

    case 'tick': {
      if (s.phase !== 'pending' || event.t - s.start.t < LONG_PRESS_MS) return done({});
      // tap, then press and hold: the button is held, for a drag that may start slowly
      if (s.armed) {
        return done({ phase: 'drag', holding: true }, [{ kind: 'button', button: 1, down: true }]);
      }
      const at: GestureAction[] =
        s.mode === 'direct' ? [{ kind: 'point', x: s.start.x, y: s.start.y }] : [];
      return done({ phase: 'done' }, [...at, ...click(3)]);
    }

    case 'down': {
      const touch = { id: event.id, x: event.x, y: event.y };
      if (s.touches.some((t) => t.id === event.id)) return done({});
      const touches = [...s.touches, touch];
      if (s.phase === 'idle') {
        return done({
          phase: 'pending',
          touches,
          start: { x: event.x, y: event.y, t: event.t },
          armed:
            s.mode === 'trackpad' && s.lastTapAt !== null && event.t - s.lastTapAt <= TAP_DRAG_MS,
        });
      }
      if (s.phase === 'pending' && touches.length === 2) {
        // (armed or not: a second finger makes it a two-finger gesture)
        const c = centroid(touches[0]!, touches[1]!);
        const d = distance(touches[0]!, touches[1]!);
        return done({
          phase: 'two',
          touches,
          start: { ...s.start, t: event.t },
          startCentroid: c,
          lastCentroid: c,
          startDistance: d,
          lastDistance: d,
          wheel: { x: 0, y: 0 },
        });
      }
      // A finger joining a drag is ignored (the drag goes on); any other ends the gesture.
      return done({ touches, phase: s.phase === 'drag' ? 'drag' : 'done' });
    }

    case 'move': {
      const index = s.touches.findIndex((t) => t.id === event.id);
      if (index < 0) return done({});
      const touches = s.touches.map((t, i) =>
        i === index ? { id: t.id, x: event.x, y: event.y } : t,
      );
      return moved(s, touches, index);
    }

    case 'up': {
      const touches = s.touches.filter((t) => t.id !== event.id);
      if (touches.length === s.touches.length) return done({});
      const rest = touches.length === 0 ? { ...initialGesture(s.mode) } : { touches };
      switch (s.phase) {
        case 'pending': {
          // an armed touch lifted late was held for a drag (the tick came late): release it
          if (s.armed && event.t - s.start.t >= LONG_PRESS_MS) return done(rest, click(1));
          const long = !s.armed && event.t - s.start.t >= LONG_PRESS_MS;
          const at: GestureAction[] =
            s.mode === 'direct' ? [{ kind: 'point', x: s.start.x, y: s.start.y }] : [];
          return done({ ...rest, lastTapAt: long ? null : event.t }, [
            ...at,
            ...click(long ? 3 : 1),
          ]);
        }
        case 'drag':
          if (s.touches[0]?.id !== event.id) return done({ touches });
          return done(
            touches.length === 0 ? rest : { touches, phase: 'done', holding: false },
            s.holding ? [{ kind: 'button', button: 1, down: false }] : [],
          );
        case 'two': {
          const quick = event.t - s.start.t < TWO_FINGER_TAP_MS;
          if (!quick) return done({ ...rest, phase: touches.length ? 'done' : 'idle' });
          const c = s.lastCentroid;
          const at: GestureAction[] = s.mode === 'direct' ? [{ kind: 'point', ...c }] : [];
          return done({ ...rest, phase: touches.length ? 'done' : 'idle' }, [...at, ...click(3)]);
        }
        default:
          return done(touches.length === 0 ? rest : { touches, phase: 'done' });
      }
    }
  }
}

function moved(s: GestureState, touches: Touch[], index: number): GestureStep {
  const next = (patch: Partial<GestureState>, actions: GestureAction[] = []): GestureStep => ({
    state: { ...s, touches, ...patch },
    actions,
  });
  const touch = touches[index]!;

  switch (s.phase) {
    case 'pending': {
      if (distance(touch, s.start) <= TAP_SLOP) return next({});
      if (s.mode === 'direct') {
        return next({ phase: 'drag', holding: true }, [
          { kind: 'point', x: s.start.x, y: s.start.y },
          { kind: 'button', button: 1, down: true },
          { kind: 'point', x: touch.x, y: touch.y },
        ]);
      }
      const rel: GestureAction = { kind: 'rel', dx: touch.x - s.start.x, dy: touch.y - s.start.y };
      if (s.armed) {
        return next({ phase: 'drag', holding: true }, [
          { kind: 'button', button: 1, down: true },
          rel,
        ]);
      }
      return next({ phase: 'drag' }, [rel]);
    }
    case 'drag': {
      if (index !== 0) return next({});
      const before = s.touches[0]!;
      if (s.mode === 'direct') return next({}, [{ kind: 'point', x: touch.x, y: touch.y }]);
      return next({}, [{ kind: 'rel', dx: touch.x - before.x, dy: touch.y - before.y }]);
    }
    case 'two':
    case 'scroll':
    case 'pinch': {
      if (index > 1) return next({});
      const c = centroid(touches[0]!, touches[1]!);
      const d = distance(touches[0]!, touches[1]!);
      let phase = s.phase;
      if (phase === 'two') {
        if (Math.abs(d - s.startDistance) > PINCH_SLOP) phase = 'pinch';
        else if (distance(c, s.startCentroid) > SCROLL_SLOP) phase = 'scroll';
        else return next({ lastCentroid: c, lastDistance: d });
      }
      // The step counts from where the fingers were when the phase was decided, so the
      // motion that decided it is not lost.
      const fromC = s.phase === 'two' ? s.startCentroid : s.lastCentroid;
      const fromD = s.phase === 'two' ? s.startDistance : s.lastDistance;
      if (phase === 'pinch') {
        const actions: GestureAction[] = [];
        if (fromD > 0 && d > 0) actions.push({ kind: 'zoom', factor: d / fromD, x: c.x, y: c.y });
        if (c.x !== fromC.x || c.y !== fromC.y) {
          actions.push({ kind: 'pan', dx: c.x - fromC.x, dy: c.y - fromC.y });
        }
        return next({ phase, lastCentroid: c, lastDistance: d }, actions);
      }
      // Natural scrolling: the content follows the fingers, so fingers moving up scroll down.
      const wheel = {
        x: s.wheel.x - (c.x - fromC.x) / TOUCH_PX_PER_NOTCH,
        y: s.wheel.y - (c.y - fromC.y) / TOUCH_PX_PER_NOTCH,
      };
      const dx = whole(wheel.x);
      const dy = whole(wheel.y);
      return next(
        {
          phase,
          lastCentroid: c,
          lastDistance: d,
          wheel: { x: wheel.x - dx, y: wheel.y - dy },
        },
        dx !== 0 || dy !== 0 ? [{ kind: 'wheel', dx, dy }] : [],
      );
    }
    default:
      return next({});
  }
}

/** Switching mode forgets the gesture in progress (touch.ts releases what it held). */
export function withMode(state: GestureState, mode: TouchMode): GestureState {
  return {
    ...initialGesture(mode),
    touches: state.touches,
    phase: state.touches.length ? 'done' : 'idle',
  };
}
