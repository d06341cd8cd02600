#!/usr/bin/python3
"""Flash and RAM of a model inside a linked runner, from the GNU ld map.

    tests/linkmap.py DIR SIZE_TOOL OBJDUMP

DIR holds a runner built by `make` (with -Wl,-Map=runner.map) and the model's
objects (every *.o but runner.o).  The linker map lists every input section
the linker placed, with the object it came from and its size, inside the
output section it went to; `objdump -h` gives the sections' flags, so each
can be classed as GNU size (Berkeley format) does: text (allocated,
read-only), data (allocated, writable, with contents) or bss (allocated, no
contents).  Prints one JSON object, each size a {"text", "data", "bss"}:

  objects   the model's objects' sections (what `size` says of libNAME.a)
  linked    the model's input sections as placed in the runner, by the class
            of the output section they went to
  rest      every other input section, alignment fill and linker-made
            contents of the runner's allocated output sections
  elf       `SIZE_TOOL runner`: the whole linked ELF
  closed    elf == linked + rest in every class: the map accounts for every
            byte of the ELF
  differ    [object, section, size in the object, size linked] wherever the
            linker changed a section (RISC-V relaxation shortens .text;
            on Linux the linker merges duplicate .eh_frame CIEs; duplicate
            mergeable constants are kept once)
  merged    per class, the model's bytes the linker merged away that way
  unexplained       the differ entries that are not such merges
  exact     linked + merged == objects in every class

so a test can check the model's share of the linked ELF against what
`shiftc compile` measured on the library, and that the rest of the ELF is
the runner, the C library and padding.
"""
import json
import os
import re
import subprocess
import sys

HEX = re.compile(r"^0x[0-9a-fA-F]+$")


def section_classes(objdump, elf):
    """{output section: 'text' | 'data' | 'bss' | None} as GNU size counts."""
    out = subprocess.run([objdump, "-h", elf], check=True, capture_output=True, text=True).stdout
    classes = {}
    lines = out.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^\s*\d+\s+(\S+)\s+([0-9a-fA-F]+)\s", line)
        if not m or i + 1 >= len(lines):
            continue
        flags = lines[i + 1]
        name = m.group(1)
        if "ALLOC" not in flags:
            classes[name] = None
        elif "CONTENTS" not in flags:
            classes[name] = "bss"
        elif "READONLY" in flags or "CODE" in flags:
            classes[name] = "text"
        else:
            classes[name] = "data"
    return classes


def map_entries(path):
    """(output section, address, size, [(input section, address, size, file)])
    from a GNU ld map, in map order."""
    text = open(path).read()
    start = text.find("Linker script and memory map")
    if start < 0:
        raise SystemExit("%s: no memory map" % path)
    lines = text[start:].splitlines()[1:]
    outputs = []
    cur = None
    pending_out = None  # output section name whose address/size is on the next line
    pending_in = None  # input section name whose address/size/file is on the next line
    for line in lines:
        if not line.strip():
            continue
        if line.startswith("OUTPUT(") or line.startswith("LOAD ") or line.startswith("START GROUP"):
            continue
        words = line.split()
        if pending_out is not None:
            if len(words) >= 2 and HEX.match(words[0]) and HEX.match(words[1]):
                cur = (pending_out, int(words[0], 16), int(words[1], 16), [])
                outputs.append(cur)
            pending_out = None
            continue
        if pending_in is not None:
            if len(words) >= 3 and HEX.match(words[0]) and HEX.match(words[1]) and cur is not None:
                cur[3].append((pending_in, int(words[0], 16), int(words[1], 16), " ".join(words[2:])))
                pending_in = None
                continue
            pending_in = None
        if not line[0].isspace():
            # an output section: ".text 0xADDR 0xSIZE [load address ...]"
            if words[0].startswith("."):
                if len(words) >= 3 and HEX.match(words[1]) and HEX.match(words[2]):
                    cur = (words[0], int(words[1], 16), int(words[2], 16), [])
                    outputs.append(cur)
                elif len(words) == 1:
                    pending_out = words[0]
                else:
                    cur = None
            else:
                cur = None
            continue
        if cur is None:
            continue
        name = words[0]
        if name == "*fill*":
            if len(words) >= 3 and HEX.match(words[1]) and HEX.match(words[2]):
                cur[3].append(("*fill*", int(words[1], 16), int(words[2], 16), ""))
            continue
        if name.startswith("*") or HEX.match(name):
            continue  # input patterns, symbols, assignments
        if len(words) == 1:
            pending_in = name
        elif len(words) >= 4 and HEX.match(words[1]) and HEX.match(words[2]):
            cur[3].append((name, int(words[1], 16), int(words[2], 16), " ".join(words[3:])))
        elif len(words) == 3 and HEX.match(words[1]) and HEX.match(words[2]):
            cur[3].append((name, int(words[1], 16), int(words[2], 16), ""))  # linker-made contents
    return outputs


