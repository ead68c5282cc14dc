#!/usr/bin/python3
"""Run one command and measure it, for bench/run-scan.

  procmon.py [--uid U] [--interval S] [--label L] -- COMMAND ...

Prints "metric LABEL key=value ..." lines on stdout (the command's stdout and stderr go to
LABEL.out / LABEL.err in the current directory):
  wall_s            wall time from start to exit
  user_s, sys_s     CPU time of the process (and its waited-for children), from wait4's rusage:
                    microsecond resolution, unlike /usr/bin/time's 10 ms
  maxrss_kb         peak resident set size (rusage ru_maxrss)
  fds_max           most file descriptors open at once (/proc/PID/fd, sampled every --interval)
  sockets_max       most sockets open at once
  fds_between_rounds, sockets_between_rounds
                    descriptors open 0.5 s after each "next round in" line on stderr (the scan
                    engine has finished a round and closed its links: what is still open then is
                    what the process holds between rounds), comma-separated, one per gap
  rss_between_rounds_kb   VmRSS at the same moments
  exit              exit status
The command runs under uid U (setpriv) when given: the test network's client uids are inside its
loopback-only safety rules.
"""
import argparse
import os
import subprocess
import sys
import threading
import time


def fd_counts(pid):
    fds = socks = 0
    try:
        for name in os.listdir("/proc/%d/fd" % pid):
            fds += 1
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, name)).startswith("socket:"):
                    socks += 1
            except OSError:
                pass
    except OSError:
        return None
    return fds, socks


def vmrss(pid):
    try:
        for line in open("/proc/%d/status" % pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def fd_listing(pid):
    out = []
    try:
        for name in sorted(os.listdir("/proc/%d/fd" % pid), key=int):
            try:
                out.append("%s->%s" % (name, os.readlink("/proc/%d/fd/%s" % (pid, name))))
            except OSError:
                pass
    except OSError:
        pass
    return " ".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uid", type=int)
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--label", default="run")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        ap.error("no command")
    if a.uid is not None:
        cmd = ["setpriv", "--reuid=%d" % a.uid, "--regid=%d" % a.uid, "--clear-groups"] + cmd
    out = open(a.label + ".out", "wb")
    err = open(a.label + ".err", "wb")
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    pid = p.pid      # setpriv execs the command: same pid
    state = {"fds_max": 0, "sockets_max": 0, "between": [], "done": False}

    def snapshot_later():
        time.sleep(0.5)
        c = fd_counts(pid)
        if c is not None:
            state["between"].append((c[0], c[1], vmrss(pid) or 0, fd_listing(pid)))

    def read_stderr():
        for line in p.stderr:
            err.write(line)
            err.flush()
            if b"next round in" in line:
                threading.Thread(target=snapshot_later, daemon=True).start()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    status = None
    while status is None:
        c = fd_counts(pid)
        if c is not None:
            state["fds_max"] = max(state["fds_max"], c[0])
            state["sockets_max"] = max(state["sockets_max"], c[1])
        r = os.wait4(pid, os.WNOHANG)
        if r[0] == pid:
            status, ru = r[1], r[2]
            break
        time.sleep(a.interval)
    wall = time.monotonic() - t0
    reader.join(5)
    p.returncode = os.waitstatus_to_exitcode(status)
    between = state["between"]
    print("metric %s wall_s=%.3f user_s=%.4f sys_s=%.4f cpu_s=%.4f maxrss_kb=%d fds_max=%d sockets_max=%d "
          "fds_between_rounds=%s sockets_between_rounds=%s rss_between_rounds_kb=%s exit=%d"
          % (a.label, wall, ru.ru_utime, ru.ru_stime, ru.ru_utime + ru.ru_stime, ru.ru_maxrss,
             state["fds_max"], state["sockets_max"],
             ",".join(str(b[0]) for b in between) or "-", ",".join(str(b[1]) for b in between) or "-",
             ",".join(str(b[2]) for b in between) or "-", p.returncode), flush=True)
    for i, b in enumerate(between):
        print("# %s fds after round %d: %s" % (a.label, i + 1, b[3]), flush=True)


main()
