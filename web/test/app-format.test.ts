import { describe, expect, it } from 'vitest';
import {
  formatAgo,
  formatDate,
  formatDuration,
  formatHours,
  formatLimit,
  formatUse,
  gpuBadge,
  initials,
  roleLabel,
  safeIcon,
  UNITS,
} from '../src/app/format.ts';

describe('gpuBadge', () => {
  it('shows count and SKU, nothing without a GPU', () => {
    expect(gpuBadge({ sku: 'l4', count: 1 })).toBe('1× L4');
    expect(gpuBadge({ sku: 'a100-80gb', count: 4 })).toBe('4× A100-80GB');
    expect(gpuBadge({ sku: 'l4', count: 0 })).toBeNull();
    expect(gpuBadge(null)).toBeNull();
    expect(gpuBadge(undefined)).toBeNull();
  });
});

describe('initials', () => {
  it('takes the first letters of two words, or two letters of one', () => {
    expect(initials('Visual Studio Code')).toBe('VS');
    expect(initials('xterm')).toBe('Xt');
    expect(initials('jupyter-lab')).toBe('JL');
    expect(initials('  ')).toBe('?');
    expect(initials('Éditeur')).toBe('Éd');
    expect(initials('3D Studio')).toBe('3S');
  });
});

describe('safeIcon', () => {
  it('keeps http(s), same-origin paths and data: images', () => {
    expect(safeIcon('https://cdn.example/icon.png')).toBe('https://cdn.example/icon.png');
    expect(safeIcon('/icons/blender.svg')).toBe('/icons/blender.svg');
    expect(safeIcon('data:image/png;base64,iVBOR')).toBe('data:image/png;base64,iVBOR');
    expect(safeIcon('data:image/svg+xml,%3Csvg%3E')).toBe('data:image/svg+xml,%3Csvg%3E');
  });

  it('drops scripts, other data: types and protocol-relative URLs', () => {
    expect(safeIcon('javascript:alert(1)')).toBeNull();
    expect(safeIcon('data:text/html,<script>')).toBeNull();
    expect(safeIcon('//evil.example/x.png')).toBeNull();
    expect(safeIcon('/\\evil.example')).toBeNull();
    expect(safeIcon('')).toBeNull();
    expect(safeIcon(null)).toBeNull();
  });
});

describe('durations and dates', () => {
  it('formats durations for reading at a glance', () => {
    expect(formatDuration(0)).toBe('0 s');
    expect(formatDuration(59.4)).toBe('59 s');
    expect(formatDuration(125)).toBe('2 min');
    expect(formatDuration(3 * 3600 + 5 * 60)).toBe('3 h 05 min');
    expect(formatDuration(50 * 3600)).toBe('2 d 2 h');
    expect(formatDuration(-5)).toBe('0 s');
  });

  it('formats hours with one decimal', () => {
    expect(formatHours(0)).toBe('0 h');
    expect(formatHours(60)).toBe('< 0.1 h');
    expect(formatHours(5400)).toBe('1.5 h');
    expect(formatHours(3600 * 1234)).toBe('1,234.0 h');
  });

  it('says how long ago', () => {
    const now = Date.parse('2025-03-10T12:00:00Z');
    expect(formatAgo('2025-03-10T11:59:30Z', now)).toBe('just now');
    expect(formatAgo('2025-03-10T11:55:00Z', now)).toBe('5 min ago');
    expect(formatAgo('2025-03-10T09:00:00Z', now)).toBe('3 h ago');
    expect(formatAgo('2025-03-07T12:00:00Z', now)).toBe('3 d ago');
    expect(formatAgo('not a date', now)).toBe('');
  });

  it('writes dates as UTC days', () => {
    expect(formatDate('2025-03-10T23:59:00Z')).toBe('2025-03-10');
    expect(formatDate(null)).toBe('—');
    expect(formatDate('nope')).toBe('—');
  });
});

describe('limits and roles', () => {
  it('reads null as no limit', () => {
    // null is no limit; 0 is a limit of nothing, as the API defines them
    expect(formatLimit(null, UNITS.sessions)).toBe('no limit');
    expect(formatLimit(undefined, UNITS.gpus)).toBe('no limit');
    expect(formatLimit(0, UNITS.sessions)).toBe('0 sessions');
    expect(formatLimit(1, UNITS.sessions)).toBe('1 session');
    expect(formatLimit(3, UNITS.sessions)).toBe('3 sessions');
    expect(formatLimit(12000, UNITS.gpus)).toBe('12,000 GPUs');
    expect(formatUse(3, 10, UNITS.sessions)).toBe('3 of 10 sessions');
    expect(formatUse(0, 1, UNITS.gpus)).toBe('0 of 1 GPU');
    expect(formatUse(0, null, UNITS.sessions)).toBe('0 sessions');
    expect(formatUse(1, null, UNITS.sessions)).toBe('1 session');
    expect(formatUse(12.345, 500, UNITS.gpuHours)).toBe('12.3 of 500 GPU-hours');
  });

  it('names roles', () => {
    expect(roleLabel('tenant-admin')).toBe('Admin');
    expect(roleLabel('member')).toBe('Member');
    expect(roleLabel('platform-admin')).toBe('Platform admin');
  });
});
