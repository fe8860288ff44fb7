// Who is in a Slack user group (cached briefly), for approver and operator checks.
import type { SlackPoster } from './slack-client.js';

/**
 * Who is who: config lists hold user ids (`U…`/`W…`) and user-group ids (`S…`); groups are
 * expanded with usergroups.users.list and cached for a minute.
 */
export class Directory {
  private cache = new Map<string, { users: Set<string>; at: number }>();

  constructor(private readonly poster: SlackPoster) {}

  async contains(list: readonly string[], user: string): Promise<boolean> {
    if (list.includes(user)) return true;
    for (const id of list.filter((x) => x.startsWith('S'))) {
      if ((await this.groupMembers(id)).has(user)) return true;
    }
    return false;
  }

  private async groupMembers(group: string): Promise<Set<string>> {
    const hit = this.cache.get(group);
    if (hit && Date.now() - hit.at < 60_000) return hit.users;
    const res = await this.poster.call('usergroups.users.list', () =>
      this.poster.client.usergroups.users.list({ usergroup: group }),
    );
    const users = new Set(res.users ?? []);
    this.cache.set(group, { users, at: Date.now() });
    return users;
  }
}
