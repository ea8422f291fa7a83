/**
 * Dependencies point one way: core ← machines ← engine → actors, and only the
 * CLI reaches the CLI. This test reads every import in machines/, actors/ and
 * src/ (static `import … from`, `export … from`, dynamic `import('…')` and
 * `import('…')` types) and fails listing each one that breaks a rule.
 *
 * To add a rule, add a row to RULES. A target is a repo folder ending in `/`
 * (`src/core/`), a package (`pkg:xstate`, `pkg:@modelcontextprotocol/*`, any
 * package `pkg:*`) or a Node builtin (`node:fs`, any builtin `node:*`).
 * `allow` lists all a folder may import; `forbid` lists what it must not.
 *
 * A dynamic import of a computed specifier cannot be checked and is ignored.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

interface DependencyRule {
  /** Shown with every violation. */
  rule: string;
  /** Folder whose files the rule covers; `*` for every scanned file. */
  files: string;
  /** Folder exempt from the rule. */
  except?: string;
  allow?: string[];
  forbid?: string[];
}

const RULES: DependencyRule[] = [
  { rule: 'core imports nothing outside src/core', files: 'src/core/', allow: ['src/core/'] },
  {
    // src/workflow and src/planning are pure (no I/O): a planner's task list is checked like the
    // file's, and a machine groups tasks with the same functions `explain` uses.
    rule: 'machines import only xstate, src/core, src/workflow, src/planning and machines',
    files: 'machines/',
    allow: ['pkg:xstate', 'src/core/', 'src/workflow/', 'src/planning/', 'machines/'],
  },
  {
    rule: 'actors import only src/core, actors, packages and node builtins',
    files: 'actors/',
    allow: ['src/core/', 'actors/', 'pkg:*', 'node:*'],
  },
  {
    rule: 'workflow never imports machines, actors, engine or cli',
    files: 'src/workflow/',
    forbid: ['machines/', 'actors/', 'src/engine/', 'src/cli/'],
  },
  { rule: 'only src/cli imports src/cli', files: '*', except: 'src/cli/', forbid: ['src/cli/'] },
];

const SCANNED_FOLDERS = ['machines', 'actors', 'src'];
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface SourceFile {
  /** Repo-relative, `/`-separated. */
  path: string;
  text: string;
}

/** An import specifier seen from the repo: a local path, a package or a builtin. */
type Dependency = { kind: 'local'; path: string } | { kind: 'package'; name: string } | { kind: 'builtin'; name: string };

const BUILTINS = new Set(builtinModules);

function resolveDependency(importer: string, specifier: string): Dependency {
  if (specifier.startsWith('.') || specifier.startsWith('/')) {
    return { kind: 'local', path: posix.normalize(posix.join(posix.dirname(importer), specifier)) };
  }
  if (specifier.startsWith('node:')) return { kind: 'builtin', name: specifier.slice('node:'.length).split('/')[0]! };
  const [first = '', second = ''] = specifier.split('/');
  if (BUILTINS.has(first)) return { kind: 'builtin', name: first };
  return { kind: 'package', name: first.startsWith('@') ? `${first}/${second}` : first };
}

function matches(dependency: Dependency, target: string): boolean {
  if (target.startsWith('pkg:')) {
    const pattern = target.slice('pkg:'.length);
    if (dependency.kind !== 'package') return false;
    if (pattern === '*') return true;
    return pattern.endsWith('/*') ? dependency.name.startsWith(pattern.slice(0, -1)) : dependency.name === pattern;
  }
  if (target.startsWith('node:')) {
    const name = target.slice('node:'.length);
    return dependency.kind === 'builtin' && (name === '*' || dependency.name === name);
  }
  // `src/core` itself (an index import) counts as inside `src/core/`.
  return dependency.kind === 'local' && `${dependency.path}/`.startsWith(target);
}

function appliesTo(rule: DependencyRule, path: string): boolean {
  if (rule.except && path.startsWith(rule.except)) return false;
  return rule.files === '*' || path.startsWith(rule.files);
}

