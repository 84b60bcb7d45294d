#!/usr/bin/env python3
"""Verdicts on Norwegian identifiers from an implementation independent of tillit's.

python-stdnum (stdnum.no.fodselsnummer, stdnum.no.orgnr; pinned in tests/requirements.txt)
judges a seeded corpus of candidates; tests/identifiers_oracle.rs checks that tillit's
`ident` module gives the same verdict on every one. The corpus is committed
(tests/fixtures/identifiers-stdnum.tsv) so the native tests need no Python;
`--check` (run by scripts/test.sh) regenerates it and fails if it differs, so the
fixture is stdnum's own output, not something edited to agree with tillit.

Left out of the corpus, because the two implementations differ by design (each asserted
separately in the Rust test):
- synthetic numbers (month + 80, Skatteetaten's test persons): stdnum refuses them, tillit
  accepts them;
- day + 40 and month + 40 together: stdnum accepts, tillit refuses (a number is a D-number
  or an H-number, not both);
- birth dates from 2025 on: stdnum refuses numbers of people not yet born, which depends
  on the day it runs; tillit does not look at today's date.

Usage: identifiers.py --write | --check
"""
import random
import sys
from pathlib import Path

from stdnum.no import fodselsnummer, orgnr

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "identifiers-stdnum.tsv"
SEED = 20261202


def century(yy: int, individual: int):
    if individual < 500:
        return 1900 + yy
    if individual < 750 and yy >= 54:
        return 1800 + yy
    if individual < 1000 and yy < 40:
        return 2000 + yy
    if individual >= 900 and yy >= 40:
        return 1900 + yy
    return None


def in_scope(prefix: str) -> bool:
    day, month, yy, ind = int(prefix[0:2]), int(prefix[2:4]), int(prefix[4:6]), int(prefix[6:9])
    if 81 <= month <= 92:
        return False
    if day > 40 and month > 40:
        return False
    year = century(yy, ind)
    return year is None or year < 2025


def fnr_candidates(rng: random.Random):
    out = []
    while len(out) < 6000:
        kind = rng.random()
        day = rng.randint(0, 32)
        month = rng.randint(0, 13)
        if kind < 0.25:
            day += 40  # D-number
        elif kind < 0.4:
            month += 40  # H-number
        elif kind < 0.45:
            day, month = rng.randint(0, 99), rng.randint(0, 99)  # anything
        prefix = f"{day:02d}{month:02d}{rng.randint(0, 99):02d}{rng.randint(0, 999):03d}"
        if not in_scope(prefix):
            continue
        valid = [s for s in (f"{i:02d}" for i in range(100)) if fodselsnummer.is_valid(prefix + s)]
        picks = valid + [f"{rng.randint(0, 99):02d}" for _ in range(2)]
        for s in picks:
            out.append(prefix + s)
    return out


def orgnr_candidates(rng: random.Random):
    out = []
    while len(out) < 3000:
        prefix = f"{rng.randint(0, 99999999):08d}"
        valid = [prefix + str(d) for d in range(10) if orgnr.is_valid(prefix + str(d))]
        out.extend(valid + [prefix + str(rng.randint(0, 9)) for _ in range(2)])
    return out


def corpus() -> str:
    rng = random.Random(SEED)
    lines = ["# kind\tdigits\tvalid per python-stdnum (tests/oracles/identifiers.py; do not edit)"]
    seen = set()
    for n in fnr_candidates(rng):
        if ("fnr", n) not in seen:
            seen.add(("fnr", n))
            lines.append(f"fnr\t{n}\t{int(fodselsnummer.is_valid(n))}")
    for n in orgnr_candidates(rng):
        if ("orgnr", n) not in seen:
            seen.add(("orgnr", n))
            lines.append(f"orgnr\t{n}\t{int(orgnr.is_valid(n))}")
    return "\n".join(lines) + "\n"


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "--check"
    text = corpus()
    if mode == "--write":
        FIXTURE.write_text(text)
        print(f"wrote {FIXTURE} ({text.count(chr(10)) - 1} candidates)")
        return 0
    if mode == "--check":
        if FIXTURE.read_text() != text:
            print(f"{FIXTURE} is not python-stdnum's verdict on the seeded corpus: regenerate "
                  "with tests/oracles/identifiers.py --write and review the difference")
            return 1
        print(f"identifier oracle: {text.count(chr(10)) - 1} stdnum verdicts match the fixture")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
