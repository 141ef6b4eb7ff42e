#!/usr/bin/python3
# A umockdev testbed that a Go test drives. Run it under the preload:
#
#   umockdev-wrapper /usr/bin/python3 testbed.py [--present FILE]... -- PROG [ARG]...
#
# It creates a Testbed, adds the --present devices (found by PROG's start-up
# enumeration), starts PROG with UMOCKDEV_DIR and LD_PRELOAD, then obeys one
# command a line on stdin, answering "HH:MM:SS.mmm ok CMD" on stderr when done:
#
#   add FILE      add the devices described in FILE (umockdev-record format);
#                 add_from_string already sends their add uevents
#   remove FILE   send remove uevents for FILE's devices, children first,
#                 then delete them from the testbed (FILE's first block is
#                 the device, later blocks its children)
#   remove-bare FILE
#                 the same, but the device's remove uevent carries only the
#                 kernel's properties (no ID_* from udev's rules)
#   trigger FILE  send an add uevent again for FILE's device (as
#                 "udevadm trigger" does for devices already there)
#   stop          SIGTERM to PROG and wait for it
#   start         start PROG again (same testbed, same devices)
#
# PROG's stdout and stderr are this script's. On end of input or SIGTERM it
# stops PROG and exits with PROG's status, so a SIGTERM to this script is a
# SIGTERM to PROG.
import ctypes
import os
import select
import signal
import subprocess
import sys
from datetime import datetime

import gi

gi.require_version("UMockdev", "1.0")
from gi.repository import UMockdev  # noqa: E402


def prune_links(sysdir):
    # remove_device leaves the device's /sys/bus/*/devices and /sys/class/*
    # links behind, and a later add of the same device then aborts.
    for top in ("bus", "class"):
        for root, dirs, files in os.walk(os.path.join(sysdir, top)):
            for name in dirs + files:
                p = os.path.join(root, name)
                if os.path.islink(p) and not os.path.exists(p):
                    os.unlink(p)


def die_with_parent():
    # PR_SET_PDEATHSIG: PROG must not outlive this script.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def devpaths(text):
    return ["/sys" + line[3:].strip() for line in text.splitlines() if line.startswith("P: ")]


def lines(wake_r):
    """The lines of stdin, waiting in select so that a signal wakes it."""
    buf = b""
    while True:
        ready, _, _ = select.select([0, wake_r], [], [])
        if wake_r in ready:
            os.read(wake_r, 64)  # the handler runs before the next line
        if 0 not in ready:
            continue
        data = os.read(0, 4096)
        if not data:
            if buf:
                yield buf.decode()  # a last line without its newline
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line.decode()


def main():
    args = sys.argv[1:]
    if "--" not in args:
        sys.exit("usage: testbed.py [--present FILE]... -- PROG [ARG]...")
    sep = args.index("--")
    opts, prog = args[:sep], args[sep + 1:]
    tb = UMockdev.Testbed.new()
    i = 0
    while i < len(opts):
        if opts[i] != "--present" or i + 1 >= len(opts):
            sys.exit("testbed.py: unknown option " + opts[i])
        with open(opts[i + 1]) as f:
            if not tb.add_from_string(f.read()):
                sys.exit("testbed.py: cannot add " + opts[i + 1])
        i += 2

    env = dict(os.environ)
    env["UMOCKDEV_DIR"] = tb.get_root_dir()
    child = None

    def start():
        nonlocal child
        child = subprocess.Popen(prog, env=env, preexec_fn=die_with_parent)

    def stop():
        nonlocal child
        if child is None:
            return 0
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
        code = child.wait()
        child = None
        return 0 if code == 0 else 1

    def on_term(signum, frame):
        sys.exit(stop())

    # Python runs a signal's handler on the main thread only, at its next
    # bytecode; the kernel may give a SIGTERM to one of GLib's threads, and
    # a main thread blocked reading stdin would then never see it. The
    # wake-up fd makes any signal wake the select below, where the handler
    # then runs.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGTERM, on_term)
    start()
    for line in lines(wake_r):
        words = line.split()
        if not words:
            continue
        cmd, rest = words[0], words[1:]
        if cmd == "add":
            with open(rest[0]) as f:
                if not tb.add_from_string(f.read()):
                    sys.exit("testbed.py: cannot add " + rest[0])
        elif cmd in ("remove", "remove-bare"):
            with open(rest[0]) as f:
                paths = devpaths(f.read())
            if cmd == "remove-bare":
                ue = tb.get_sys_dir() + paths[0][len("/sys"):] + "/uevent"
                with open(ue) as f:
                    kept = [l for l in f if not l.startswith("ID_")]
                with open(ue, "w") as f:
                    f.writelines(kept)
            for p in reversed(paths):
                tb.uevent(p, "remove")
            tb.remove_device(paths[0])
            prune_links(tb.get_sys_dir())
        elif cmd == "trigger":
            with open(rest[0]) as f:
                tb.uevent(devpaths(f.read())[0], "add")
        elif cmd == "stop":
            stop()
        elif cmd == "start":
            start()
        else:
            sys.exit("testbed.py: unknown command " + cmd)
        # The time lets a failing test's log be read beside the daemon's.
        print(datetime.now().strftime("%H:%M:%S.%f")[:-3] + " ok " + cmd, file=sys.stderr, flush=True)
    sys.exit(stop())


main()
