"""X capture driven by XDamage, reading only what changed: the `damage` capture of floe_pipeline.

Why not ximagesrc: it captures on a free-running tick, so a frame the app has drawn waits
0-16.7 ms (at 60 fps) for the next tick, and every tick reads the whole screen (8 MB at
1080p) with XShmGetImage, holding the X server, which serialises the app's painting, for the
copy. Here the X server tells us when something was drawn (XDamage, reported once per
non-empty damage), we capture at once, and we read only the damaged rectangles (XFixes gives
them) into a persistent frame, so the X server is held for the few KB that changed.

Plain ctypes over libX11, libXext (MIT-SHM), libXdamage and libXfixes, the libraries
ximagesrc itself links (Debian: libx11-6, libxext6, libxdamage1, libxfixes3), and libyuv
(libyuv0), which converts to I420 (or Y444) only the rectangles that changed, with SIMD, where
GStreamer's videoconvert would convert the whole screen every frame.
Everything here runs on the one capture thread; the X connection is used by no other.
"""

import collections
import ctypes
import ctypes.util
import select
import time

_x11 = ctypes.CDLL("libX11.so.6")
_xext = ctypes.CDLL("libXext.so.6")
_xdamage = ctypes.CDLL("libXdamage.so.1")
_xfixes = ctypes.CDLL("libXfixes.so.3")
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

_p = ctypes.c_void_p
_ulong = ctypes.c_ulong


def _fn(lib, name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


class _ShmInfo(ctypes.Structure):
    _fields_ = [("shmseg", _ulong), ("shmid", ctypes.c_int), ("shmaddr", _p), ("readOnly", ctypes.c_int)]


class _Rect(ctypes.Structure):
    _fields_ = [("x", ctypes.c_short), ("y", ctypes.c_short), ("width", ctypes.c_ushort), ("height", ctypes.c_ushort)]


XOpenDisplay = _fn(_x11, "XOpenDisplay", _p, ctypes.c_char_p)
XCloseDisplay = _fn(_x11, "XCloseDisplay", ctypes.c_int, _p)
XDefaultScreen = _fn(_x11, "XDefaultScreen", ctypes.c_int, _p)
XRootWindow = _fn(_x11, "XRootWindow", _ulong, _p, ctypes.c_int)
XDefaultVisual = _fn(_x11, "XDefaultVisual", _p, _p, ctypes.c_int)
XDefaultDepth = _fn(_x11, "XDefaultDepth", ctypes.c_int, _p, ctypes.c_int)
XDisplayWidth = _fn(_x11, "XDisplayWidth", ctypes.c_int, _p, ctypes.c_int)
XDisplayHeight = _fn(_x11, "XDisplayHeight", ctypes.c_int, _p, ctypes.c_int)
XConnectionNumber = _fn(_x11, "XConnectionNumber", ctypes.c_int, _p)
XPending = _fn(_x11, "XPending", ctypes.c_int, _p)
XNextEvent = _fn(_x11, "XNextEvent", ctypes.c_int, _p, _p)
XSync = _fn(_x11, "XSync", ctypes.c_int, _p, ctypes.c_int)
XFlush = _fn(_x11, "XFlush", ctypes.c_int, _p)
XFree = _fn(_x11, "XFree", ctypes.c_int, _p)
_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, _p, _p)
XSetErrorHandler = _fn(_x11, "XSetErrorHandler", _p, _ERROR_HANDLER)
XShmQueryExtension = _fn(_xext, "XShmQueryExtension", ctypes.c_int, _p)
XShmAttach = _fn(_xext, "XShmAttach", ctypes.c_int, _p, ctypes.POINTER(_ShmInfo))
XShmDetach = _fn(_xext, "XShmDetach", ctypes.c_int, _p, ctypes.POINTER(_ShmInfo))
XShmCreateImage = _fn(
    _xext, "XShmCreateImage", _p, _p, _p, ctypes.c_uint, ctypes.c_int, _p,
    ctypes.POINTER(_ShmInfo), ctypes.c_uint, ctypes.c_uint,
)
XShmGetImage = _fn(_xext, "XShmGetImage", ctypes.c_int, _p, _ulong, _p, ctypes.c_int, ctypes.c_int, _ulong)
XDamageQueryExtension = _fn(
    _xdamage, "XDamageQueryExtension", ctypes.c_int, _p, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)
)
XDamageCreate = _fn(_xdamage, "XDamageCreate", _ulong, _p, _ulong, ctypes.c_int)
XDamageSubtract = _fn(_xdamage, "XDamageSubtract", None, _p, _ulong, _ulong, _ulong)
XFixesCreateRegion = _fn(_xfixes, "XFixesCreateRegion", _ulong, _p, _p, ctypes.c_int)
XFixesDestroyRegion = _fn(_xfixes, "XFixesDestroyRegion", None, _p, _ulong)
XFixesFetchRegion = _fn(_xfixes, "XFixesFetchRegion", ctypes.POINTER(_Rect), _p, _ulong, ctypes.POINTER(ctypes.c_int))
try:
    _yuv = ctypes.CDLL("libyuv.so.0")
    # libyuv's "ARGB" is a little-endian word: B, G, R, A in memory, which is X's BGRx
    # both: (argb, stride, y, stride, u, stride, v, stride, width, height)
    _ARGB_TO_YUV = (_p, ctypes.c_int, _p, ctypes.c_int, _p, ctypes.c_int, _p, ctypes.c_int, ctypes.c_int, ctypes.c_int)
    ARGBToI420 = _fn(_yuv, "ARGBToI420", ctypes.c_int, *_ARGB_TO_YUV)
    ARGBToI444 = _fn(_yuv, "ARGBToI444", ctypes.c_int, *_ARGB_TO_YUV)
