#!/usr/bin/python3
"""Summary of bench/run-services: services_summary.py OUTPUT PORTS ROUNDS (reads the "metric" lines of OUTPUT)."""
import sys
m = {}
for line in open(sys.argv[1]):
    if line.startswith("metric "):
        f = line.split()
        m[f[1]] = {k: v for k, v in (x.split("=", 1) for x in f[2:])}
ports, rounds = sys.argv[2].split(","), int(sys.argv[3])
kind = {"21": "greeting", "22": "greeting", "25": "greeting", "110": "greeting", "143": "greeting",
        "443": "TLS", "465": "TLS", "993": "TLS", "995": "TLS"}
cpu = lambda lab: float(m[lab]["cpu_s"])
row = "%-5s %-8s %6s | %10s %10s %8s | %8s %9s %8s | %9s %9s %9s %9s"
print(row % ("port", "kind", "probes", "ep whole", "ep marg.", "ep wall", "tor", "tor+stem", "tor wall",
             "tor+stem/", "tor+stem/", "tor/", "ep wall/"))
print(row % ("", "", "", "ms/probe", "ms/probe", "s", "ms/probe", "ms/probe", "s", "ep whole", "ep marg.",
             "ep marg.", "tor wall"))
for port in ports:
    t = m["tor_p%s" % port]
    n = int(t["probes"])
    per_round = n // rounds
    # exitprobe: each figure the worse of runs a and b.
    whole = max(cpu("ep_p%s_a" % port), cpu("ep_p%s_b" % port))
    marg = max((cpu("ep_p%s_%s" % (port, r)) - cpu("ep_p%s_1%s" % (port, r))) / (per_round * (rounds - 1))
               for r in "ab") if rounds > 1 else float("nan")
    fixed = max(cpu("ep_p%s_1%s" % (port, r)) for r in "ab") - per_round * marg
    ep_wall = max(float(m["ep_p%s_%s" % (port, r)]["wall_s"]) for r in "ab")
    tor, py, wall = float(t["tor_cpu_s"]), float(t["py_cpu_s"]), float(t["wall_s"])
    print(row % (port, kind.get(port, "?"), n, "%.2f" % (whole * 1000 / n), "%.2f" % (marg * 1000),
                 "%.2f" % ep_wall, "%.2f" % (tor * 1000 / n), "%.2f" % ((tor + py) * 1000 / n), "%.2f" % wall,
                 "%.1fx" % ((tor + py) / whole), "%.1fx" % ((tor + py) / n / marg), "%.1fx" % (tor / n / marg),
                 "%.2fx" % (ep_wall / wall)))
    if rounds > 1 and "ep_p%s_xa" % port in m:  # run only up to --rounds 5 (run-services)
        one = max((cpu("ep_p%s_x%s" % (port, r)) - cpu("ep_p%s_1%s" % (port, r))) / (per_round * (rounds - 1))
                  for r in "ab")
        print("      exitprobe, the same %d probes in ONE round (links to the first hops set up once): marginal "
              "%.2f ms/probe; tor+stem / that: %.1fx, tor alone / that: %.1fx" % (
                  n, one * 1000, (tor + py) / n / one, tor / n / one))
    print("      exitprobe fixed cost of a run (exec, OpenSSL, link handshakes): ~%.1f ms; the stem driver "
          "alone: %.2f ms/probe" % (fixed * 1000, py * 1000 / n))
    if kind.get(port) == "TLS":
        r1, r2 = (tor + py) / whole, (tor + py) / n / marg
        print("goal (%s): CPU per TLS probe >= 10x less than tor+stem: %.1fx whole process, %.1fx marginal: %s; "
              "wall no worse than tor's: %.2f s vs %.2f s: %s" % (
                  port, r1, r2, "MET" if min(r1, r2) >= 10 else ("MET at the margin only" if r2 >= 10 else "NOT MET"),
                  ep_wall, wall, "MET" if ep_wall <= wall else "NOT MET"))
