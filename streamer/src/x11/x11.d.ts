// Types for the parts of the untyped `x11` package (v4) that streamer/src/x11 uses.
// Requests are callback-based; a void request takes an optional callback(err) that fires
// once the server processed it. Extension requests are reached through X.require(name).
declare module 'x11' {
  export type Callback<T> = (err: XError | null | undefined, result: T) => void;
  export type VoidCallback = (err: XError | null | undefined) => void;

  export interface XError extends Error {
    error: number;
    seq: number;
    badParam: number;
    majorOpcode: number;
    minorOpcode: number;
  }

  export interface Screen {
    root: number;
    white_pixel: number;
    black_pixel: number;
    pixel_width: number;
    pixel_height: number;
    root_depth: number;
    root_visual: number;
  }

  export interface Display {
    client: XClient;
    screen: Screen[];
    min_keycode: number;
    max_keycode: number;
    max_request_length: number;
  }

  /** Core events as the package parses them; only the fields we read. */
  export interface XEvent {
    type: number;
    name?: string;
    seq: number;
    wid?: number;
    // key/button/motion
    keycode?: number;
    buttons?: number;
    x?: number;
    y?: number;
    rootx?: number;
    rooty?: number;
    time?: number;
    // ConfigureNotify
    width?: number;
    height?: number;
    // selections
    owner?: number;
    requestor?: number;
    selection?: number;
    target?: number;
    property?: number;
    // MappingNotify
    request?: number;
    firstKeyCode?: number;
    count?: number;
    // XFIXES SelectionNotify
    subtype?: number;
    window?: number;
    timestamp?: number;
    selectionTimestamp?: number;
    // PropertyNotify
    atom?: number;
    state?: number;
  }

  export interface PackableEvent {
    name: string;
    [field: string]: unknown;
  }

  export interface Property {
    type: number;
    format: number;
    bytesAfter: number;
    data: Buffer;
  }

  export interface Geometry {
    windowid: number;
    xPos: number;
    yPos: number;
    width: number;
    height: number;
  }

  export interface PointerInfo {
    root: number;
    child: number;
    rootX: number;
    rootY: number;
    keyMask: number;
  }

  export interface Image {
    depth: number;
    visualId: number;
    data: Buffer;
  }

  export interface WindowValues {
    backgroundPixel?: number;
    borderPixel?: number;
    overrideRedirect?: number;
    eventMask?: number;
    [name: string]: number | undefined;
  }

  export interface GCValues {
    foreground?: number;
    background?: number;
    graphicsExposures?: number;
    [name: string]: number | undefined;
  }

  export interface XTestExt {
    KeyPress: 2;
    KeyRelease: 3;
    ButtonPress: 4;
    ButtonRelease: 5;
    MotionNotify: 6;
    /** detail: keycode, button, or for motion 0 absolute / 1 relative; wid 0 = current root. */
    FakeInput(type: number, detail: number, time: number, wid: number, x: number, y: number): void;
  }

  export interface FixesExt {
    firstEvent: number;
    SelectionEventMask: {
      SetSelectionOwner: 1;
      SelectionWindowDestroy: 2;
      SelectionClientClose: 4;
    };
    SelectSelectionInput(window: number, selection: number, eventMask: number): void;
  }

  export interface ModeInfo {
    id: number;
    width: number;
    height: number;
    dot_clock: number;
    h_sync_start: number;
    h_sync_end: number;
    h_total: number;
    h_skew: number;
    v_sync_start: number;
    v_sync_end: number;
    v_total: number;
    modeflags: number;
    name: string;
  }

  export interface ScreenResources {
    timestamp: number;
    config_timestamp: number;
    crtcs: number[];
    outputs: number[];
    modeinfos: ModeInfo[];
  }

  export interface OutputInfo {
    crtc: number;
    connection: number;
    crtcs: number[];
    modes: number[];
    name: string;
  }

  export interface CrtcInfo {
    status: number;
    x: number;
    y: number;
    width: number;
    height: number;
    mode: number;
    rotation: number;
    output: number[];
  }

  export interface SizeRange {
    minWidth: number;
    minHeight: number;
    maxWidth: number;
    maxHeight: number;
  }