except OSError:
    ARGBToI420 = ARGBToI444 = None  # the pipeline converts BGRx frames with videoconvert instead
shmget = _fn(_libc, "shmget", ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_int)
shmat = _fn(_libc, "shmat", _p, ctypes.c_int, _p, ctypes.c_int)
shmdt = _fn(_libc, "shmdt", ctypes.c_int, _p)
shmctl = _fn(_libc, "shmctl", ctypes.c_int, ctypes.c_int, ctypes.c_int, _p)

IPC_PRIVATE, IPC_CREAT, IPC_RMID = 0, 0o1000, 0
ZPIXMAP = 2
ALL_PLANES = 0xFFFFFFFFFFFFFFFF
X_DAMAGE_REPORT_NON_EMPTY = 3
X_DAMAGE_NOTIFY = 0
XEVENT_SIZE = 192  # sizeof(XEvent) on 64-bit
# An app's frame reaches the X server as several requests (a fill, a block, the barcode),
# perhaps in several writes; XDamage reports the first. Waiting this long after it lets the
# rest land, instead of capturing half a frame and the rest a whole frame later.
SETTLE_S = 0.001
# The frame-rate cap counts this many captures (next_capture_at).
CAP_FRAMES = 3
FAILING_FOR_S = 3.0  # how long reads may fail (a resize under way) before capture gives up


class CaptureError(RuntimeError):
    pass


# Xlib's default handler exits the process on any X error (a read past a screen that just
# shrank, before the streamer restarts the pipeline at the new size); this one records it,
# and the read that caused it raises CaptureError.
_x_errors = []


def _on_x_error(_dpy, event):
    # XErrorEvent: int type; Display *display; XID resourceid; unsigned long serial;
    # unsigned char error_code (at byte 32 on 64-bit)
    _x_errors.append(ctypes.string_at(event, 33)[32])
    return 0


_on_x_error_c = _ERROR_HANDLER(_on_x_error)


def plan_reads(rects, width, height, full_share=0.5):
    """Which rectangles to read: the damaged ones clipped to the screen, or the whole screen
    when they cover more than `full_share` of it (one big read beats many)."""
    clipped = []
    area = 0
    for x, y, w, h in rects:
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(width, x + w), min(height, y + h)
        if x1 > x0 and y1 > y0:
            clipped.append((x0, y0, x1 - x0, y1 - y0))
            area += (x1 - x0) * (y1 - y0)
    if area > full_share * width * height:
        return [(0, 0, width, height)]
    return clipped


