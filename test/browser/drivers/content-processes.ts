// Firefox's web content processes, read from /proc: the Firefox driver kills a page's process to crash it.
import { readdirSync, readFileSync } from "node:fs";

/** The process's parent and name, or undefined when it is gone or unreadable. */
function statOf(pid: number): { ppid: number; name: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // `pid (name) state ppid …`: the name may hold spaces and parentheses, so cut at the last ")".
    const close = stat.lastIndexOf(")");
    const name = stat.slice(stat.indexOf("(") + 1, close);
    const ppid = Number(stat.slice(close + 2).split(" ")[1]);
    return { ppid, name };
  } catch {
    return undefined;
  }
}

/**
 * Content processes that hold web pages ("Web Content", or "Isolated Web Co…" with site isolation),
 * among the descendants of the browser's process (they are forked through Firefox's fork server).
 */
export function webContentProcesses(browserPid: number): Set<number> {
  const parents = new Map<number, { ppid: number; name: string }>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = statOf(Number(entry));
    if (stat) parents.set(Number(entry), stat);
  }
  const isDescendant = (pid: number): boolean => {
    for (let current = parents.get(pid)?.ppid, depth = 0; current !== undefined && depth < 8; depth++) {
      if (current === browserPid) return true;
      current = parents.get(current)?.ppid;
    }
    return false;
  };
  const found = new Set<number>();
  for (const [pid, { name }] of parents) {
    if ((name === "Web Content" || name.startsWith("Isolated Web")) && isDescendant(pid)) found.add(pid);
  }
  return found;
}