  export interface RandrExt {
    firstEvent: number;
    NotifyMask: { ScreenChange: 1 };
    Rotation: { Rotate_0: 1 };
    SelectInput(win: number, mask: number): void;
    GetScreenResourcesCurrent(win: number, cb: Callback<ScreenResources>): void;
    GetScreenSizeRange(win: number, cb: Callback<SizeRange>): void;
    GetOutputInfo(output: number, ts: number, cb: Callback<OutputInfo>): void;
    GetOutputPrimary(win: number, cb: Callback<number>): void;
    GetCrtcInfo(crtc: number, configTs: number, cb: Callback<CrtcInfo>): void;
    SetScreenSize(win: number, width: number, height: number, mmW: number, mmH: number): void;
    CreateMode(win: number, mode: Omit<ModeInfo, 'id'>, cb: Callback<number>): void;
    DestroyMode(mode: number): void;
    AddOutputMode(output: number, mode: number): void;
    DeleteOutputMode(output: number, mode: number): void;
    SetCrtcConfig(
      crtc: number,
      ts: number,
      configTs: number,
      x: number,
      y: number,
      mode: number,
      rotation: number,
      outputs: number[],
      cb: Callback<{ status: number; timestamp: number }>,
    ): void;
  }

  export interface XClient {
    display: Display;
    AllocID(): number;
    on(event: 'event', listener: (ev: XEvent) => void): this;
    on(event: 'error', listener: (err: XError) => void): this;
    on(event: 'end' | 'close', listener: () => void): this;
    once(event: 'end' | 'close', listener: () => void): this;
    removeListener(event: string, listener: (...args: never[]) => void): this;
    require(name: 'xtest', cb: Callback<XTestExt>): void;
    require(name: 'fixes', cb: Callback<FixesExt>): void;
    require(name: 'randr', cb: Callback<RandrExt>): void;
    sync(): Promise<void>;
    terminate(): void;
    /** The socket; destroy() it when the server no longer answers. */
    stream: import('node:net').Socket;

    CreateWindow(
      id: number,
      parent: number,
      x: number,
      y: number,
      width: number,
      height: number,
      borderWidth: number,
      depth: number,
      klass: number,
      visual: number,
      values: WindowValues,
    ): void;
    ChangeWindowAttributes(wid: number, values: WindowValues, cb?: VoidCallback): void;
    MapWindow(wid: number): void;
    DestroyWindow(wid: number): void;
    ResizeWindow(wid: number, width: number, height: number): void;
    GetGeometry(drawable: number, cb: Callback<Geometry>): void;
    InternAtom(onlyIfExists: boolean, name: string, cb: Callback<number>): void;
    ChangeProperty(
      mode: number,
      wid: number,
      name: number,
      type: number,
      format: 8 | 16 | 32,
      data: Buffer | number[],
      cb?: VoidCallback,
    ): void;
    DeleteProperty(wid: number, prop: number): void;
    GetProperty(
      del: number,
      wid: number,
      name: number,
      type: number,
      longOffset: number,
      longLength: number,
      cb: Callback<Property>,
    ): void;
    SetSelectionOwner(owner: number, selection: number, time?: number): void;
    GetSelectionOwner(selection: number, cb: Callback<number>): void;
    ConvertSelection(
      requestor: number,
      selection: number,
      target: number,
      property: number,
      time?: number,
    ): void;
    SendEvent(
      destination: number,
      propagate: number,
      eventMask: number,
      event: PackableEvent,
      cb?: VoidCallback,
    ): void;
    SetInputFocus(wid: number, revertTo: number): void;
    QueryPointer(wid: number, cb: Callback<PointerInfo>): void;
    GetKeyboardMapping(first: number, count: number, cb: Callback<number[][]>): void;
    ChangeKeyboardMapping(first: number, keysymsPerKeycode: number, keysyms: number[]): void;
    CreateGC(cid: number, drawable: number, values: GCValues): void;
    ChangeGC(cid: number, values: GCValues): void;
    PolyFillRectangle(drawable: number, gc: number, coords: number[]): boolean;
    GetImage(
      format: number,
      drawable: number,
      x: number,
      y: number,
      width: number,
      height: number,
      planeMask: number,
      cb: Callback<Image>,
    ): void;
  }

  export interface ClientOptions {
    display?: string;
    /** false: a plain socket, no descriptor passing (we use no MIT-SHM). */
    shm?: false;
    disableBigRequests?: boolean;
  }

  export function createClient(
    options: ClientOptions,
    cb: (err: Error | undefined, display: Display) => void,
  ): XClient;

  export const eventMask: {
    KeyPress: number;
    KeyRelease: number;
    ButtonPress: number;
    ButtonRelease: number;
    PointerMotion: number;
    Exposure: number;
    StructureNotify: number;
    PropertyChange: number;
  };
}
