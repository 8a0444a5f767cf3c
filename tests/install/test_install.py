#!/usr/bin/env python3
"""`meson install --destdir` into a temporary directory, then build and run a
program against the installed copy through pkg-config, as a user would.

usage: test_install.py MESON BUILD_ROOT PREFIX LIBDIR INCLUDEDIR BINDIR
                       SANITIZE CONSUMER_C CC [CC_ARGS...]

Nothing outside the temporary directory is written; it is removed at the end.
"""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402


def test(args, tmp):
    staged = harness.stage_install(args, tmp)

    env = dict(os.environ)
    # Only the installed copy: no system .pc files, paths under destdir.
    env["PKG_CONFIG_PATH"] = staged.pc_dir
    env["PKG_CONFIG_LIBDIR"] = staged.pc_dir
    env["PKG_CONFIG_SYSROOT_DIR"] = staged.destdir
    flags = harness.output(["pkg-config", "--cflags", "--libs", "--static",
                            "fattn"], env=env).split()
    for flag in flags:
        harness.check(not flag.startswith(("-I", "-L")) or
                      flag[2:].startswith(staged.destdir),
                      "pkg-config flag outside the destdir: " + flag)

    exe = os.path.join(tmp, "consumer")
    harness.run(args.cc + ["-std=c11", "-Wall", "-Wextra", "-Werror"] +
                harness.sanitize_flags(args.sanitize) +
                [args.consumer, "-o", exe] + flags + ["-lm"])
    out = harness.output([exe])
    harness.check("works" in out, "the consumer printed nothing")


if __name__ == "__main__":
    sys.exit(harness.main("install", test, harness.parse(
        sys.argv, harness.INSTALL_ARGS + ["consumer"], __doc__)))
