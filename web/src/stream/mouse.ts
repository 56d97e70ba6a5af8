import type { InputMessage } from '@floe/streamer/protocol';
import { xButton } from './buttons.ts';
import { MAX_DELTA } from './contract.ts';
import { pointerFraction } from './geometry.ts';
import { accumulateWheel, emptyWheel } from './wheel.ts';

/**
 * Forwards the mouse: absolute position over the picture, or relative motion while the
 * pointer is locked. Moves are coalesced to one per animation frame: a 1000 Hz mouse would
 * otherwise flood the data channel with positions the display cannot show anyway.
 */

export interface MouseOptions {
  stage: HTMLElement;
  video: HTMLVideoElement;
  send(message: InputMessage): void;
}

export interface MouseHandle {
  /** Forget held buttons (the remote is told separately, with a `reset`). */
  reset(): void;
  detach(): void;
}

const clamp = (n: number) => Math.max(-MAX_DELTA, Math.min(MAX_DELTA, n));

export function attachMouse({ stage, video, send }: MouseOptions): MouseHandle {
  const held = new Set<number>();
  let absolute: { x: number; y: number } | null = null;
  let rel = { dx: 0, dy: 0 };
  let frame = 0;
  let wheel = emptyWheel;

  const locked = () => document.pointerLockElement === video;

  const flush = () => {
    cancelAnimationFrame(frame);
    frame = 0;
    if (absolute) send({ t: 'move', ...absolute });
    absolute = null;
    // Whole pixels only; the fraction waits for the next frame so slow motion is not lost.
    const dx = Math.trunc(rel.dx);
    const dy = Math.trunc(rel.dy);
    if (dx !== 0 || dy !== 0) send({ t: 'rel', dx: clamp(dx), dy: clamp(dy) });
    rel = { dx: rel.dx - dx, dy: rel.dy - dy };
  };
  const schedule = () => {
    if (!frame) frame = requestAnimationFrame(flush);
  };

  const position = (e: MouseEvent, clamp = false) =>
    pointerFraction(
      video.getBoundingClientRect(),
      video.videoWidth,
      video.videoHeight,
      e.clientX,
      e.clientY,
      clamp,
    );

  const onMove = (e: MouseEvent) => {
    if (locked()) {
      rel = { dx: rel.dx + e.movementX, dy: rel.dy + e.movementY };
      schedule();
    } else if (held.size > 0 || stage.contains(e.target as Node)) {
      const p = position(e, held.size > 0);
      if (p) {
        absolute = p;
        schedule();
      }
    }
  };

  const onDown = (e: MouseEvent) => {
    const button = xButton(e.button);
    // Keep the browser from starting a selection, autoscroll (middle) or moving focus itself.
    e.preventDefault();
    stage.focus({ preventScroll: true });
    if (button === null) return;
    if (!locked()) {
      const p = position(e);
      if (!p) return; // on the letterbox bars
      absolute = p;
    }
    flush();
    held.add(button);
    send({ t: 'button', button, down: true });
  };

  const onUp = (e: MouseEvent) => {
    const button = xButton(e.button);
    if (button === null || !held.has(button)) return;
    // Back/forward buttons navigate the browser on release.
    e.preventDefault();
    flush();
    held.delete(button);
    send({ t: 'button', button, down: false });
  };

  const onWheel = (e: WheelEvent) => {
    e.preventDefault(); // no page scroll, no Ctrl+wheel zoom
    const next = accumulateWheel(wheel, e);
    wheel = next.state;
    if (next.dx === 0 && next.dy === 0) return;
    flush();
    send({ t: 'wheel', dx: clamp(next.dx), dy: clamp(next.dy) });
  };

  const onContextMenu = (e: Event) => e.preventDefault();

  stage.addEventListener('mousedown', onDown);
  stage.addEventListener('wheel', onWheel, { passive: false });
  stage.addEventListener('contextmenu', onContextMenu);
  // Moves and releases are followed outside the stage too: a drag that leaves the video must
  // still release the button it pressed.
  window.addEventListener('mousemove', onMove);
  window.addEventListener('mouseup', onUp);

  return {
    reset() {
      held.clear();
      wheel = emptyWheel;
    },
    detach() {
      cancelAnimationFrame(frame);
      stage.removeEventListener('mousedown', onDown);
      stage.removeEventListener('wheel', onWheel);
      stage.removeEventListener('contextmenu', onContextMenu);
      window.removeEventListener('mousemove', onMove);
      window.removeEventListener('mouseup', onUp);
    },
  };
}