def chroma_aligned(rects, width, height):
    """The rectangles grown to even edges: I420 keeps one colour sample per 2x2 pixels, and a
    block half inside a rectangle must be converted whole (the frame holds the other half)."""
    out = []
    for x, y, w, h in rects:
        x0, y0 = x & ~1, y & ~1
        x1, y1 = min(width, (x + w + 1) & ~1), min(height, (y + h + 1) & ~1)
        out.append((x0, y0, x1 - x0, y1 - y0))
    return out


class YuvLayout:
    """Where a planar YUV buffer's planes lie: offsets and strides as GstVideoInfo gives them.
    `subsampled`: I420 (one colour sample per 2x2 pixels); else Y444 (one per pixel)."""

    def __init__(self, offsets, strides, size, subsampled=True):
        self.offsets, self.strides, self.size = tuple(offsets), tuple(strides), size
        self.subsampled = subsampled


def rects_to_copy(history, held):
    """What a frame buffer that holds capture number `held` (None: nothing yet) lacks: the
    rectangles read since, from `history` [(number, rects)] of the latest captures, oldest
    first; None when it lacks more than the history tells (then it takes the whole frame)."""
    if held is None or not history or held < history[0][0] - 1:
        return None
    return [r for number, rects in history if number > held for r in rects]


def next_capture_at(captures, damaged_at, idle_interval, min_spacing, settle=0.0):
    """When to capture next (monotonic s), given `captures`, the times of the latest captures
    (oldest first, at most CAP_FRAMES): `settle` after damage came (at `damaged_at`, None when
    none), so that the rest of the app's frame lands too; but within the frame-rate cap, no
    more than CAP_FRAMES captures in CAP_FRAMES × `min_spacing`; or after `idle_interval`
    without damage (a static screen still sends frames, for keyframes and the stats).

    The cap is over a few frames, not between two: an app's paints come unevenly (one a few ms
    late, the next on time), and a cap of one spacing held the on-time paint until the spacing
    from the late one had passed: up to 13 ms at 60 fps, the p99 of glass-to-glass at 1080p
    (docs/benchmarks.md)."""
    if not captures:
        return damaged_at + settle if damaged_at is not None else 0.0
    if damaged_at is None:
        return captures[-1] + idle_interval
    due = damaged_at + settle
    if len(captures) == CAP_FRAMES:
        due = max(due, captures[0] + CAP_FRAMES * min_spacing)
    return due


class _Segment:
    """A System V shared-memory segment the X server writes into (as ximagesrc makes them)."""

    def __init__(self, dpy, size):
        self.dpy = dpy
        # 0777 like ximagesrc: the X server may run as another user than us
        shmid = shmget(IPC_PRIVATE, size, IPC_CREAT | 0o777)
        if shmid < 0:
            raise CaptureError(f"shmget failed (errno {ctypes.get_errno()})")
        addr = shmat(shmid, None, 0)
        if addr in (None, ctypes.c_void_p(-1).value):
            shmctl(shmid, IPC_RMID, None)
            raise CaptureError(f"shmat failed (errno {ctypes.get_errno()})")
        self.info = _ShmInfo(0, shmid, addr, 0)
        if not XShmAttach(dpy, ctypes.byref(self.info)):
            raise CaptureError("XShmAttach failed")
        XSync(dpy, 0)
        if _x_errors:
            shmctl(shmid, IPC_RMID, None)
            raise CaptureError(f"the X server could not attach shared memory (X error {_x_errors[-1]})")
        # removed once both sides have it mapped: it goes away with the last of them
        shmctl(shmid, IPC_RMID, None)
        self.addr = addr

    def close(self):
        XShmDetach(self.dpy, ctypes.byref(self.info))
        shmdt(self.addr)


