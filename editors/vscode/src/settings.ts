/**
 * VS Code's `letta.*` settings turned into the settings object of SPEC section 9, which the server
 * receives as `initializationOptions` and as the `letta` section of `workspace/configuration`.
 *
 * Only values the user actually set are sent (unset ones are left out, not sent as VS Code's
 * defaults), so a setting kept in `$LETTA_LS_HOME/settings.json` (for instance the sleep-time trigger
 * that `Letta: Sleep-time Settings` writes there) is not overridden by a default. The extension's own
 * settings (`letta.server.*`, `letta.trace.*`) never reach the server.
 */

export interface LettaSettings {
  home: string | null;
  agent: string | null;
  model: {
    provider: string | null;
    name: string | null;
    baseUrl: string | null;
    apiKeyEnv: string | null;
    contextWindow: number | null;
    maxOutputTokens: number | null;
  };
  sleeptime: { trigger: string | null; stepCount: number | null; idleSeconds: number | null; merge: string | null };
  memory: { systemTokenBudget: number | null; fileTokenLimit: number | null; diagnostics: Record<string, string> | null };
  sync: { remote: string | null };
}

/** Returns the value the user set for `letta.<key>` (any scope), or undefined when it was left alone. */
export type ExplicitSetting = (key: string) => unknown;

function text(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

function number(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function record(value: unknown): Record<string, string> | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return null;
  }
  const out: Record<string, string> = {};
  for (const [key, level] of Object.entries(value as Record<string, unknown>)) {
    if (typeof level === 'string') {
      out[key] = level;
    }
  }
  return out;
}

/** A JSON object without its null members and without the objects that end up empty. */
export function pruned(value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) {
    if (member === null || member === undefined) {
      continue;
    }
    if (typeof member === 'object' && !Array.isArray(member)) {
      const inner = pruned(member as Record<string, unknown>);
      if (Object.keys(inner).length > 0) {
        out[key] = inner;
      }
      continue;
    }
    out[key] = member;
  }
  return out;
}

/** The settings to send: SPEC section 9's shape, holding only what the user set. */
export function lettaSettings(explicit: ExplicitSetting): Record<string, unknown> {
  return pruned(allSettings(explicit) as unknown as Record<string, unknown>);
}

export function allSettings(explicit: ExplicitSetting): LettaSettings {
  return {
    home: text(explicit('home')),
    agent: text(explicit('agent')),
    model: {
      provider: text(explicit('model.provider')),
      name: text(explicit('model.name')),
      baseUrl: text(explicit('model.baseUrl')),
      apiKeyEnv: text(explicit('model.apiKeyEnv')),
      contextWindow: number(explicit('model.contextWindow')),
      maxOutputTokens: number(explicit('model.maxOutputTokens')),
    },
    sleeptime: {
      trigger: text(explicit('sleeptime.trigger')),
      stepCount: number(explicit('sleeptime.stepCount')),
      idleSeconds: number(explicit('sleeptime.idleSeconds')),
      merge: text(explicit('sleeptime.merge')),
    },
    memory: {
      systemTokenBudget: number(explicit('memory.systemTokenBudget')),
      fileTokenLimit: number(explicit('memory.fileTokenLimit')),
      diagnostics: record(explicit('memory.diagnostics')),
    },
    sync: { remote: text(explicit('sync.remote')) },
  };
}

/** Settings whose change needs a new server process rather than `workspace/didChangeConfiguration`. */
export const RESTART_SETTINGS = [
  'letta.server.command', 'letta.server.tcp', 'letta.server.tokenFile', 'letta.home',
] as const;

