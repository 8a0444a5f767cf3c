"""What the install tests (test_install.py, test_cmake.py) and the subproject
test (tests/subproject/test_subproject.py) share: running commands, a scratch
directory removed at the end, the staged `meson install --destdir` with its
file-set check, and the sanitizer flags a consumer links with.

The install tests take these arguments first (tests/install/meson.build):
  MESON BUILD_ROOT PREFIX LIBDIR INCLUDEDIR BINDIR SANITIZE
then their own, then the C compiler's command (CC [CC_ARGS...]).
"""
import os
import shlex
import shutil
import subprocess
import tempfile

INSTALL_ARGS = ["meson", "build_root", "prefix", "libdir", "includedir",
                "bindir", "sanitize"]


class Failure(Exception):
    """A failed check; its message is the test's FAIL line."""


class Args:
    def __init__(self, names, values, cc):
        self.__dict__.update(zip(names, values))
        self.cc = cc


def parse(argv, names, usage):
    """NAMES from argv[1:], then the compiler command (at least one word)."""
    if len(argv) < len(names) + 2:
        raise SystemExit(usage)
    return Args(names, argv[1:len(names) + 1], argv[len(names) + 1:])


def check(ok, message):
    if not ok:
        raise Failure(message)


def echo(cmd):
    print("$ " + " ".join(shlex.quote(a) for a in cmd), flush=True)


def run(cmd, **kw):
    echo(cmd)
    return subprocess.run(cmd, check=True, **kw)


def output(cmd, **kw):
    """stdout of cmd (echoed), which must exit 0."""
    out = run(cmd, stdout=subprocess.PIPE, universal_newlines=True,
              **kw).stdout
    print(out, end="")
    return out


def files_under(root):
    """Every file and symlink below root, as sorted relative paths."""
    found = []
    for top, _dirs, names in os.walk(root):
        found += [os.path.relpath(os.path.join(top, n), root) for n in names]
    return sorted(found)


def sanitize_flags(sanitize):
    """A sanitized libfattn.a needs the sanitizer runtime at link time."""
    return [] if sanitize in ("", "none") else ["-fsanitize=" + sanitize]


def under(destdir, prefix, sub):
    path = sub if os.path.isabs(sub) else os.path.join(prefix, sub)
    return os.path.join(destdir, path.lstrip("/"))


class Staged:
    """Where the staged install put things."""
    def __init__(self, args, destdir):
        self.destdir = destdir
        self.prefix = os.path.normpath(under(destdir, args.prefix, "."))
        self.libdir = under(destdir, args.prefix, args.libdir)
        self.includedir = under(destdir, args.prefix, args.includedir)
        self.bindir = under(destdir, args.prefix, args.bindir)
        self.cmake_dir = os.path.join(self.libdir, "cmake", "fattn")
        self.pc_dir = os.path.join(self.libdir, "pkgconfig")


def stage_install(args, tmp):
    """`meson install --destdir` into tmp/dest; check that exactly the
    expected files were installed. Returns a Staged."""
    staged = Staged(args, os.path.join(tmp, "dest"))
    run([args.meson, "install", "-C", args.build_root, "--no-rebuild",
         "--destdir", staged.destdir], stdout=subprocess.DEVNULL)
    expected = sorted(os.path.relpath(p, staged.destdir) for p in [
        os.path.join(staged.libdir, "libfattn.a"),
        os.path.join(staged.includedir, "fattn.h"),
        os.path.join(staged.pc_dir, "fattn.pc"),
        os.path.join(staged.cmake_dir, "fattnConfig.cmake"),
        os.path.join(staged.cmake_dir, "fattnConfigVersion.cmake"),
        os.path.join(staged.bindir, "fattn")])
    installed = files_under(staged.destdir)
    for path in installed:
        print("installed: " + path)
    missing = sorted(set(expected) - set(installed))
    check(not missing, "not installed: " + " ".join(missing))
    extra = sorted(set(installed) - set(expected))
    check(not extra, "installed but not expected: " + " ".join(extra))
    return staged


def main(name, test, args):
    """Run test(args, tmp) with a scratch directory tmp that is removed at
    the end; print `ok NAME` or one FAIL line. Returns the exit status."""
    tmp = tempfile.mkdtemp(prefix="fattn-%s-" % name)
    try:
        test(args, tmp)
        print("ok " + name)
        return 0
    except Failure as e:
        print("FAIL: %s" % e)
    except subprocess.CalledProcessError as e:
        print("FAIL: %s exited %d" % (" ".join(e.cmd), e.returncode))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1
