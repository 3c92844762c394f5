"""Check every relative link and #anchor in the repository's Markdown files.

    python tools/check_links.py            # from anywhere; prints one line per problem

A link is checked when it is relative (no scheme such as https:, no
mailto:): the file or folder it names must exist, and an #anchor must be
the anchor of a heading in the target Markdown file, made the way GitHub
makes it (lowercase; spaces become "-"; punctuation other than "-" and "_"
is dropped; a repeated heading gets "-1", "-2", ...).  Links inside fenced
code blocks and inline code are not links and are skipped.

The last line is "links: N checked, N broken"; the exit status is 1 when
any link is broken.  Standard library only (a dev tool, not a product file).
"""

import io
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP_DIRS = set([".git", "node_modules", ".venv", "__pycache__"])
LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`+[^`]*`+")


def markdown_files(root):
    """ Every *.md under root, outside VCS and installed-package folders. """
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and
                         not os.path.islink(os.path.join(folder, d)))
        for name in sorted(files):
            if name.endswith(".md"):
                yield os.path.join(folder, name)


def prose_lines(path):
    """ (line number, text) of the lines outside fenced code blocks. """
    fenced = False
    with io.open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if FENCE.match(line):
                fenced = not fenced
                continue
            if not fenced:
                yield number, line.rstrip("\n")


def slug(heading):
    """ GitHub's anchor for a heading's text. """
    text = LINK.sub(lambda m: m.group(1), heading)      # a link's text only
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text, flags=re.UNICODE)
    return text.replace(" ", "-")


def anchors(path, cache={}):
    """ The set of anchors that the headings of a Markdown file define. """
    if path not in cache:
        found, seen = set(), {}
        for _, line in prose_lines(path):
            match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if match:
                base = slug(match.group(1))
                count = seen.get(base, 0)
                seen[base] = count + 1
                found.add(base if count == 0 else "%s-%d" % (base, count))
        cache[path] = found
    return cache[path]


def check_file(path):
    """ Yield (line number, target, problem) for each broken link. """
    for number, line in prose_lines(path):
        for match in LINK.finditer(INLINE_CODE.sub("", line)):
            target = match.group(2)
            if not target or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):
                continue                      # https:, mailto:, ...
            yield (number, target) + (check_target(path, target),)


def check_target(path, target):
    """ None when the link resolves, else what is wrong. """
    name, _, anchor = target.partition("#")
    resolved = (os.path.normpath(os.path.join(os.path.dirname(path), name))
                if name else path)
    if not os.path.exists(resolved):
        return "no such file: %s" % os.path.relpath(resolved, ROOT)
    if anchor:
        if not resolved.endswith(".md") or os.path.isdir(resolved):
            return "an anchor into a file that is not Markdown"
        if anchor not in anchors(resolved):
            return "no heading #%s in %s" % (anchor,
                                             os.path.relpath(resolved, ROOT))
    return None


def main():
    checked = broken = 0
    for path in markdown_files(ROOT):
        for number, target, problem in check_file(path):
            checked += 1
            if problem:
                broken += 1
                print("%s:%d: (%s) %s" % (os.path.relpath(path, ROOT), number,
                                          target, problem))
    print("links: %d checked, %d broken" % (checked, broken))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
