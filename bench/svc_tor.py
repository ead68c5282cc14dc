#!/usr/bin/python3
"""The peer of `exitprobe scan --port P` with service checks, for bench/run-services: Debian's tor as a
client on the local test network, driven with stem (bench/scan_tor.py's tor, bootstrap and stream
attachment), does for each (exit, port) the check exitprobe's src/probe/engine/svc*.c does.

  svc_tor.py --dirauth FILE --workdir DIR --uid U --socks-port P --control-port P
             --exits-file FILE --first-hop FP [--first-hop FP ...]
             [--ports 22,443] [--rounds 3] [--target 127.0.0.1] [--timeout 5] [--idle 5]

One probing phase per port, in the order given, all with the same tor (with --shared, then one phase
"shared" where each (exit, round) circuit carries one stream per port, one after the other, as exitprobe's
scan puts all ports of an exit on one circuit); each phase is --rounds rounds
back to back, and a round probes every exit of --exits-file ("NICKNAME FINGERPRINT" lines) at once
(one thread per probe, first hops in turn): a 2-hop circuit (controller.new_circuit, await_build), one
SOCKS5 CONNECT to TARGET:PORT attached to it by hand, then the check, then the circuit is closed.

The checks (as exitprobe's for the port; every read within --timeout):
  greeting ports (22 ssh, 25 smtp, 21 ftp, 110 pop3, 143 imap): the first line; reachable when it starts
      as the protocol's greeting does (SSH-, 220, +OK, * OK);
  TLS ports (443 https, 993 imaps, 995 pop3s, 465 smtps): Python's ssl module, TLS >= 1.2, no
      certificate verification, SNI = the target when it is a name (none for an address: RFC 6066 3, as
      exitprobe), session resumption as exitprobe's (below; --no-tls-resume: none); the leaf
      certificate's SHA-256 (of the resumed session's when resumed); then the inner protocol: for
      443 `HEAD / HTTP/1.1` with Host, User-Agent and Connection: close, the header read to its empty
      line (status line and Server header); for the others the greeting line.

TLS resumption, as exitprobe's scan does by default (src/probe/engine/svc_tls.c): per port one session
kept, the one of the certificate most handshakes showed (a vote), offered to every later probe; a TLS 1.2
session is offered with TLS 1.2 as the highest version (a second SSLContext: Python cannot cap one
connection, and a session only resumes through the context that made it, so after the first handshake
showed TLS 1.2 every probe uses that context).

Printed: one "probe" line per probe (port, round, exit, class, detail), "classes pPORT ...", the
distinct leaf SHA-256 seen per port ("certs pPORT sha256=count ..."), and per port
"metric tor_pPORT probes=N rounds=R wall_s= tor_cpu_s= tor_cpu_ticks_s= tor_cpu_net_s= py_cpu_s= ..."
(see scan_tor.py for the fields; wall_s and the CPU figures cover the port's R rounds, bootstrap
excluded). Here tor_cpu_s is the nanosecond run time of tor's threads (/proc/PID/task/*/schedstat);
tor_cpu_ticks_s the 10 ms ticks of /proc/PID/stat that scan_tor.py uses, for comparison. As exitprobe
does, a TLS probe whose leaf certificate is not the majority's of the port is "intercepted".
"""
import argparse
import hashlib
import ipaddress
import os
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scan_tor import Prober, bootstrap, my_cpu, proc_cpu, proc_cpu_ns, proc_hwm, with_tor  # noqa: E402

GREETING = {21: b"220", 22: b"SSH-", 25: b"220", 110: b"+OK", 143: b"* OK", 587: b"220"}
TLS = {443: None, 465: b"220", 993: b"* OK", 995: b"+OK"}     # None: HTTP HEAD


def is_address(name):
    try:
        ipaddress.ip_address(name.strip("[]"))
        return True
    except ValueError:
        return False


