/*
 * Floe's gamepads inside a session without privileges (docs/gamepads.md).
 *
 * An unprivileged pod has no /dev/uinput, so no kernel device can be made for the browser's
 * pads. Instead the app runs with this library in LD_PRELOAD: opening /dev/input/js0–js3 or
 * /dev/input/event0–event3 connects to the streamer's gamepad hub (streamer/src/gamepad/hub.ts)
 * over a unix socket in $FLOE_GAMEPAD_DIR and returns that socket. The hub writes the records
 * the kernel would (struct js_event, struct input_event), so read, poll, select and epoll work
 * on it unchanged; only the ioctls that describe the device are answered here, from the fixed
 * layout below. Rumble: EVIOCSFF and EVIOCRMFF are passed to the hub as records of their own
 * (below), and the app's EV_FF writes reach it as they are.
 *
 * Everything else (another path, no $FLOE_GAMEPAD_DIR, no hub listening) goes to libc as if
 * this library were not loaded.
 *
 * The layout mirrors GAMEPAD_BUTTONS and GAMEPAD_AXES of streamer/src/protocol.ts (xpad's
 * Xbox 360 pad); streamer/test/gamepad-interposer.test.ts reads it back through these ioctls
 * and compares.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <linux/joystick.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#define PADS 4
#define NAME "Floe virtual gamepad (Xbox 360 layout)"
/* what the hub takes as an effect's upload or removal (EV_UINPUT is never sent by an app) */
#define FLOE_FF_RECORD 0x0101 /* EV_UINPUT of linux/uinput.h */
#define FLOE_FF_UPLOAD 1
#define FLOE_FF_ERASE 2
#define MAX_EFFECTS 16

static const unsigned short BUTTONS[] = {BTN_A,      BTN_B,     BTN_X,    BTN_Y,
                                         BTN_TL,     BTN_TR,    BTN_SELECT, BTN_START,
                                         BTN_MODE,   BTN_THUMBL, BTN_THUMBR};
enum kind { STICK, TRIGGER, HAT };
static const struct {
  unsigned char code;
  enum kind kind;
} AXES[] = {{ABS_X, STICK},  {ABS_Y, STICK},  {ABS_Z, TRIGGER},    {ABS_RX, STICK},
            {ABS_RY, STICK}, {ABS_RZ, TRIGGER}, {ABS_HAT0X, HAT}, {ABS_HAT0Y, HAT}};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Which descriptors are ours: 0 none, else 1 + pad + 8 × (evdev ? 1 : 0). */
#define TRACKED 4096
static unsigned char ours[TRACKED];
static unsigned short effects[TRACKED]; /* per evdev descriptor: the effect ids in use */

enum node { NONE, JS, EVDEV };

/* The folder of the hub's sockets, or NULL: no gamepads for this process. */
static const char *hub_dir(void) {
  const char *dir = getenv("FLOE_GAMEPAD_DIR");
  return dir && *dir ? dir : NULL;
}

/* Which of our nodes `path` names; its pad in *pad. */
static enum node node_of(const char *path, int *pad) {
  static const char js[] = "/dev/input/js", ev[] = "/dev/input/event";
  const char *rest;
  enum node node;
  if (!path) return NONE;
  if (strncmp(path, js, sizeof js - 1) == 0) {
    rest = path + sizeof js - 1;
    node = JS;
  } else if (strncmp(path, ev, sizeof ev - 1) == 0) {
    rest = path + sizeof ev - 1;
    node = EVDEV;
  } else {
    return NONE;
  }
  if (rest[0] < '0' || rest[0] >= '0' + PADS || rest[1] != '\0') return NONE;
  *pad = rest[0] - '0';
  return node;
}

