#!/usr/bin/env python3
"""`meson install --destdir` into a temporary directory, then use the staged
CMake package (<libdir>/cmake/fattn) as a user would: find_package()
probes that must accept or refuse each version request, and CONSUMER_DIR's
CMakeLists.txt (find_package(fattn 0.1 CONFIG REQUIRED), fattn::fattn)
built with the build's C compiler and run.

usage: test_cmake.py MESON BUILD_ROOT PREFIX LIBDIR INCLUDEDIR BINDIR
                     SANITIZE VERSION CMAKE CONSUMER_DIR CC [CC_ARGS...]

CMAKE is empty when Meson found no cmake: that fails (scripts/setup.sh
installs it). Nothing outside the temporary directory is written.
"""
import os
import shlex
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402

PROBE = """cmake_minimum_required(VERSION 3.19)
project(probe C)
find_package(fattn {request} CONFIG REQUIRED)
get_target_property(location fattn::fattn IMPORTED_LOCATION)
get_target_property(include fattn::fattn INTERFACE_INCLUDE_DIRECTORIES)
message(STATUS "probe: ${{fattn_VERSION}} \
${{fattn_VERSION_MAJOR}}.${{fattn_VERSION_MINOR}}.${{fattn_VERSION_PATCH}} \
${{location}} ${{include}}")
"""


def requests(version):
    """(request, accepted) pairs around VERSION, by the rule of
    cmake/fattnConfigVersion.cmake.in: same series (0.MINOR before 1.0,
    MAJOR after) and not newer."""
    major, minor, patch = (int(x) for x in version.split("."))
    series = "0.%d" % minor if major == 0 else str(major)
    after = "0.%d" % (minor + 1) if major == 0 else str(major + 1)
    return [("", True), (series, True), (version + " EXACT", True),
            ("%s...<%s" % (series, after), True),
            ("%d.%d.%d" % (major, minor, patch + 1), False),
            (after, False), ("%d.0" % (major + 1), False),
            ("%s...%s" % (series, after), False)]


def configure(args, src, build, staged, **kw):
    """cmake -S src -B build with the staged prefix first in the search
    path (a fattn found elsewhere fails the checks on where it came from),
    with the build's C compiler (a ccache in front of it becomes CMake's
    launcher)."""
    cc = list(args.cc)
    launcher = []
    if len(cc) > 1 and os.path.basename(cc[0]) in ("ccache", "sccache"):
        launcher = ["-DCMAKE_C_COMPILER_LAUNCHER=" + cc.pop(0)]
    cmd = [args.cmake, "-S", src, "-B", build, "-G", "Ninja",
           "-DCMAKE_PREFIX_PATH=" + staged.prefix,
           "-DCMAKE_C_COMPILER=" + cc[0],
           "-DCMAKE_C_FLAGS=" + " ".join([shlex.quote(a) for a in cc[1:]] +
                                         ["-Wall", "-Wextra"]),
           "-DCMAKE_COMPILE_WARNING_AS_ERROR=ON",
           "-DCMAKE_EXE_LINKER_FLAGS=" +
           " ".join(harness.sanitize_flags(args.sanitize))] + launcher
    harness.echo(cmd)
    return subprocess.run(cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True,
                          **kw)


def probe(args, tmp, staged, n, request, accepted):
    src = os.path.join(tmp, "probe%d" % n)
    os.mkdir(src)
    with open(os.path.join(src, "CMakeLists.txt"), "w") as f:
        f.write(PROBE.format(request=request))
    what = "find_package(%s CONFIG REQUIRED)" % " ".join(
        ["fattn"] + request.split())
    res = configure(args, src, os.path.join(src, "build"), staged)
    if not accepted:
        # Refused for its version: CMake saw our package and said so.
        considered = "fattnConfig.cmake, version: " + args.version
        harness.check(res.returncode != 0 and considered in res.stdout,
                      "%s with fattn %s: not refused for its version:\n%s"
                      % (what, args.version, res.stdout))
        print("refused as expected: " + what)
        return
    harness.check(res.returncode == 0, "%s with fattn %s failed:\n%s"
                  % (what, args.version, res.stdout))
    line = [ln for ln in res.stdout.splitlines() if "probe: " in ln]
    expected = "probe: %s %s %s %s" % (
        args.version, args.version,
        os.path.join(staged.libdir, "libfattn.a"), staged.includedir)
    harness.check(line and line[0].endswith(expected),
                  "%s: expected\n  %s\ngot\n%s" % (what, expected, res.stdout))
    print("accepted as expected: " + what)


def test(args, tmp):
    harness.check(args.cmake, "cmake was not found when the build was "
                  "configured (scripts/setup.sh installs it); install it "
                  "and reconfigure")
    staged = harness.stage_install(args, tmp)

    for n, (request, accepted) in enumerate(requests(args.version)):
        probe(args, tmp, staged, n, request, accepted)

    build = os.path.join(tmp, "consumer")
    res = configure(args, args.consumer_dir, build, staged)
    print(res.stdout, end="")
    harness.check(res.returncode == 0, "configuring the consumer failed")
    harness.check("-- fattn %s from %s\n" % (args.version, staged.cmake_dir)
                  in res.stdout, "the consumer did not find the staged "
                  "fattn %s" % args.version)
    harness.run([args.cmake, "--build", build, "--parallel", "1"])
    out = harness.output([os.path.join(build, "app")])
    harness.check("installed fattn %s works\n" % args.version in out,
                  "the consumer did not print its result")


if __name__ == "__main__":
    sys.exit(harness.main("install_cmake", test, harness.parse(
        sys.argv, harness.INSTALL_ARGS + ["version", "cmake", "consumer_dir"],
        __doc__)))