class SvcProber(Prober):
    """scan_tor's Prober (circuit, SOCKS stream attached by hand) with exitprobe's service checks."""

    resume = True          # set by main (--no-tls-resume)

    def __init__(self, *args):
        super().__init__(*args)

        def context(top):
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            if top is not None:
                ctx.maximum_version = top
            return ctx
        self.ctx = context(None)
        self.ctx12 = context(ssl.TLSVersion.TLSv1_2)
        self.only12 = set()      # ports where a handshake showed TLS 1.2: every probe through ctx12
        self.lock = threading.Lock()
        self.kept = {}           # port -> [session, cert, votes, the context that made it]

    def offer(self, port):
        with self.lock:
            ctx = self.ctx12 if port in self.only12 else self.ctx
            k = self.kept.get(port)
            sess = k[0] if self.resume and k and k[3] is ctx else None
            return ctx, sess

    def give_back(self, port, t, cert):
        if not self.resume:
            return
        sess = t.session
        with self.lock:
            if t.version() == "TLSv1.2" and port not in self.only12:
                self.only12.add(port)
                self.kept.pop(port, None)  # made by the other context: cannot be offered through ctx12
            if port in self.only12 and t.context is not self.ctx12:
                return                     # (probes begun before: their sessions cannot be offered)
            k = self.kept.get(port)
            same = k is not None and k[1] == cert
            if k is not None and not same:
                k[2] -= 1
                if k[2] >= 0:
                    return
            if sess is None or not sess.has_ticket and not sess.id:
                return
            self.kept[port] = [sess, cert, (k[2] + 1) if same else 1, t.context]

    def line(self, s, p, want):
        buf = self.read_until(s, b"\n", 4096)
        if not buf:
            p["class"], p["detail"] = "closed-or-silent", "CONNECTED, no greeting"
            return
        ln = buf.split(b"\n", 1)[0].rstrip(b"\r")
        p["class"] = "reachable" if ln.startswith(want) else "reachable-unexpected"
        p["detail"] = "greeting %r" % ln[:60].decode("latin-1")

    def check(self, s, p):
        port = p["port"]
        if port in GREETING:
            self.line(s, p, GREETING[port])
            return
        sni = None if is_address(self.target) else self.target
        ctx, sess = self.offer(port)
        try:
            t = ctx.wrap_socket(s, server_hostname=sni, do_handshake_on_connect=True, session=sess)
        except (ssl.SSLError, OSError) as e:
            p["class"], p["detail"] = "tls-failed", str(e)[:80]
            return
        try:
            der = t.getpeercert(binary_form=True)
            p["cert"] = hashlib.sha256(der).hexdigest() if der else "-"
            p["tls"] = t.version()
            p["resumed"] = t.session_reused
            if TLS[port] is not None:
                self.line(t, p, TLS[port])
                self.give_back(port, t, p["cert"])
                return
            t.sendall(b"HEAD / HTTP/1.1\r\nHost: %s\r\nUser-Agent: exitprobe\r\nConnection: close\r\n\r\n"
                      % self.target.encode())
            head = self.read_until(t, b"\r\n\r\n", 16384)
            lines = head.split(b"\r\n")
            if not lines[0].startswith(b"HTTP/"):
                p["class"], p["detail"] = "reachable-unexpected", "not HTTP: %r" % lines[0][:40]
                return
            server = [ln[7:].strip() for ln in lines[1:] if ln[:7].lower() == b"server:"]
            p["class"] = "reachable"
            p["detail"] = "%s%s" % (lines[0].decode("latin-1"),
                                    "; Server: " + server[0].decode("latin-1") if server else "")
            self.give_back(port, t, p["cert"])
        finally:
            try:
                t.close()
            except OSError:
                pass