class DamageCapture:
    """The root window of `display` as frames, captured when it is drawn on: BGRx, or I420 or
    Y444 once `output_yuv` was given a layout (converted as copied, rectangle by rectangle)."""

    def __init__(self, display, fps, idle_fps=None):
        XSetErrorHandler(_on_x_error_c)
        self.dpy = XOpenDisplay(display.encode())
        if not self.dpy:
            raise CaptureError(f"cannot open display {display}")
        try:
            self._open(fps, idle_fps)
        except CaptureError:
            XCloseDisplay(self.dpy)  # the pipeline goes on with ximagesrc: leave nothing open
            _x_errors.clear()
            raise

    def _open(self, fps, idle_fps):
        screen = XDefaultScreen(self.dpy)
        self.root = XRootWindow(self.dpy, screen)
        self.visual = XDefaultVisual(self.dpy, screen)
        self.depth = XDefaultDepth(self.dpy, screen)
        if self.depth not in (24, 32):
            raise CaptureError(f"depth {self.depth}: only 24/32-bit screens are captured")
        self.width = XDisplayWidth(self.dpy, screen)
        self.height = XDisplayHeight(self.dpy, screen)
        event_base, error_base = ctypes.c_int(), ctypes.c_int()
        if not XDamageQueryExtension(self.dpy, ctypes.byref(event_base), ctypes.byref(error_base)):
            raise CaptureError("the X server has no DAMAGE extension")
        if not XShmQueryExtension(self.dpy):
            raise CaptureError("the X server has no MIT-SHM extension")
        self.damage_event = event_base.value + X_DAMAGE_NOTIFY
        self.size = self.width * self.height * 4
        # the frame, updated in place; and a scratch segment that one damaged rectangle is
        # read into at its own stride, then copied row by row into the frame
        self.frame = _Segment(self.dpy, self.size)
        self.scratch = _Segment(self.dpy, self.size)
        self.damage = XDamageCreate(self.dpy, self.root, X_DAMAGE_REPORT_NON_EMPTY)
        self.region = XFixesCreateRegion(self.dpy, None, 0)
        self.event = ctypes.create_string_buffer(XEVENT_SIZE)
        self.fd = XConnectionNumber(self.dpy)
        self.interval = 1.0 / fps
        # The frame rate cap, a little above `fps`: an app painting at `fps` with some jitter
        # is captured as it paints. A cap of exactly one frame would lock the captures to a
        # grid of their own that the app's early paints push later and later (the tick wait
        # again); an app's paint that lands in two parts is one frame thanks to SETTLE_S.
        self.min_spacing = self.interval * 0.8
        self.idle_interval = 1.0 / idle_fps if idle_fps else self.interval * 1.5
        self.captures = collections.deque(maxlen=CAP_FRAMES)
        self.failing_since = None
        self.first = True
        self.damaged_at = None  # when the first damage since the last capture was reported
        # The pipeline's buffers come back from a pool: each is brought up to date with only
        # the rectangles read since it was last filled, not the whole frame.
        self.number = 0
        self.history = collections.deque(maxlen=8)
        self.held = {}  # a buffer's address -> the capture number it holds
        self.yuv = None

    def output_yuv(self, layout):
        """From now on, frames are I420 or Y444 buffers laid out as `layout` (False: no libyuv)."""
        if ARGBToI420 is None:
            return False
        self.yuv = layout
        self.held.clear()
        return True

    @property
    def frame_size(self):
        """How many bytes a frame buffer holds."""
        return self.yuv.size if self.yuv else self.size

    def _drain_events(self):
        while XPending(self.dpy):
            XNextEvent(self.dpy, self.event)
            kind = ctypes.c_int.from_buffer(self.event).value & 0x7F
            if kind == self.damage_event and self.damaged_at is None:
                self.damaged_at = time.monotonic()

    def _read(self, x, y, w, h):
        full = w == self.width and h == self.height
        target = self.frame if full else self.scratch
        image = XShmCreateImage(
            self.dpy, self.visual, self.depth, ZPIXMAP, target.addr, ctypes.byref(target.info), w, h
        )
        if not image:
            raise CaptureError("XShmCreateImage failed")
        try:
            ok = XShmGetImage(self.dpy, self.root, image, x, y, ALL_PLANES) and not _x_errors
        finally:
            XFree(image)  # a shared-memory image's struct only; its data is the segment
        if not ok:
            self._failed(f"XShmGetImage failed (X error {_x_errors[-1:]})")
            return
        self.failing_since = None
        if full:
            return
        row = w * 4
        stride = self.width * 4
        src, dst = self.scratch.addr, self.frame.addr + y * stride + x * 4
        for i in range(h):
            ctypes.memmove(dst + i * stride, src + i * row, row)

    def _failed(self, message):
        """A read failed: most often the screen just shrank under a read of the old size,
        and the streamer is about to restart the pipeline at the new one, so the frame keeps
        its old content for now. A read failing for longer is an error."""
        _x_errors.clear()
        now = time.monotonic()
        if self.failing_since is None:
            self.failing_since = now
        elif now - self.failing_since > FAILING_FOR_S:
            raise CaptureError(f"{message}, for {FAILING_FOR_S} s")

    def _copy(self, into, rects):
        """Copies the frame, or only `rects` of it, to the buffer at `into` (same stride), or
        converts them into it (I420 or Y444)."""
        plan = [(0, 0, self.width, self.height)] if rects is None else plan_reads(rects, self.width, self.height)
        stride = self.width * 4
        if self.yuv:
            (oy, ou, ov), (sy, su, sv) = self.yuv.offsets[:3], self.yuv.strides[:3]
            convert, shift = (ARGBToI420, 1) if self.yuv.subsampled else (ARGBToI444, 0)
            for x, y, w, h in chroma_aligned(plan, self.width, self.height) if shift else plan:
                cx, cy = x >> shift, y >> shift
                convert(
                    self.frame.addr + y * stride + x * 4, stride,
                    into + oy + y * sy + x, sy,
                    into + ou + cy * su + cx, su,
                    into + ov + cy * sv + cx, sv,
                    w, h,
                )
            return
        for x, y, w, h in plan:
            if w == self.width:
                ctypes.memmove(into + y * stride, self.frame.addr + y * stride, h * stride)
                continue
            offset, row = y * stride + x * 4, w * 4
            for i in range(h):
                at = offset + i * stride
                ctypes.memmove(into + at, self.frame.addr + at, row)

    def _damaged_rects(self):
        """Takes the damage accumulated so far (and resets it, re-arming the report)."""
        XDamageSubtract(self.dpy, self.damage, 0, self.region)
        count = ctypes.c_int()
        rects = XFixesFetchRegion(self.dpy, self.region, ctypes.byref(count))
        try:
            return [(rects[i].x, rects[i].y, rects[i].width, rects[i].height) for i in range(count.value)]
        finally:
            if rects:
                XFree(rects)

    def next_frame(self, into, running=lambda: True):
        """Blocks until the next frame is due and copies it (`frame_size` bytes) to the address
        `into`; returns whether it was drawn on since the last (False: an idle repeat), or None
        when `running()` turned false. A buffer given before gets only what changed since; the
        copy is ctypes.memmove, which lets go of Python's lock (the pipeline's threads run
        their pad probes meanwhile)."""
        while running():
            self._drain_events()
            now = time.monotonic()
            due = next_capture_at(self.captures, self.damaged_at, self.idle_interval, self.min_spacing, SETTLE_S)
            if due > now:
                # the X connection's socket wakes us when damage comes; at most 50 ms at a
                # time, so that a stop is seen
                timeout = min(due - now, 0.05)
                if self.damaged_at is not None:
                    time.sleep(timeout)
                else:
                    XFlush(self.dpy)
                    select.select([self.fd], [], [], timeout)
                continue
            damaged = self.damaged_at is not None
            self.damaged_at = None
            rects = self._damaged_rects()
            if self.first:
                rects, self.first = [(0, 0, self.width, self.height)], False
            reads = plan_reads(rects, self.width, self.height)
            for x, y, w, h in reads:
                self._read(x, y, w, h)
            self.captures.append(time.monotonic())
            self.number += 1
            self.history.append((self.number, reads))
            self._copy(into, rects_to_copy(self.history, self.held.get(into)))
            if len(self.held) > 16:
                self.held.clear()  # the pool made new buffers: forget the old ones
            self.held[into] = self.number
            return damaged
        return None

    def close(self):
        XFixesDestroyRegion(self.dpy, self.region)
        self.frame.close()
        self.scratch.close()
        XCloseDisplay(self.dpy)
