// Every relative link in the repository's Markdown must lead to a file of the repository:
// a clone is all a reader has (links to ../shared or to a file since renamed were broken).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lexer, type Token } from 'marked';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function linksOf(tokens: Token[] | undefined, out: string[] = []): string[] {
  for (const token of tokens ?? []) {
    if (token.type === 'link' || token.type === 'image') out.push(token.href);
    if ('tokens' in token) linksOf(token.tokens, out);
    if (token.type === 'list') for (const item of token.items) linksOf(item.tokens, out);
    if (token.type === 'table') {
      for (const cell of [...token.header, ...token.rows.flat()]) linksOf(cell.tokens, out);
    }
  }
  return out;
}

/** What is wrong with a link from `file` (a repository path), or null when it is fine. */
export function brokenLink(file: string, href: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith('#')) return null; // URL or anchor
  const target = decodeURI(href.split('#')[0] ?? '');
  const path = resolve(root, dirname(file), target);
  if (relative(root, path).startsWith('..')) return 'leads outside the repository';
  if (!existsSync(path)) return 'names no file';
  return null;
}

describe('Markdown links', () => {
  const files = execFileSync('git', ['ls-files', '*.md'], { cwd: root, encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);

  it('finds the documents and their links', () => {
    expect(files).toContain('README.md');
    expect(linksOf(new Lexer().lex('see [a](docs/a.md) and ![b](b.png)'))).toEqual([
      'docs/a.md',
      'b.png',
    ]);
    expect(brokenLink('README.md', '../shared/PRODUCT.md')).toBe('leads outside the repository');
    expect(brokenLink('README.md', 'docs/nothing-here.md')).toBe('names no file');
    expect(brokenLink('README.md', 'https://example.com/x')).toBeNull();
  });

  it('lead to files of the repository', () => {
    const broken: string[] = [];
    for (const file of files) {
      const text = readFileSync(join(root, file), 'utf8');
      for (const href of linksOf(new Lexer().lex(text))) {
        const why = brokenLink(file, href);
        if (why) broken.push(`${file}: ${href} ${why}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
