"""(e) Warm disk cache: a second run of benchmark c's grid search with ``cache_dir`` encodes nothing.

Runs ``grid_search.py --only grid --cache-dir DIR --json`` twice, each in a
fresh process (empty memory caches, models loaded from disk), on the same
fresh cache directory, and prints the encoder call counts (audio clips of
each model, prompt texts) and wall time of both runs. Target: the second run
encodes 0 clips and 0 texts.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import base_parser, header


def main():
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=48)
    parser.add_argument("--fm-size", choices=["large", "base"], default="large")
    parser.add_argument("--cache-dir", type=Path, default=None, help="default: a new temporary directory")
    args = parser.parse_args()
    header("warm disk cache: grid search run twice (benchmark e)", args)

    with tempfile.TemporaryDirectory(prefix="zsfuse-cache-") as tmp:
        cache_dir = args.cache_dir or Path(tmp)
        script = Path(__file__).with_name("grid_search.py")
        cmd = [sys.executable, str(script), "--only", "grid", "--json", "--cache-dir", str(cache_dir),
               "--clips", str(args.clips), "--fm-size", args.fm_size, "--threads", str(args.threads),
               "--data", str(args.data), "--models-dir", str(args.models_dir)]
        runs = []
        for name in ("first run (cold cache)", "second run (warm cache)"):
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode:
                sys.exit(proc.stdout + proc.stderr)
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            runs.append(r)
            counts = {k: v for k, v in r.items() if k != "seconds"}
            print(f"{name:24s}: {r['seconds']:7.1f} s in the grid search, encoded {counts}", flush=True)
        entries = sum(1 for _ in cache_dir.rglob("*.zsf"))
        size = sum(p.stat().st_size for p in cache_dir.rglob("*.zsf"))
        print(f"cache: {entries} entries, {size / 1e6:.1f} MB in {cache_dir}")
    warm = runs[1]
    encoded = warm["alm_audio_clips"] + warm["fm_audio_clips"] + warm["alm_texts"]
    print(f"RATIO warm / cold grid time = {warm['seconds'] / runs[0]['seconds']:.3f}")
    print(f"second run encoded {encoded} clips/texts (target 0: {'met' if encoded == 0 else 'NOT met'})")


if __name__ == "__main__":
    main()
