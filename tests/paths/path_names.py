"""Print the kernel path names the registry (src/kernels.inc) lists, built or
not, space-separated, in registry order: meson's per-path test setups."""
import re
import sys

with open(sys.argv[1], encoding="utf-8") as f:
    names = re.findall(r'FATTN_PATH(?:_MISSING)?\(\s*\w+\s*,\s*"(\w+)"', f.read())
print(" ".join(dict.fromkeys(names)))