/* The hub's socket for the node, or -1 (errno kept for the caller to drop): then libc opens. */
static int connect_hub(enum node node, int pad, int flags) {
  const char *dir = hub_dir();
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  int fd, saved = errno;
  if (!dir) return -1;
  if (snprintf(addr.sun_path, sizeof addr.sun_path, "%s/%s%d", dir, node == JS ? "js" : "event",
               pad) >= (int)sizeof addr.sun_path)
    return -1;
  fd = socket(AF_UNIX, SOCK_STREAM | ((flags & O_CLOEXEC) ? SOCK_CLOEXEC : 0), 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    close(fd);
    errno = saved;
    return -1;
  }
  if (flags & O_NONBLOCK) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (fd < TRACKED) {
    ours[fd] = (unsigned char)(1 + pad + (node == EVDEV ? 8 : 0));
    effects[fd] = 0;
  }
  return fd;
}

#define OPEN_MODE(flags, mode)                                                                    \
  do {                                                                                            \
    if ((flags) & (O_CREAT | __O_TMPFILE)) {                                                      \
      va_list ap;                                                                                 \
      va_start(ap, flags);                                                                        \
      mode = va_arg(ap, int);                                                                     \
      va_end(ap);                                                                                 \
    }                                                                                             \
  } while (0)

/* libc's function of that name (the next definition after ours), looked up once */
#define NEXT(type, name)                                                                          \
  static type real;                                                                               \
  if (!real) real = (type)dlsym(RTLD_NEXT, name)

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);

/* Our socket when the path is one of our nodes and the hub answers; else -1. */
static int ours_at(int dirfd, const char *path, int flags) {
  int pad;
  if (dirfd != AT_FDCWD && !(path && path[0] == '/')) return -1;
  enum node node = node_of(path, &pad);
  return node == NONE ? -1 : connect_hub(node, pad, flags);
}

#define OPEN(fn, name)                                                                            \
  int fn(const char *path, int flags, ...) {                                                      \
    int mode = 0, fd = ours_at(AT_FDCWD, path, flags);                                            \
    if (fd >= 0) return fd;                                                                       \
    OPEN_MODE(flags, mode);                                                                       \
    NEXT(open_fn, name);                                                                          \
    return real(path, flags, mode);                                                               \
  }
#define OPENAT(fn, name)                                                                          \
  int fn(int dirfd, const char *path, int flags, ...) {                                           \
    int mode = 0, fd = ours_at(dirfd, path, flags);                                               \
    if (fd >= 0) return fd;                                                                       \
    OPEN_MODE(flags, mode);                                                                       \
    NEXT(openat_fn, name);                                                                        \
    return real(dirfd, path, flags, mode);                                                        \
  }
OPEN(open, "open")
OPEN(open64, "open64")
OPENAT(openat, "openat")
OPENAT(openat64, "openat64")

/* what programs built with _FORTIFY_SOURCE call */
int __open_2(const char *path, int flags) {
  int fd = ours_at(AT_FDCWD, path, flags);
  if (fd >= 0) return fd;
  NEXT(open_fn, "__open_2");
  return real(path, flags);
}
int __open64_2(const char *path, int flags) {
  int fd = ours_at(AT_FDCWD, path, flags);
  if (fd >= 0) return fd;
  NEXT(open_fn, "__open64_2");
  return real(path, flags);
}
int __openat_2(int dirfd, const char *path, int flags) {
  int fd = ours_at(dirfd, path, flags);
  if (fd >= 0) return fd;
  NEXT(openat_fn, "__openat_2");
  return real(dirfd, path, flags);
}
int __openat64_2(int dirfd, const char *path, int flags) {
  int fd = ours_at(dirfd, path, flags);
  if (fd >= 0) return fd;
  NEXT(openat_fn, "__openat64_2");
  return real(dirfd, path, flags);
}


/*
 * Programs that look for pads by listing /dev/input (SDL without udev, which a sandbox has
 * not) find ours: /dev/input is listed as the hub's folder, whose entries are js0–js3 and
 * event0–event3, and each of our nodes is a character device of joydev's and evdev's numbers.
 */
static const char INPUT_DIR[] = "/dev/input";

static int is_input_dir(const char *path) {
  return path && hub_dir() &&
         (strcmp(path, INPUT_DIR) == 0 || strcmp(path, "/dev/input/") == 0);
}

