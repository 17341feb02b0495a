#!/usr/bin/env python3
"""Checks the daemon's layers from its object files (nm): which file calls
which, that no files call each other in a cycle, and that every call
between folders goes down the layers (docs/architecture.md).

Usage: tools/deps-check.py [BUILD_DIR]   (default: build-test)
Prints every cycle and every upward call; exits 1 when there is one.
"""
import os
import subprocess
import sys

# Bottom first: a file may call files of its own layer and the ones before it.
LAYERS = ["common", "model", "store", "core", "exec", "rpc", "api", "daemon"]
# rpc sits beside core/store/exec, not above them: it sees common only.
SEES = {
    "common": {"common"},
    "model": {"model", "common"},
    "store": {"store", "model", "common"},
    "core": {"core", "store", "model", "common"},
    "exec": {"exec", "core", "store", "model", "common"},
    "rpc": {"rpc", "common"},
    "api": {"api", "rpc", "exec", "core", "store", "model", "common"},
    "daemon": set(LAYERS),
}


def layer_of(obj):
    """The layer of an object file, from the library it was built into."""
    lib = os.path.basename(os.path.dirname(obj))
    if lib.startswith("libcommon"):
        return "common"
    return lib[len("libcoord-"):].split(".")[0]


def objects(build):
    for d in ["common/libcommon.a.p"] + [
        "daemon/libcoord-%s.a.p" % l for l in LAYERS[1:]
    ]:
        path = os.path.join(build, d)
        for f in sorted(os.listdir(path)):
            if f.endswith(".o"):
                yield os.path.join(path, f)


def symbols(obj):
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDBR":
            defined.add(parts[2])
        elif len(parts) == 2 and parts[0] == "U":
            undefined.add(parts[1])
    return defined, undefined


def name(obj):
    return os.path.basename(obj)[: -len(".c.o")].replace("_", "/", 1) if "_" in os.path.basename(obj) and layer_of(obj) != "common" else os.path.basename(obj)[: -len(".c.o")]


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build-test"
    objs = list(objects(build))
    owner, uses = {}, {}
    for o in objs:
        d, u = symbols(o)
        for s in d:
            owner[s] = o
        uses[o] = u
    edges = {o: {owner[s] for s in uses[o] if s in owner and owner[s] != o} for o in objs}
    bad = 0
    for o in objs:
        for t in sorted(edges[o]):
            if layer_of(t) not in SEES[layer_of(o)]:
                print("upward call: %s (%s) -> %s (%s)" % (name(o), layer_of(o), name(t), layer_of(t)))
                bad += 1
    # Cycles: strongly connected components of more than one file (Tarjan).
    index, low, stack, on, sccs = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(comp)

    sys.setrecursionlimit(10000)
    for o in objs:
        if o not in index:
            visit(o)
    for comp in sccs:
        print("call cycle: " + " <-> ".join(sorted(name(c) for c in comp)))
        bad += 1
    n = sum(len(e) for e in edges.values())
    print("%d files, %d file-to-file call edges, %d problem(s)" % (len(objs), n, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
