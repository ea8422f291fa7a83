/**
 * How a server's command line or URL appears in error messages: with every
 * value that looks like a secret replaced by `***`.
 *
 * Error messages end up in terminals, CI logs, reports and in front of an
 * LLM; servers are often given tokens as arguments (`--api-key sk-…`,
 * `https://user:pass@host`, `?token=…`). The program and ordinary arguments
 * (paths, flags, package names) stay, because they are what tells a person
 * which server failed and why.
 *
 * @example
 * describeCommand('npx', ['-y', 'server-github', '--token', 'ghp_abc123def456ghi789'])
 * // 'npx -y server-github --token ***'
 */

/** A name that says its value is secret: `--api-key`, `GITHUB_TOKEN`, `password`. */
const SECRET_NAME = /(?:token|secret|passw(?:or)?d|pwd|api[-_]?key|apikey|auth|credential|private[-_]?key|access[-_]?key|session|cookie|bearer)/i;

/** `name=value` or `name: value` inside one argument, where the name says it is secret. */
const SECRET_ASSIGNMENT = /([A-Za-z0-9_.-]*(?:token|secret|passw(?:or)?d|pwd|api[-_]?key|apikey|auth|credential|private[-_]?key|access[-_]?key|session|cookie)[A-Za-z0-9_.-]*)(\s*[=:]\s*)(?:(?:Bearer|Basic|Token)\s+)?("[^"]*"|'[^']*'|[^\s&"']+)/gi;

/** Shapes of well-known tokens: OpenAI/Anthropic/Stripe keys, GitHub, GitLab, Slack, AWS, JWTs. */
const TOKEN_SHAPES = [
  /\b(?:sk|pk|rk)[-_][A-Za-z0-9_-]{8,}/g,
  /\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{8,}/g,
  /\bgithub_pat_[A-Za-z0-9_]{8,}/g,
  /\bglpat-[A-Za-z0-9_-]{8,}/g,
  /\bxox[abposr]-[A-Za-z0-9-]{8,}/g,
  /\b(?:AKIA|ASIA)[A-Z0-9]{12,}/g,
  /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g,
];

/** A long run of letters and digits with no path or word structure: most likely a key. */
const OPAQUE_VALUE = /^(?=[^\s]*\d)(?=[^\s]*[A-Za-z])[A-Za-z0-9_+=-]{32,}$/;

/** Userinfo in a URL (`https://user:secret@host`). */
const URL_USERINFO = /(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi;

const MASK = '***';

/** Longest argument shown whole; past it, an argument (an inline script, say) is cut. */
const MAX_ARG_CHARS = 120;

/** The command and its arguments, secrets masked, for an error message. */
export function describeCommand(command: string, args: readonly string[]): string {
  // Cut before masking: the patterns then only ever scan a short string.
  const shown: string[] = [redactSecrets(shortenArg(command))];
  for (const [index, arg] of args.entries()) {
    const previous = index > 0 ? args[index - 1] : undefined;
    // `--token xyz`: the value of a flag whose name says it is secret.
    if (previous !== undefined && /^-{1,2}[^=\s]+$/.test(previous) && SECRET_NAME.test(previous) && !arg.startsWith('-')) {
      shown.push(MASK);
      continue;
    }
    const short = shortenArg(arg);
    shown.push(OPAQUE_VALUE.test(short) ? MASK : redactSecrets(short));
  }
  return shown.join(' ');
}

/** A URL with its userinfo and secret-looking query values masked. */
export function describeUrl(url: string): string {
  return redactSecrets(url.length > 2 * MAX_ARG_CHARS ? `${url.slice(0, 2 * MAX_ARG_CHARS)}…` : url);
}

/** Masks secret-looking values anywhere in a piece of text. */
export function redactSecrets(text: string): string {
  let out = text.replace(URL_USERINFO, `$1${MASK}@`);
  out = out.replace(SECRET_ASSIGNMENT, (_match, name: string, separator: string) => `${name}${separator}${MASK}`);
  out = out.replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g, `$1 ${MASK}`);
  for (const shape of TOKEN_SHAPES) out = out.replace(shape, MASK);
  return out;
}

function shortenArg(arg: string): string {
  return arg.length > MAX_ARG_CHARS ? `${arg.slice(0, MAX_ARG_CHARS)}…` : arg;
}