/* What stat says of /dev/input and of our nodes; 0 when `path` is ours, else -1. */
static int fake_stat(const char *path, struct stat *st) {
  int pad;
  enum node node;
  struct stat dir;
  if (!hub_dir()) return -1;
  if (is_input_dir(path)) {
    typedef int (*stat_fn)(const char *, struct stat *);
    NEXT(stat_fn, "stat");
    if (real(hub_dir(), &dir) < 0) return -1;
    *st = dir;
    return 0;
  }
  node = node_of(path, &pad);
  if (node == NONE) return -1;
  memset(st, 0, sizeof *st);
  st->st_mode = S_IFCHR | 0666;
  st->st_nlink = 1;
  st->st_rdev = makedev(13, node == JS ? pad : 64 + pad);
  st->st_blksize = 4096;
  return 0;
}

typedef int (*stat_fn)(const char *, struct stat *);
typedef int (*fstatat_fn)(int, const char *, struct stat *, int);
typedef int (*xstat_fn)(int, const char *, struct stat *);
typedef int (*fxstatat_fn)(int, int, const char *, struct stat *, int);

/* struct stat64 is struct stat on the 64-bit machines sessions run on */
#define STAT(fn, name, type)                                                                      \
  int fn(const char *path, type *st) {                                                            \
    if (fake_stat(path, (struct stat *)st) == 0) return 0;                                        \
    NEXT(stat_fn, name);                                                                          \
    return real(path, (struct stat *)st);                                                         \
  }
STAT(stat, "stat", struct stat)
STAT(stat64, "stat64", struct stat64)
STAT(lstat, "lstat", struct stat)
STAT(lstat64, "lstat64", struct stat64)

#define FSTATAT(fn, name, type)                                                                   \
  int fn(int dirfd, const char *path, type *st, int flags) {                                      \
    if ((dirfd == AT_FDCWD || path[0] == '/') &&                                      \
        fake_stat(path, (struct stat *)st) == 0)                                                  \
      return 0;                                                                                   \
    NEXT(fstatat_fn, name);                                                                       \
    return real(dirfd, path, (struct stat *)st, flags);                                           \
  }
FSTATAT(fstatat, "fstatat", struct stat)
FSTATAT(fstatat64, "fstatat64", struct stat64)

/* what programs built against glibc before 2.33 call */
#define XSTAT(fn, name, type)                                                                     \
  int fn(int version, const char *path, type *st) {                                               \
    if (fake_stat(path, (struct stat *)st) == 0) return 0;                                        \
    NEXT(xstat_fn, name);                                                                         \
    return real(version, path, (struct stat *)st);                                                \
  }
XSTAT(__xstat, "__xstat", struct stat)
XSTAT(__xstat64, "__xstat64", struct stat64)
XSTAT(__lxstat, "__lxstat", struct stat)
XSTAT(__lxstat64, "__lxstat64", struct stat64)

typedef int (*access_fn)(const char *, int);
int access(const char *path, int mode) {
  struct stat st;
  if (fake_stat(path, &st) == 0) return 0;
  NEXT(access_fn, "access");
  return real(path, mode);
}

typedef DIR *(*opendir_fn)(const char *);
DIR *opendir(const char *path) {
  NEXT(opendir_fn, "opendir");
  return real(is_input_dir(path) ? hub_dir() : path);
}

typedef int (*scandir_fn)(const char *, struct dirent ***, int (*)(const struct dirent *),
                          int (*)(const struct dirent **, const struct dirent **));
int scandir(const char *path, struct dirent ***list, int (*filter)(const struct dirent *),
            int (*compare)(const struct dirent **, const struct dirent **)) {
  NEXT(scandir_fn, "scandir");
  return real(is_input_dir(path) ? hub_dir() : path, list, filter, compare);
}
int scandir64(const char *path, struct dirent64 ***list,
              int (*filter)(const struct dirent64 *),
              int (*compare)(const struct dirent64 **, const struct dirent64 **)) {
  typedef int (*scandir64_fn)(const char *, struct dirent64 ***,
                              int (*)(const struct dirent64 *),
                              int (*)(const struct dirent64 **, const struct dirent64 **));
  NEXT(scandir64_fn, "scandir64");
  return real(is_input_dir(path) ? hub_dir() : path, list, filter, compare);
}

