"""Reading runner.c's (and hyperfine's) JSON for the bench/ scripts' tables."""
import json
import math


def load(path):
    """The results by command name."""
    return {r["command"]: r for r in json.load(open(path))["results"]}


def cpu(r):
    """Mean CPU time of one run (user + system), seconds."""
    return r["user"] + r["system"]


def ratio(a, b, key="median"):
    """a / b of one statistic, with the error of two means when asked."""
    if key == "mean":
        q = a["mean"] / b["mean"]
        return q, q * math.hypot(a["stddev"] / a["mean"], b["stddev"] / b["mean"])
    if key == "cpu":
        return cpu(a) / cpu(b), None
    return a[key] / b[key], None


def table(results, names, unit=1e3, label="ms"):
    """Lines: median, mean ± sd, min, max and CPU per command."""
    lines = [f"{'command':<10} {'median':>9} {'mean':>9}   {'sd':>7} {'min':>9} {'max':>9} {'CPU':>9}   ({label})"]
    for n in names:
        r = results[n]
        v = [r[k] * unit for k in ("median", "mean", "stddev", "min", "max")] + [cpu(r) * unit]
        lines.append(f"{n:<10} {v[0]:9.3f} {v[1]:9.3f} ± {v[2]:7.3f} {v[3]:9.3f} {v[4]:9.3f} {v[5]:9.3f}")
    return "\n".join(lines)
