#!/usr/bin/env python3
"""Input/output tables of a Terraform module's README, checked against (or rewritten from) its
variables.tf and outputs.tf.

usage: readme_tables.py [--write] MODULE_DIR...

Each README.md must have a "## Inputs" and a "## Outputs" section holding one markdown table
each. A row is built from the declaration: name, description (HCL escapes undone), type and
default (whitespace collapsed to single spaces, as written in the .tf file), required (no
default). Without --write, prints every difference and exits 1 if there is one; with --write,
replaces the two tables. Only the plain `description = "..."` form is understood.
"""
import re
import sys
from pathlib import Path


def blocks(text, kind):
    """Yield (name, body) for each top-level `kind "name" { ... }` block."""
    for m in re.finditer(r'^%s\s+"([^"]+)"\s*\{' % kind, text, re.M):
        depth, i, quote = 1, m.end(), False
        while depth:
            c = text[i]
            if quote:
                if c == "\\":
                    i += 1
                elif c == '"':
                    quote = False
            elif c == '"':
                quote = True
            elif c == "#":
                i = text.index("\n", i) - 1
            elif c in "{[(":
                depth += 1
            elif c in "}])":
                depth -= 1
            i += 1
        yield m.group(1), text[m.end():i - 1]


def attribute(body, name):
    """Text of a top-level `name = ...` attribute of a block body (None if absent)."""
    depth, quote, i, start = 0, False, 0, None
    lines = body.split("\n")
    for n, line in enumerate(lines):
        if depth == 0 and start is None:
            m = re.match(r"\s*%s\s*=\s*(.*)$" % name, line)
            if m:
                start, parts = n, [m.group(1)]
                line = m.group(1)
        elif start is not None:
            parts.append(line)
        for j, c in enumerate(line):
            if quote:
                if c == '"' and line[j - 1] != "\\":
                    quote = False
            elif c == '"':
                quote = True
            elif c in "{[(":
                depth += 1
            elif c in "}])":
                depth -= 1
        if start is not None and depth == 0:
            return " ".join(p.strip() for p in parts)
    return None


def unquote(hcl):
    s = hcl.strip()
    if not (s.startswith('"') and s.endswith('"')):
        raise ValueError("description is not a plain string: %s" % s)
    s = s[1:-1]
    return s.replace('\\"', '"').replace("\\\\", "\\").replace("$${", "${")


def squeeze(expr):
    return re.sub(r"\s+", " ", expr).strip()


def rows(moddir):
    variables, outputs = [], []
    for _, text in sorted((p.name, p.read_text()) for p in Path(moddir).glob("*.tf")):
        for name, body in blocks(text, "variable"):
            default = attribute(body, "default")
            variables.append("| `%s` | %s | `%s` | %s | %s |" % (
                name,
                unquote(attribute(body, "description")),
                squeeze(attribute(body, "type")),
                "n/a" if default is None else "`%s`" % squeeze(default),
                "yes" if default is None else "no",
            ))
        for name, body in blocks(text, "output"):
            outputs.append("| `%s` | %s |" % (name, unquote(attribute(body, "description"))))
    return variables, outputs


def order(moddir, kind):
    """Declaration order within the file that declares them (variables.tf, outputs.tf)."""
    text = (Path(moddir) / ("variables.tf" if kind == "variable" else "outputs.tf")).read_text()
    return [n for n, _ in blocks(text, kind)]


def table(header, body):
    return "\n".join(header + body)


def main(argv):
    write = "--write" in argv
    dirs = [a for a in argv if a != "--write"]
    bad = 0
    for d in dirs:
        readme = Path(d) / "README.md"
        text = readme.read_text()
        variables, outputs = rows(d)
        vorder, oorder = order(d, "variable"), order(d, "output")
        variables.sort(key=lambda r: vorder.index(r.split("`")[1]))
        outputs.sort(key=lambda r: oorder.index(r.split("`")[1]))
        want = {
            "Inputs": table(["| name | description | type | default | required |",
                             "| --- | --- | --- | --- | --- |"], variables),
            "Outputs": table(["| name | description |", "| --- | --- |"], outputs),
        }
        for section, new in want.items():
            m = re.search(r"^## %s\n\n((?:\|.*\n?)+)" % section, text, re.M)
            if not m:
                print("%s: no \"## %s\" section with a table" % (readme, section))
                bad += 1
                continue
            have = m.group(1).rstrip("\n")
            if have == new:
                continue
            if write:
                text = text[:m.start(1)] + new + "\n" + text[m.end(1):]
                continue
            bad += 1
            hl, nl = have.split("\n"), new.split("\n")
            print("%s: the %s table differs from the .tf files%s:" % (
                readme, section, " (same rows, not in declaration order)" if sorted(hl) == sorted(nl) else ""))
            for line in hl:
                if line not in nl:
                    print("  README has: %s" % line)
            for line in nl:
                if line not in hl:
                    print("  .tf says:   %s" % line)
        if write:
            readme.write_text(text)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