typedef int (*close_fn)(int);
int close(int fd) {
  NEXT(close_fn, "close");
  if (fd >= 0 && fd < TRACKED) ours[fd] = 0;
  return real(fd);
}

/* Copies `len` bytes of `src` (zero-filled beyond `have`) to the caller's buffer. */
static int give(void *arg, size_t len, const void *src, size_t have) {
  memset(arg, 0, len);
  memcpy(arg, src, have < len ? have : len);
  return (int)len;
}

static void set_bit(unsigned char *bits, size_t len, unsigned bit) {
  if (bit / 8 < len) bits[bit / 8] |= (unsigned char)(1u << (bit % 8));
}

static int js_ioctl(unsigned long request, void *arg) {
  unsigned nr = _IOC_NR(request), size = _IOC_SIZE(request);
  switch (nr) {
  case _IOC_NR(JSIOCGVERSION):
    *(__u32 *)arg = JS_VERSION;
    return 0;
  case _IOC_NR(JSIOCGAXES):
    *(__u8 *)arg = COUNT(AXES);
    return 0;
  case _IOC_NR(JSIOCGBUTTONS):
    *(__u8 *)arg = COUNT(BUTTONS);
    return 0;
  case _IOC_NR(JSIOCGNAME(0)): {
    size_t n = strlen(NAME) + 1 < size ? strlen(NAME) + 1 : size;
    give(arg, size, NAME, n);
    return (int)n;
  }
  case _IOC_NR(JSIOCGAXMAP): {
    __u8 map[ABS_CNT] = {0};
    for (size_t i = 0; i < COUNT(AXES); i++) map[i] = AXES[i].code;
    give(arg, size, map, sizeof map);
    return 0;
  }
  case _IOC_NR(JSIOCGBTNMAP): {
    __u16 map[KEY_MAX - BTN_MISC + 1] = {0};
    for (size_t i = 0; i < COUNT(BUTTONS); i++) map[i] = BUTTONS[i];
    give(arg, size, map, sizeof map);
    return 0;
  }
  }
  errno = ENOTTY;
  return -1;
}

/* Tells the hub of an effect's upload or removal, in the socket's own record size. */
static int tell_hub(int fd, __u16 code, __s32 id, __u16 strong, __u16 weak, __u16 length) {
  struct input_event e = {.type = FLOE_FF_RECORD, .code = code, .value = id};
  e.input_event_sec = ((unsigned long)strong << 16) | weak;
  e.input_event_usec = length;
  return write(fd, &e, sizeof e) == sizeof e ? 0 : -1;
}

