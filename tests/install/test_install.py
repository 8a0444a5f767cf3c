#!/usr/bin/env python3
"""`meson install --destdir` into a temporary directory, then build and run a
program against the installed copy through pkg-config, as a user would.

usage: test_install.py MESON BUILD_ROOT PREFIX LIBDIR INCLUDEDIR BINDIR
                       CONSUMER_C SANITIZE CC [CC_ARGS...]

Nothing outside the temporary directory is written; it is removed at the end.
"""
import os
import shutil
import subprocess
import sys
import tempfile


def run(cmd, **kw):
    print("$ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, **kw)


def under(destdir, prefix, sub):
    path = sub if os.path.isabs(sub) else os.path.join(prefix, sub)
    return os.path.join(destdir, path.lstrip("/"))


def main(argv):
    if len(argv) < 10:
        raise SystemExit(__doc__)
    (meson, build_root, prefix, libdir, includedir, bindir, consumer,
     sanitize) = argv[1:9]
    cc = argv[9:]
    tmp = tempfile.mkdtemp(prefix="fattn-install-")
    try:
        destdir = os.path.join(tmp, "dest")
        run([meson, "install", "-C", build_root, "--no-rebuild",
             "--destdir", destdir], stdout=subprocess.DEVNULL)

        lib_dir = under(destdir, prefix, libdir)
        pc_dir = os.path.join(lib_dir, "pkgconfig")
        expected = [os.path.join(lib_dir, "libfattn.a"),
                    os.path.join(under(destdir, prefix, includedir), "fattn.h"),
                    os.path.join(pc_dir, "fattn.pc"),
                    os.path.join(under(destdir, prefix, bindir), "fattn")]
        for path in expected:
            if not os.path.isfile(path):
                print("FAIL: not installed: " + os.path.relpath(path, destdir))
                return 1
            print("installed: " + os.path.relpath(path, destdir))

        env = dict(os.environ)
        # Only the installed copy: no system .pc files, paths under destdir.
        env["PKG_CONFIG_PATH"] = pc_dir
        env["PKG_CONFIG_LIBDIR"] = pc_dir
        env["PKG_CONFIG_SYSROOT_DIR"] = destdir
        flags = run(["pkg-config", "--cflags", "--libs", "--static", "fattn"],
                    env=env, stdout=subprocess.PIPE,
                    universal_newlines=True).stdout.split()
        for flag in flags:
            if flag.startswith(("-I", "-L")) and not flag[2:].startswith(destdir):
                print("FAIL: pkg-config flag outside the destdir: " + flag)
                return 1

        exe = os.path.join(tmp, "consumer")
        # A sanitized build's library needs the sanitizer runtime at link time.
        san = [] if sanitize in ("", "none") else ["-fsanitize=" + sanitize]
        run(cc + ["-std=c11", "-Wall", "-Wextra", "-Werror"] + san +
            [consumer, "-o", exe] + flags + ["-lm"])
        out = run([exe], stdout=subprocess.PIPE,
                  universal_newlines=True).stdout
        print(out, end="")
        if "works" not in out:
            print("FAIL: the consumer printed nothing")
            return 1
        print("ok install")
        return 0
    except subprocess.CalledProcessError as e:
        print("FAIL: %s exited %d" % (" ".join(e.cmd), e.returncode))
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
