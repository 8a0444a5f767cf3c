#!/usr/bin/env python3
"""Extract a C example from README.md so the test suite compiles and runs it.

usage: extract_readme_example.py README.md NAME OUTPUT

The example is the first ```c fenced block after the marker line
`<!-- test: NAME -->`. A missing marker or block is an error, so the README
cannot silently lose its tested example.
"""
import sys


def extract(text, name):
    marker = "<!-- test: %s -->" % name
    lines = text.splitlines()
    try:
        start = next(n for n, line in enumerate(lines) if line.strip() == marker)
    except StopIteration:
        raise SystemExit("extract_readme_example: marker %r not found" % marker)
    n = start + 1
    while n < len(lines) and lines[n].strip() == "":
        n += 1
    if n >= len(lines) or lines[n].strip() != "```c":
        raise SystemExit(
            "extract_readme_example: no ```c block right after %r" % marker)
    body = []
    for line in lines[n + 1:]:
        if line.strip() == "```":
            return "\n".join(body) + "\n"
        body.append(line)
    raise SystemExit("extract_readme_example: unterminated ```c block after %r"
                     % marker)


def main(argv):
    if len(argv) != 4:
        raise SystemExit(__doc__)
    with open(argv[1], encoding="utf-8") as f:
        code = extract(f.read(), argv[2])
    header = "/* Extracted from README.md (%s); edit the README, not this file. */\n" % argv[2]
    with open(argv[3], "w", encoding="utf-8") as f:
        f.write(header + code)


if __name__ == "__main__":
    main(sys.argv)