/** Every module specifier a file names, in source order. */
function listImports(file: SourceFile): string[] {
  const source = ts.createSourceFile(file.path, file.text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const specifiers: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      specifiers.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [argument] = node.arguments;
      if (argument && ts.isStringLiteralLike(argument)) specifiers.push(argument.text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      specifiers.push(node.argument.literal.text);
    } else if (
      ts.isImportEqualsDeclaration(node) &&
      ts.isExternalModuleReference(node.moduleReference) &&
      ts.isStringLiteral(node.moduleReference.expression)
    ) {
      specifiers.push(node.moduleReference.expression.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specifiers;
}

/** `file → import (rule)` for every import that breaks a rule. */
function findViolations(files: SourceFile[], rules: DependencyRule[] = RULES): string[] {
  const violations: string[] = [];
  for (const file of files) {
    for (const specifier of listImports(file)) {
      const dependency = resolveDependency(file.path, specifier);
      for (const rule of rules) {
        if (!appliesTo(rule, file.path)) continue;
        const allowed = !rule.allow || rule.allow.some((target) => matches(dependency, target));
        const forbidden = rule.forbid?.some((target) => matches(dependency, target)) ?? false;
        if (!allowed || forbidden) violations.push(`${file.path} → ${specifier} (${rule.rule})`);
      }
    }
  }
  return violations;
}

function readSourceFiles(): SourceFile[] {
  const files: SourceFile[] = [];
  const walk = (folder: string): void => {
    let entries;
    try {
      entries = readdirSync(posix.join(REPO_ROOT, folder), { withFileTypes: true });
    } catch {
      return; // a folder that does not exist yet has nothing to check
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const path = `${folder}/${entry.name}`;
      if (entry.isDirectory() && entry.name !== 'node_modules') walk(path);
      else if (entry.isFile() && /\.[mc]?tsx?$/.test(entry.name)) files.push({ path, text: readFileSync(posix.join(REPO_ROOT, path), 'utf8') });
    }
  };
  for (const folder of SCANNED_FOLDERS) walk(folder);
  return files;
}

describe('dependency rules', () => {
  it('every import in machines/, actors/ and src/ points the allowed way', () => {
    const files = readSourceFiles();
    // Guard against a scan that silently finds nothing.
    expect(files.some((file) => file.path.startsWith('src/core/'))).toBe(true);

    const violations = findViolations(files);
    expect(violations, `dependency rules broken:\n  ${violations.join('\n  ')}\n`).toEqual([]);
  });

  describe('the checker', () => {
    const check = (path: string, text: string) => findViolations([{ path, text }]);

    it.each([
      ['static import', `import { x } from '../actors/server.actor.js';`],
      ['type-only import', `import type { X } from '../actors/server.actor.js';`],
      ['side-effect import', `import '../actors/server.actor.js';`],
      ['re-export', `export { x } from '../actors/server.actor.js';`],
      ['star re-export', `export * from '../actors/server.actor.js';`],
      ['dynamic import', `const m = await import('../actors/server.actor.js');`],
      ['typeof import() type', `type M = typeof import('../actors/server.actor.js');`],
    ])('sees a %s', (_kind, text) => {
      expect(check('machines/x.machine.ts', text)).toEqual([
        'machines/x.machine.ts → ../actors/server.actor.js (machines import only xstate, src/core, src/workflow, src/planning and machines)',
      ]);
    });

    it('ignores imports inside comments and strings', () => {
      const text = `// import '../actors/a.js'\nconst s = "import('../actors/a.js')";\n/* export * from '../actors/a.js' */`;
      expect(check('machines/x.machine.ts', text)).toEqual([]);
    });

    it.each([
      ['src/core/a.ts', `import { z } from 'zod';`],
      ['src/core/a.ts', `import type { AnyActorRef } from 'xstate';`],
      ['src/core/a.ts', `import { readFile } from 'node:fs/promises';`],
      ['src/core/a.ts', `import { x } from '../workflow/parse.js';`],
      ['machines/a.machine.ts', `import { Client } from '@modelcontextprotocol/sdk/client/index.js';`],
      ['machines/a.machine.ts', `import { spawn } from 'node:child_process';`],
      ['machines/a.machine.ts', `import { spawn } from 'child_process';`],
      ['machines/a.machine.ts', `import { run } from '../src/engine/run.js';`],
      ['machines/a.machine.ts', `import { createServer } from '../src/cli/main.js';`],
      ['actors/a.actor.ts', `import { sequentialMachine } from '../machines/sequential.machine.js';`],
      ['actors/a.actor.ts', `import { run } from '../src/engine/run.js';`],
      ['actors/a.actor.ts', `import { main } from '../src/cli/main.js';`],
      ['src/workflow/a.ts', `import { sequentialMachine } from '../../machines/sequential.machine.js';`],
      ['src/workflow/a.ts', `import { serverActor } from '../../actors/server.actor.js';`],
      ['src/workflow/a.ts', `import { run } from '../engine/run.js';`],
      ['src/engine/run.ts', `import { main } from '../cli/main.js';`],
    ])('rejects %s → %s', (path, text) => {
      const violations = check(path, text);
      expect(violations.length).toBeGreaterThan(0);
      for (const violation of violations) expect(violation).toMatch(new RegExp(`^${path} → \\S+ \\(.+\\)$`));
    });

    it.each([
      ['src/core/a.ts', `import type { ErrorInfo } from './errors.js';`],
      ['machines/a.machine.ts', `import { setup } from 'xstate';`],
      ['machines/a.machine.ts', `import type { ErrorInfo } from '../src/core/errors.js';`],
      ['machines/a.machine.ts', `import { serverPlaceholder } from './server-placeholder.js';`],
      ['actors/a.actor.ts', `import { Client } from '@modelcontextprotocol/sdk/client/index.js';`],
      ['actors/a.actor.ts', `import { spawn } from 'node:child_process';`],
      ['actors/a.actor.ts', `import type { ServerSpec } from '../src/core/workflow.js';`],
      ['src/workflow/a.ts', `import { parse } from 'yaml';`],
      ['src/cli/main.ts', `import { run } from '../engine/run.js';`],
      ['src/cli/main.ts', `import { usage } from './usage.js';`],
    ])('accepts %s → %s', (path, text) => {
      expect(check(path, text)).toEqual([]);
    });
  });
});