print("(ep whole: the exitprobe process, start-up and link handshakes included; ep marg.: (run of %d rounds - "
      "run of 1 round) / extra probes; tor: its threads' run time over the probing only, start-up and "
      "bootstrap excluded, idle rate %s s/s)" % (rounds, m["tor_p%s" % ports[0]]["tor_idle_cpu_s_per_s"]))
# Shared circuits: every port a stream of one circuit per (exit, round), as a scan of several ports runs.
if "tor_shared" in m and "ep_shared_a" in m:
    t = m["tor_shared"]
    n = int(t["probes"])
    ep = max(cpu("ep_shared_a"), cpu("ep_shared_b"))
    tor, py = float(t["tor_cpu_s"]), float(t["py_cpu_s"])
    ep_wall = max(float(m["ep_shared_%s" % r]["wall_s"]) for r in "ab")
    print("shared circuits (ports %s as streams of one circuit per exit and round, %d probes): per (exit, port) "
          "exitprobe %.2f ms (whole process), tor %.2f, tor+stem %.2f ms: %.1fx; wall %.2f s vs %.2f s" % (
              ",".join(ports), n, ep * 1000 / n, tor * 1000 / n, (tor + py) * 1000 / n, (tor + py) / ep,
              ep_wall, float(t["wall_s"])))
    greet = [p for p in ports if kind.get(p) == "greeting"]
    tls = [p for p in ports if kind.get(p) == "TLS"]
    if len(greet) == 1 and tls:
        g = greet[0]
        tg = m["tor_p%s" % g]
        n_tls = n - int(tg["probes"])
        # exitprobe: the worse shared run less the better greeting-port run (start-up cancels out).
        ep_add = (ep - min(cpu("ep_p%s_a" % g), cpu("ep_p%s_b" % g))) / n_tls
        tor_add = (tor + py - float(tg["tor_cpu_s"]) - float(tg["py_cpu_s"])) / n_tls
        tor_only = (tor - float(tg["tor_cpu_s"])) / n_tls
        print("      a TLS probe (%s) added to a circuit that carries port %s: exitprobe %.2f ms, tor %.2f, tor+stem "
              "%.2f ms per TLS probe: %.1fx" % (",".join(tls), g, ep_add * 1000, tor_only * 1000, tor_add * 1000,
                                               tor_add / ep_add if ep_add > 0 else float("inf")))
        # At the margin: each exitprobe run less its 1-round run (start-up, link handshakes and the first
        # round's full TLS handshakes cancel out; tor's figures leave out its start-up and bootstrap, and its
        # session store is warm from its single-port phase). The worse of runs a and b.
        rounds_m = rounds - 1
        ep_add_m = float("nan")
        if rounds_m > 0 and "ep_shared_1a" in m:
            per_round_tls = n_tls // rounds
            ep_add_m = max(((cpu("ep_shared_%s" % r) - cpu("ep_shared_1%s" % r)) -
                            (cpu("ep_p%s_%s" % (g, r)) - cpu("ep_p%s_1%s" % (g, r)))) / (per_round_tls * rounds_m)
                           for r in "ab")
            print("      at the margin (each run less its 1-round run): exitprobe %.2f ms per TLS probe added; "
                  "tor+stem / that: %.1fx, tor alone / that: %.1fx" % (
                      ep_add_m * 1000, tor_add / ep_add_m if ep_add_m > 0 else float("inf"),
                      tor_only / ep_add_m if ep_add_m > 0 else float("inf")))
        r_whole = tor_add / ep_add if ep_add > 0 else float("inf")
        r_marg = tor_add / ep_add_m if ep_add_m > 0 else float("nan")
        print("goal (TLS, ports sharing a circuit): CPU per TLS probe >= 10x less than tor+stem: %.1fx whole "
              "processes, %.1fx marginal: %s" % (r_whole, r_marg, "MET" if min(r_whole, r_marg) >= 10 else (
                  "MET at the margin only" if r_marg >= 10 else "NOT MET")))