def phase(a, tor, prober, ports, label, exits, idle_rate, boot_s, boot_cpu):
    """R rounds of every exit at once: one circuit per (exit, round), one stream per port of `ports` on
    it, one after the other. Prints the probes, per port the classes, certificates and resumptions, and
    one metric line "metric tor_LABEL" over all the probes."""
    prober.port = ports[0]
    results = []
    tor_c0, tor_ns0, py_c0, w0 = proc_cpu(tor.pid), proc_cpu_ns(tor.pid), my_cpu(), time.monotonic()
    for rnd in range(1, a.rounds + 1):
        out = []
        threads = [threading.Thread(target=prober.probe,
                                    args=(a.first_hop[i % len(a.first_hop)], fp, nick, out, ports))
                   for i, (nick, fp) in enumerate(exits)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        for p in out:
            p["round"] = rnd
        results += out
    wall = time.monotonic() - w0
    tor_ticks, tor_cpu, py_cpu = proc_cpu(tor.pid) - tor_c0, proc_cpu_ns(tor.pid) - tor_ns0, my_cpu() - py_c0
    for port in ports:
        mine = [p for p in results if p["port"] == port]
        classes, certs = {}, {}
        for p in mine:
            if p.get("cert"):
                certs[p["cert"]] = certs.get(p["cert"], 0) + 1
        # As exitprobe: a completed handshake with another leaf certificate than the majority's is interception.
        major = max(certs, key=certs.get) if certs else None
        for p in mine:
            if p.get("cert") and p["cert"] != major and p.get("class") == "reachable":
                p["class"] = "intercepted"
            if p.get("class") == "failed":
                ends = [e[2] for e in p["events"] if isinstance(e, tuple) and e[1] in ("DETACHED", "FAILED") and e[2]]
                if ends:
                    p["class"], p["detail"] = "connect-failed", "END %s" % ends[0]
            classes[p.get("class", "none")] = classes.get(p.get("class", "none"), 0) + 1
            print("probe %s p%d r%d %-7s %-22s %s%s" % (label, port, p["round"], p["exit"], p.get("class"),
                                                       p.get("detail"), " cert %s %s" % (p["cert"][:16], p.get("tls"))
                                                       if p.get("cert") else ""))
        tag = "p%d" % port if label == "p%d" % port else "%s-p%d" % (label, port)
        print("classes %s " % tag + " ".join("%s=%d" % kv for kv in sorted(classes.items())))
        if certs:
            print("certs %s " % tag + " ".join("%s=%d" % kv for kv in sorted(certs.items())))
            print("resumed %s %d of %d handshakes" % (tag, sum(1 for p in mine if p.get("resumed")),
                                                     sum(1 for p in mine if p.get("tls"))))
    print("metric tor_%s probes=%d rounds=%d wall_s=%.3f tor_cpu_s=%.4f tor_cpu_ticks_s=%.2f "
          "tor_idle_cpu_s_per_s=%.4f tor_cpu_net_s=%.4f py_cpu_s=%.4f bootstrap_s=%.1f tor_bootstrap_cpu_s=%.2f "
          "tor_maxrss_kb=%d" % (label, len(results), a.rounds, wall, tor_cpu, tor_ticks, idle_rate,
                                max(0.0, tor_cpu - idle_rate * wall), py_cpu, boot_s, boot_cpu, proc_hwm(tor.pid)),
          flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for opt in ("--dirauth", "--workdir", "--exits-file"):
        ap.add_argument(opt, required=True)
    for opt in ("--uid", "--socks-port", "--control-port"):
        ap.add_argument(opt, type=int, required=True)
    ap.add_argument("--first-hop", action="append", required=True)
    ap.add_argument("--ports", default="22,443")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--target", default="127.0.0.1")
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--idle", type=float, default=5.0)
    ap.add_argument("--no-tls-resume", action="store_true", help="a full TLS handshake every probe")
    ap.add_argument("--shared", action="store_true",
                    help="then one more phase: every port a stream of one circuit per exit (label 'shared')")
    a = ap.parse_args()
    SvcProber.resume = not a.no_tls_resume
    if not a.target.startswith("127."):
        raise SystemExit("svc_tor: the target must be in 127.0.0.0/8")
    ports = [int(x) for x in a.ports.split(",")]
    for port in ports:
        if port not in GREETING and port not in TLS:
            raise SystemExit("svc_tor: no check for port %d (%s)" % (port, sorted(set(GREETING) | set(TLS))))
    def body(a, tor):
        ctl, boot_s, boot_cpu, idle_rate = bootstrap(a, tor)
        exits = [ln.split() for ln in open(a.exits_file) if ln.strip() and not ln.startswith("#")]
        prober = SvcProber(ctl, a.socks_port, a.target, ports[0], a.timeout)
        for port in ports:
            phase(a, tor, prober, [port], "p%d" % port, exits, idle_rate, boot_s, boot_cpu)
        if a.shared and len(ports) > 1:
            phase(a, tor, prober, ports, "shared", exits, idle_rate, boot_s, boot_cpu)
        prober.stop()
        ctl.close()
    with_tor(a, body)


if __name__ == "__main__":
    main()
