// Browser processes, read from /proc: the Firefox and WebKit drivers find (and kill) them there.
import { readdirSync, readFileSync } from "node:fs";

interface ProcessEntry {
  readonly pid: number;
  readonly ppid: number;
  /** The kernel's name for it (at most 15 characters). */
  readonly name: string;
}

/** Every process this user can see. */
function processes(): ProcessEntry[] {
  const found: ProcessEntry[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // `pid (name) state ppid …`: the name may hold spaces and parentheses, so cut at the last ")".
      const close = stat.lastIndexOf(")");
      const name = stat.slice(stat.indexOf("(") + 1, close);
      found.push({ pid: Number(entry), ppid: Number(stat.slice(close + 2).split(" ")[1]), name });
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

/** The descendants of `root` whose name passes `matches`. */
export function descendantsNamed(root: number, matches: (name: string) => boolean): Set<number> {
  const all = processes();
  const parentOf = new Map(all.map((entry) => [entry.pid, entry.ppid]));
  const descends = (pid: number) => {
    for (let current = parentOf.get(pid), depth = 0; current !== undefined && depth < 8; depth++) {
      if (current === root) return true;
      current = parentOf.get(current);
    }
    return false;
  };
  return new Set(all.filter((entry) => matches(entry.name) && descends(entry.pid)).map((entry) => entry.pid));
}

/**
 * Firefox's content processes that hold web pages ("Web Content", or "Isolated Web Co…" with site
 * isolation), among the descendants of the browser's process (they are forked by its fork server).
 */
export function webContentProcesses(browserPid: number): Set<number> {
  return descendantsNamed(browserPid, (name) => name === "Web Content" || name.startsWith("Isolated Web"));
}
