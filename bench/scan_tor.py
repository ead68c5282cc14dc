#!/usr/bin/python3
"""The peer of `exitprobe scan` for bench/run-scan: Debian's tor as a client on the local test
network, driven with stem, does for each exit what exitprobe does: a 2-hop circuit (first hop, exit),
one stream to TARGET:PORT attached to it by hand, the service's greeting read with a deadline.

  scan_tor.py --dirauth FILE --workdir DIR --uid U --socks-port P --control-port P
              --exits-file FILE --first-hop FP [--first-hop FP ...]
              [--target 127.0.0.1] [--port 25] [--timeout 5] [--repeat K[,K...]] [--idle 5]

--exits-file: "NICKNAME FINGERPRINT" lines. Every exit is probed K times (--repeat), all at once (one
thread per probe), first hops taken in turn, as exitprobe's scan does. --repeat 1,10 runs two probing
phases with the same tor: every exit once, then every exit 10 times.

Per probe (a thread): controller.new_circuit([first, exit], await_build=True); a SOCKS5 CONNECT to
TARGET:PORT whose stream tor leaves unattached (__LeaveStreamsUnattached 1) and we attach to the
circuit (controller.attach_stream, from the STREAM NEW event matched by the SOCKS source port); the
SOCKS reply within --timeout; then the first line of the greeting within --timeout. A stream the
exit ENDs before CONNECTED is DETACHED by tor (it would retry it elsewhere); we close it
(controller.close_stream) and record the END reason. Finally the circuit is closed.

Printed, per probing phase ("metric tor_xK key=value ..."):
  probes, wall_s          probes done and the wall time of the probing phase (first circuit asked to
                          last result)
  tor_cpu_s               tor's CPU time (utime+stime from /proc, 10 ms ticks) over the probing phase
  tor_idle_cpu_s_per_s    tor's CPU per second while idle (--idle seconds measured before probing,
                          directory fetches of a test network that votes every 10 s included)
  tor_cpu_net_s           tor_cpu_s less the idle rate times wall_s
  py_cpu_s                this driver's CPU time (all threads: stem's parsing of control replies
                          and events, the SOCKS sockets) over the probing phase
  bootstrap_s, tor_bootstrap_cpu_s   start to enough directory info (not part of the per-probe cost)
  tor_maxrss_kb           tor's peak RSS (VmHWM)
and one "probe" line per probe (exit, class, detail), "classes" with their counts.
"""
import argparse
import os
import queue
import resource
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

import stem
import stem.control
from stem.control import EventType

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    """utime + stime of a process, in seconds (10 ms resolution)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def proc_cpu_ns(pid):
    """CPU time of all of a process's threads in seconds, from /proc/PID/task/*/schedstat (the
    scheduler's nanosecond run time: /proc/PID/stat counts 10 ms ticks). Threads that exited are lost:
    tor's are long-lived."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e9