def berkeley(size_tool, elf):
    out = subprocess.run([size_tool, elf], check=True, capture_output=True, text=True).stdout.splitlines()
    text, data, bss = (int(w) for w in out[1].split()[:3])
    return {"text": text, "data": data, "bss": bss}


def object_sections(objdump, path):
    """[(section, size, class)] of an object file, allocated sections only."""
    out = subprocess.run([objdump, "-h", path], check=True, capture_output=True, text=True).stdout
    lines = out.splitlines()
    res = []
    for i, line in enumerate(lines):
        m = re.match(r"^\s*\d+\s+(\S+)\s+([0-9a-fA-F]+)\s", line)
        if not m or i + 1 >= len(lines):
            continue
        flags = lines[i + 1]
        if "ALLOC" not in flags:
            continue
        cls = "bss" if "CONTENTS" not in flags else "text" if ("READONLY" in flags or "CODE" in flags) else "data"
        res.append((m.group(1), int(m.group(2), 16), cls))
    return res


def main():
    d, size_tool, objdump = sys.argv[1:4]
    elf = os.path.join(d, "runner")
    models = sorted(f for f in os.listdir(d) if f.endswith(".o") and f != "runner.o")
    classes = section_classes(objdump, elf)
    zero = lambda: {"text": 0, "data": 0, "bss": 0}
    objects, linked, rest = zero(), zero(), zero()
    obj_size = {}
    for o in models:
        for name, size, cls in object_sections(objdump, os.path.join(d, o)):
            objects[cls] += size
            obj_size[(o, name)] = obj_size.get((o, name), 0) + size
    link_size = {}
    for out_name, out_addr, out_size, inputs in map_entries(os.path.join(d, "runner.map")):
        cls = classes.get(out_name)
        if cls is None:
            continue
        # Each input counts the bytes it adds past the ones before it: the
        # linker lists a merged duplicate (mergeable constants) at the
        # address of the copy it kept.
        cursor, covered = out_addr, 0
        for name, addr, size, src in inputs:
            new = max(0, addr + size - max(addr, cursor))
            cursor = max(cursor, addr + size)
            covered += new
            if src.strip() in models:
                linked[cls] += new
                link_size[(src.strip(), name)] = link_size.get((src.strip(), name), 0) + new
            else:
                rest[cls] += new
        # bytes of the output section no input covers (ALIGN() inside the
        # section): not the model's
        if out_size > covered:
            rest[cls] += out_size - covered
    elf_sizes = berkeley(size_tool, elf)
    differ = [[o, n, obj_size.get((o, n), 0), link_size.get((o, n), 0)]
              for (o, n) in sorted(set(obj_size) | set(link_size))
              if obj_size.get((o, n), 0) != link_size.get((o, n), 0)]
    # what the linker may merge away: duplicate .eh_frame CIEs (Linux) and
    # duplicate mergeable constants (.rodata.cst4, .srodata.cst8, strings)
    mergeable = lambda n: n.startswith(".eh_frame") or ".cst" in n or ".str" in n
    merged = {"text": 0, "data": 0, "bss": 0}
    sec_class = {(o, n): c for o in models for n, _, c in object_sections(objdump, os.path.join(d, o))}
    for o, n, a, b in differ:
        if mergeable(n):
            merged[sec_class.get((o, n), "text")] += a - b
    unexplained = [x for x in differ if not mergeable(x[1])]
    res = {"objects": objects, "linked": linked, "rest": rest, "elf": elf_sizes,
           "closed": all(elf_sizes[k] == linked[k] + rest[k] for k in elf_sizes),
           "differ": differ, "merged": merged, "unexplained": unexplained,
           "exact": not unexplained and all(linked[k] + merged[k] == objects[k] for k in objects)}
    print(json.dumps(res))


if __name__ == "__main__":
    main()
