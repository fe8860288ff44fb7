// Who may reach drbot through Slack: the workspace and app every request must come from, and operators.
import { COMMANDS } from '../../../commands/index.js';

/** Where a request says it comes from (Bolt's context, else the body's own fields). */
export interface RequestOrigin {
  team: string | undefined;
  enterprise: string | undefined;
  app: string | undefined;
}

/** Reads the team, org and app ids of any Slack request body: commands, interactions, events. */
export function requestOrigin(
  body: Record<string, unknown>,
  context: { teamId?: string | undefined; enterpriseId?: string | undefined } = {},
): RequestOrigin {
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const field = (o: unknown, k: string) =>
    o && typeof o === 'object' ? str((o as Record<string, unknown>)[k]) : undefined;
  return {
    team: str(context.teamId) ?? str(body.team_id) ?? field(body.team, 'id') ?? field(body.user, 'team_id'),
    enterprise: str(context.enterpriseId) ?? str(body.enterprise_id) ?? field(body.enterprise, 'id'),
    app: str(body.api_app_id),
  };
}

/**
 * Why a request is refused, or undefined when it may proceed. Bolt checks that Slack signed a
 * request; these ids say which workspace and which app it is for. A signing secret shared by
 * another install, or an app distributed to other workspaces, would otherwise let their
 * members in. Unset keys are not checked; a set key with no id in the request refuses it.
 */
export function originRefusal(
  expected: { teamId?: string | undefined; appId?: string | undefined },
  origin: RequestOrigin,
): string | undefined {
  if (expected.teamId) {
    // An org id (E…) admits every workspace of that Enterprise Grid org; a team id (T…) one workspace.
    const got = expected.teamId.startsWith('E') ? origin.enterprise : origin.team;
    if (got !== expected.teamId)
      return `request from team ${origin.team ?? '(none)'}${origin.enterprise ? ` (org ${origin.enterprise})` : ''}, expected ${expected.teamId} (slack.teamId)`;
  }
  if (expected.appId && origin.app !== expected.appId)
    return `request for app ${origin.app ?? '(none)'}, expected ${expected.appId} (slack.appId)`;
  return undefined;
}

/** The commands anyone in the workspace may run (read-only). */
export function viewerCommands(): string[] {
  return COMMANDS.filter((c) => c.access.role === 'viewer').map((c) => c.name);
}

/**
 * The ephemeral answer to an operator command while `slack.operators` is empty. In Slack an
 * empty list refuses, rather than admits everyone (as DESIGN §4 once had it): a workspace can
 * hold thousands of members and guests, and backup, verify, test, cancel and restore requests
 * are not theirs to make by default.
 */
export function noOperatorsMessage(command: string): string {
  return [
    `/dr ${command} is an operator command, and no operators are configured, so drbot refuses it in Slack.`,
    'To allow it, list who may run operator commands in drbot’s config file and restart drbot:',
    '  slack:',
    '    operators: [U0123ABCD, S0ONCALL]   # Slack user ids and/or user-group ids',
    `Meanwhile: ${viewerCommands()
      .map((c) => `/dr ${c}`)
      .join(', ')} work for everyone, and \`drbot ${command} …\` works in a terminal on drbot’s host.`,
  ].join('\n');
}