static int evdev_ioctl(int fd, unsigned long request, void *arg) {
  unsigned nr = _IOC_NR(request), size = _IOC_SIZE(request);
  if (_IOC_DIR(request) == _IOC_READ && nr >= 0x20 && nr < 0x20 + EV_CNT) {
    /* EVIOCGBIT(ev, len): the kernel copies whole longs of the type's bitmap */
    unsigned char bits[KEY_CNT / 8] = {0};
    size_t have = 8;
    switch (nr - 0x20) {
    case 0:
      set_bit(bits, sizeof bits, EV_SYN);
      set_bit(bits, sizeof bits, EV_KEY);
      set_bit(bits, sizeof bits, EV_ABS);
      set_bit(bits, sizeof bits, EV_FF);
      break;
    case EV_KEY:
      have = sizeof bits;
      for (size_t i = 0; i < COUNT(BUTTONS); i++) set_bit(bits, sizeof bits, BUTTONS[i]);
      break;
    case EV_ABS:
      for (size_t i = 0; i < COUNT(AXES); i++) set_bit(bits, sizeof bits, AXES[i].code);
      break;
    case EV_FF:
      have = FF_CNT / 8;
      set_bit(bits, sizeof bits, FF_RUMBLE);
      break;
    }
    size_t n = have < size ? have : size;
    give(arg, size, bits, n);
    return (int)n;
  }
  if (_IOC_DIR(request) == _IOC_READ && nr >= 0x40 && nr < 0x40 + ABS_CNT) {
    /* EVIOCGABS(abs): ranges as xpad's; the value is the rest position */
    struct input_absinfo info = {0};
    for (size_t i = 0; i < COUNT(AXES); i++) {
      if (AXES[i].code != nr - 0x40) continue;
      if (AXES[i].kind == STICK) info = (struct input_absinfo){0, -32768, 32767, 16, 128, 0};
      if (AXES[i].kind == TRIGGER) info = (struct input_absinfo){0, 0, 255, 0, 0, 0};
      if (AXES[i].kind == HAT) info = (struct input_absinfo){0, -1, 1, 0, 0, 0};
      give(arg, size, &info, sizeof info);
      return 0;
    }
    errno = EINVAL;
    return -1;
  }
  switch (nr) {
  case _IOC_NR(EVIOCGVERSION):
    *(int *)arg = EV_VERSION;
    return 0;
  case _IOC_NR(EVIOCGID): {
    /* an Xbox 360 pad's ids, so that SDL and games apply their mapping for it */
    struct input_id id = {.bustype = BUS_USB, .vendor = 0x045e, .product = 0x028e,
                          .version = 0x0114};
    give(arg, size, &id, sizeof id);
    return 0;
  }
  case _IOC_NR(EVIOCGNAME(0)): {
    size_t n = strlen(NAME) + 1 < size ? strlen(NAME) + 1 : size;
    give(arg, size, NAME, n);
    return (int)n;
  }
  case _IOC_NR(EVIOCGPHYS(0)):
  case _IOC_NR(EVIOCGUNIQ(0)):
    errno = ENOENT;
    return -1;
  case _IOC_NR(EVIOCGPROP(0)):
  case _IOC_NR(EVIOCGKEY(0)):
  case _IOC_NR(EVIOCGLED(0)):
  case _IOC_NR(EVIOCGSND(0)):
  case _IOC_NR(EVIOCGSW(0)):
    /* no properties; nothing held (the hub's events bring the state as it changes) */
    memset(arg, 0, size);
    return (int)size;
  case _IOC_NR(EVIOCGRAB):
  case _IOC_NR(EVIOCSCLOCKID):
    return 0;
  case _IOC_NR(EVIOCGEFFECTS):
    *(int *)arg = MAX_EFFECTS;
    return 0;
  case _IOC_NR(EVIOCSFF): {
    struct ff_effect *effect = arg;
    if (effect->type != FF_RUMBLE) break;
    int id = effect->id;
    if (id == -1) {
      for (id = 0; id < MAX_EFFECTS && (effects[fd] & (1u << id)); id++) {
      }
      if (id == MAX_EFFECTS) {
        errno = ENOSPC;
        return -1;
      }
    } else if (id < 0 || id >= MAX_EFFECTS || !(effects[fd] & (1u << id))) {
      break;
    }
    if (tell_hub(fd, FLOE_FF_UPLOAD, id, effect->u.rumble.strong_magnitude,
                 effect->u.rumble.weak_magnitude, effect->replay.length) < 0)
      return -1;
    effects[fd] |= (unsigned short)(1u << id);
    effect->id = (__s16)id;
    return 0;
  }
  case _IOC_NR(EVIOCRMFF): {
    long id = (long)arg; /* passed by value */
    if (id < 0 || id >= MAX_EFFECTS || !(effects[fd] & (1u << id))) break;
    effects[fd] &= (unsigned short)~(1u << id);
    return tell_hub(fd, FLOE_FF_ERASE, (int)id, 0, 0, 0);
  }
  }
  errno = EINVAL;
  return -1;
}

typedef int (*ioctl_fn)(int, unsigned long, ...);
int ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  if (fd >= 0 && fd < TRACKED && ours[fd]) {
    int evdev = ours[fd] > 8;
    if (evdev && _IOC_TYPE(request) == 'E') return evdev_ioctl(fd, request, arg);
    if (!evdev && _IOC_TYPE(request) == 'j') return js_ioctl(request, arg);
    errno = ENOTTY;
    return -1;
  }
  NEXT(ioctl_fn, "ioctl");
  return real(fd, request, arg);
}
