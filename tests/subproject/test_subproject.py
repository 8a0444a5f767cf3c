#!/usr/bin/env python3
"""fattn as a Meson subproject of an outside project (CONSUMER_DIR), as a
user would use it: copy that project into a temporary directory, point its
subprojects/fattn at this source tree (a symlink), then meson setup,
compile, run its program, and `meson install --destdir`, which must install
the consumer's program and nothing of fattn (subproject mode installs
nothing into the parent's prefix).

usage: test_subproject.py MESON SOURCE_ROOT CONSUMER_DIR SANITIZE LUNDEF
                          SIMD CC [CC_ARGS...]

The outside build uses the same compiler, sanitizers and -Dsimd as this
build, its own build directory in the temporary directory (removed at the
end), and -j1.
"""
import os
import shlex
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                os.pardir, "install"))
import harness  # noqa: E402

# What the top-level fattn installs; none of it may reach the parent's.
FATTN_FILES = ("libfattn.a", "fattn.h", "fattn.pc", "fattnConfig.cmake",
               "fattnConfigVersion.cmake")


def test(args, tmp):
    src = os.path.join(tmp, "consumer")
    shutil.copytree(args.consumer_dir, src)
    os.mkdir(os.path.join(src, "subprojects"))
    os.symlink(args.source_root, os.path.join(src, "subprojects", "fattn"))

    build = os.path.join(tmp, "build")
    env = dict(os.environ, CC=" ".join(shlex.quote(a) for a in args.cc))
    harness.run([args.meson, "setup", build, src, "--werror",
                 "--wrap-mode=nodownload", "--force-fallback-for=fattn",
                 "-Db_sanitize=" + args.sanitize, "-Db_lundef=" + args.lundef,
                 "-Dfattn:simd=" + args.simd], env=env)
    harness.run([args.meson, "compile", "-C", build, "-j", "1"])
    harness.check(os.path.isfile(os.path.join(build, "subprojects", "fattn",
                                              "src", "libfattn.a")),
                  "libfattn.a was not built as a subproject")
    out = harness.output([os.path.join(build, "fattn-consumer")])
    harness.check("as a subproject works\n" in out,
                  "the consumer did not print its result")

    destdir = os.path.join(tmp, "dest")
    harness.run([args.meson, "install", "-C", build, "--no-rebuild",
                 "--destdir", destdir], stdout=subprocess.DEVNULL)
    installed = harness.files_under(destdir)
    for path in installed:
        print("installed: " + path)
    leaked = [p for p in installed if os.path.basename(p) in FATTN_FILES]
    harness.check(not leaked, "the parent's install has fattn's " +
                  " ".join(leaked))
    harness.check([os.path.basename(p) for p in installed] ==
                  ["fattn-consumer"], "the parent's install has more than "
                  "its program: " + " ".join(installed))


if __name__ == "__main__":
    sys.exit(harness.main("subproject", test, harness.parse(
        sys.argv, ["meson", "source_root", "consumer_dir", "sanitize",
                   "lundef", "simd"], __doc__)))