def proc_hwm(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def my_cpu():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


class Prober:
    def __init__(self, ctl, socks_port, target, port, timeout):
        self.ctl = ctl
        self.socks_port = socks_port
        self.target = target
        self.port = port
        self.timeout = timeout
        self.lock = threading.Lock()
        self.by_src = {}        # SOCKS source port -> probe dict
        self.by_stream = {}     # stream id -> probe dict
        self.work = queue.Queue()
        ctl.add_event_listener(self.on_stream, EventType.STREAM)
        threading.Thread(target=self.worker, daemon=True).start()

    def on_stream(self, ev):
        # Runs in stem's event thread: never call the controller here (a reply could not be read
        # while this thread is busy), hand the work to self.worker.
        self.work.put(ev)

    def worker(self):
        while True:
            ev = self.work.get()
            if ev is None:
                return
            try:
                self.handle(ev)
            except Exception as e:  # noqa: BLE001 - a failed attach is recorded, not fatal
                with self.lock:
                    p = self.by_stream.get(ev.id)
                if p is not None:
                    p["events"].append("error %s" % e)

    def handle(self, ev):
        with self.lock:
            if ev.status == "NEW" and ev.source_port in self.by_src:
                p = self.by_src[ev.source_port]
                self.by_stream[ev.id] = p
            else:
                p = self.by_stream.get(ev.id)
        if p is None:
            return
        p["events"].append((round(time.monotonic() - p["t0"], 3), ev.status, ev.remote_reason or ev.reason))
        if ev.status == "NEW":
            p["stream"] = ev.id
            self.ctl.attach_stream(ev.id, p["circ"])
        elif ev.status in ("DETACHED", "FAILED") and not p.get("connected"):
            # The exit refused (END before CONNECTED): tor would try another circuit; we stop here.
            p["end"] = ev.remote_reason or ev.reason
            try:
                self.ctl.close_stream(ev.id)
            except stem.ControllerError:
                pass

    def probe(self, first, exit_fp, nick, out, ports=None):
        """One circuit through first and exit_fp; one stream (and check) per port on it, one after the
        other (ports: default [self.port]); one probe dict per port appended to out."""
        t0 = time.monotonic()
        ps = [{"exit": nick, "events": [], "t0": t0, "port": port} for port in (ports or [self.port])]
        out.extend(ps)
        try:
            circ = self.ctl.new_circuit([first, exit_fp], await_build=True, timeout=20)
        except (stem.ControllerError, stem.Timeout) as e:
            for p in ps:
                p["class"], p["detail"] = "circuit-failed", str(e)[:80]
            return
        circuit_ms = int((time.monotonic() - t0) * 1000)
        try:
            for p in ps:
                p["circ"], p["circuit_ms"] = circ, circuit_ms
                p["t0"] = time.monotonic() - circuit_ms / 1000   # the check times its wait from here
                self.stream(p)
        finally:
            try:
                self.ctl.close_circuit(circ)
            except stem.ControllerError:
                pass

    def stream(self, p):
        s = socket.create_connection(("127.0.0.1", self.socks_port), timeout=self.timeout)
        try:
            s.sendall(b"\x05\x01\x00")
            if s.recv(2) != b"\x05\x00":
                p["class"], p["detail"] = "socks-error", "method"
                return
            with self.lock:
                self.by_src[s.getsockname()[1]] = p
            s.sendall(b"\x05\x01\x00\x01" + socket.inet_aton(self.target) + struct.pack(">H", p["port"]))
            s.settimeout(self.timeout)
            try:
                rep = s.recv(10)
            except socket.timeout:
                p["class"], p["detail"] = "timeout", "no answer to BEGIN before our deadline"
                return
            if len(rep) < 2 or rep[1] != 0:
                p["class"] = "connect-failed" if p.get("end") else "failed"
                p["detail"] = "END %s" % p.get("end") if p.get("end") else "SOCKS reply %r" % rep[:2]
                return
            p["connected"] = True
            self.check(s, p)
        finally:
            s.close()

    @staticmethod
    def read_until(s, end, limit):
        """Reads from s until `end` is in what was read, EOF, `limit` bytes, or the socket's timeout."""
        buf = b""
        try:
            while end not in buf and len(buf) < limit:
                d = s.recv(4096)
                if not d:
                    break
                buf += d
        except OSError:     # socket.timeout included
            pass
        return buf

    def check(self, s, p):
        """The service check on the connected stream s (bench/svc_tor.py has others): the greeting's
        first line; sets p["class"] and p["detail"]."""
        buf = self.read_until(s, b"\n", 1024)
        if not buf:
            # Nothing: closed (EOF) or silent (deadline); tell them apart by the time taken.
            waited = time.monotonic() - p["t0"] - p["circuit_ms"] / 1000
            p["class"] = "silent" if waited >= self.timeout * 0.9 else "closed"
            p["detail"] = "CONNECTED, no greeting"
        else:
            line = buf.split(b"\n", 1)[0].decode("latin-1").rstrip("\r")
            p["class"] = "reachable" if line.startswith("220") else "reachable-unexpected"
            p["detail"] = "greeting %r" % line[:40]

    def stop(self):
        self.work.put(None)


def start_tor(a):
    shutil.rmtree(a.workdir, ignore_errors=True)
    data = os.path.join(a.workdir, "data")
    os.makedirs(data)
    for d in (a.workdir, data):
        os.chown(d, a.uid, a.uid)
    os.chmod(data, 0o700)
    empty = os.path.join(a.workdir, "empty-geoip")
    open(empty, "w").close()
    os.chmod(empty, 0o644)
    torrc = os.path.join(a.workdir, "torrc")
    with open(torrc, "w") as f:
        f.write("""TestingTorNetwork 1
DataDirectory {d}
Log notice file {w}/notice.log
SafeLogging 0
SocksPort 127.0.0.1:{s}
ControlPort 127.0.0.1:{c}
__LeaveStreamsUnattached 1
__DisablePredictedCircuits 1
GeoIPFile {e}
GeoIPv6File {e}
ClientUseIPv6 0
{auth}""".format(d=data, w=a.workdir, s=a.socks_port, c=a.control_port, e=empty,
                 auth=open(a.dirauth).read()))
    os.chmod(torrc, 0o644)
    return subprocess.Popen(["setpriv", "--reuid=%d" % a.uid, "--regid=%d" % a.uid, "--clear-groups",
                             "tor", "-f", torrc, "--defaults-torrc", "/dev/null"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": a.workdir})


def bootstrap(a, tor):
    """Connects to tor's control port, waits for enough directory info, measures tor's idle CPU rate.
    Returns (controller, bootstrap_s, tor_bootstrap_cpu_s, idle_rate)."""
    t0 = time.monotonic()
    ctl = None
    while ctl is None:
        try:
            ctl = stem.control.Controller.from_port(address="127.0.0.1", port=a.control_port)
        except stem.SocketError:
            if tor.poll() is not None or time.monotonic() - t0 > 30:
                raise SystemExit("scan_tor: tor did not open its control port")
            time.sleep(0.2)
    ctl.authenticate()
    while True:
        # __DisablePredictedCircuits: the client builds no circuit of its own and stops at 75%
        # (enough directory info), which is all we need.
        phase = ctl.get_info("status/bootstrap-phase")
        prog = [int(x.split("=")[1]) for x in phase.split() if x.startswith("PROGRESS=")]
        if prog and prog[0] >= 75:
            break
        if time.monotonic() - t0 > 90:
            raise SystemExit("scan_tor: bootstrap stuck: %s" % phase)
        time.sleep(0.2)
    boot_s = time.monotonic() - t0
    boot_cpu = proc_cpu(tor.pid)
    # Idle rate: tor alone, no probes.
    c0, w0 = proc_cpu(tor.pid), time.monotonic()
    time.sleep(a.idle)
    idle_rate = (proc_cpu(tor.pid) - c0) / (time.monotonic() - w0)
    return ctl, boot_s, boot_cpu, idle_rate


def with_tor(a, body):
    """Starts tor (start_tor), runs body(a, tor), and always stops tor."""
    tor = start_tor(a)
    try:
        body(a, tor)
    finally:
        tor.terminate()
        try:
            tor.wait(10)
        except subprocess.TimeoutExpired:
            tor.kill()
            tor.wait()


def run(a, tor):
    ctl, boot_s, boot_cpu, idle_rate = bootstrap(a, tor)
    exits = [ln.split() for ln in open(a.exits_file) if ln.strip() and not ln.startswith("#")]
    prober = Prober(ctl, a.socks_port, a.target, a.port, a.timeout)
    for k in [int(x) for x in a.repeat.split(",")]:
        probe_set(a, tor, prober, [(nick, fp) for _ in range(k) for nick, fp in exits], k, idle_rate, boot_s,
                  boot_cpu)
    prober.stop()
    ctl.close()


def probe_set(a, tor, prober, jobs, k, idle_rate, boot_s, boot_cpu):
    """Probe every job at once (one thread each); print the results and the metric line."""
    results = []
    tor_c0, py_c0, w0 = proc_cpu(tor.pid), my_cpu(), time.monotonic()
    threads = []
    for i, (nick, fp) in enumerate(jobs):
        th = threading.Thread(target=prober.probe, args=(a.first_hop[i % len(a.first_hop)], fp, nick, results))
        th.start()
        threads.append(th)
    for th in threads:
        th.join()
    wall = time.monotonic() - w0
    tor_cpu, py_cpu = proc_cpu(tor.pid) - tor_c0, my_cpu() - py_c0
    hwm = proc_hwm(tor.pid)
    classes = {}
    for p in results:
        if p.get("class") == "failed":
            # The SOCKS failure reply can come before we have seen the stream's FAILED event.
            ends = [e[2] for e in p["events"] if isinstance(e, tuple) and e[1] in ("DETACHED", "FAILED") and e[2]]
            if ends:
                p["class"], p["detail"] = "connect-failed", "END %s" % ends[0]
        classes[p.get("class", "none")] = classes.get(p.get("class", "none"), 0) + 1
        print("probe x%d %-7s %-22s %s  events %s" % (k, p["exit"], p.get("class"), p.get("detail"), p["events"]))
    print("classes x%d " % k + " ".join("%s=%d" % kv for kv in sorted(classes.items())))
    print("metric tor_x%d probes=%d wall_s=%.3f tor_cpu_s=%.3f tor_idle_cpu_s_per_s=%.4f tor_cpu_net_s=%.3f "
          "py_cpu_s=%.3f bootstrap_s=%.1f tor_bootstrap_cpu_s=%.2f tor_maxrss_kb=%d"
          % (k, len(results), wall, tor_cpu, idle_rate, max(0.0, tor_cpu - idle_rate * wall), py_cpu, boot_s,
             boot_cpu, hwm), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dirauth", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--uid", type=int, required=True)
    ap.add_argument("--socks-port", type=int, required=True)
    ap.add_argument("--control-port", type=int, required=True)
    ap.add_argument("--exits-file", required=True)
    ap.add_argument("--first-hop", action="append", required=True)
    ap.add_argument("--target", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=25)
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--repeat", default="1", help="K[,K...]: one probing phase per K, in turn")
    ap.add_argument("--idle", type=float, default=5.0)
    a = ap.parse_args()
    if not a.target.startswith("127."):
        raise SystemExit("scan_tor: the target must be in 127.0.0.0/8")
    with_tor(a, run)


if __name__ == "__main__":   # bench/svc_tor.py imports from here
    main()
