"""Synthesise a small German corpus with espeak-ng, for trying `zsfuse evaluate --dataset csv`.

    apt-get install -y espeak-ng
    python examples/make_espeak_corpus.py /tmp/corpus
    zsfuse evaluate --dataset csv --root /tmp/corpus --fm egemaps --alm tiny-clap \\
        --prompt wuetend=angry froehlich=happy traurig=sad gelangweilt=bored

8 German sentences x 8 synthetic speakers (espeak-ng German voice variants) x 5
speaking styles made of prosody settings (rate, pitch, pitch range, volume), named
in German: neutral, wuetend, froehlich, traurig, gelangweilt. Every clip's settings
are jittered around its style's, so styles overlap a little. The labels are prosody
styles of a formant synthesiser, not acted emotions: the corpus exercises the
folder + metadata.csv path (another language, other label names, speaker folds),
not emotion recognition in the wild. It is written outside the repository.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
from pathlib import Path

import numpy as np

SENTENCES = [
    "Der Zug kommt heute später als geplant.",
    "Ich habe das Paket gestern zur Post gebracht.",
    "Morgen fahren wir mit dem Fahrrad an den See.",
    "Die Kinder spielen im Garten hinter dem Haus.",
    "Das Essen steht schon auf dem Tisch.",
    "Wir treffen uns um acht Uhr vor dem Kino.",
    "Der Hund schläft neben der offenen Tür.",
    "Sie hat die Fenster im ganzen Haus geputzt.",
]
VOICES = ["de+m1", "de+m3", "de+f1", "de+f2", "de+f4", "de+klatt", "de+Andrea", "de+Boris"]
# style: (words per minute, pitch 0-99, amplitude 0-200, SSML pitch range)
STYLES = {
    "neutral": (155, 50, 100, "medium"),
    "wuetend": (195, 62, 180, "high"),
    "froehlich": (180, 78, 130, "x-high"),
    "traurig": (115, 30, 70, "low"),
    "gelangweilt": (125, 38, 85, "x-low"),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="folder to create (outside the repository)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    audio = args.out / "audio"
    audio.mkdir(parents=True, exist_ok=True)
    rows = []
    for s, voice in enumerate(VOICES, start=1):
        speaker = f"sprecher{s:02d}"
        for style, (rate, pitch, amplitude, pitch_range) in STYLES.items():
            for t, sentence in enumerate(SENTENCES, start=1):
                name = f"{speaker}_{style}_satz{t:02d}.wav"
                jitter = rng.normal(0, 0.08, size=3)
                cmd = [
                    "espeak-ng", "-v", voice, "-m",
                    "-s", str(int(rate * (1 + jitter[0]))),
                    "-p", str(int(np.clip(pitch * (1 + jitter[1]), 0, 99))),
                    "-a", str(int(np.clip(amplitude * (1 + jitter[2]), 10, 200))),
                    "-w", str(audio / name),
                    f"<speak><prosody range='{pitch_range}'>{sentence}</prosody></speak>",
                ]
                subprocess.run(cmd, check=True, capture_output=True)
                rows.append((f"audio/{name}", style, speaker))
    with open(args.out / "metadata.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label", "speaker"])
        writer.writerows(rows)
    print(f"{len(rows)} clips, {len(VOICES)} speakers, {len(STYLES)} labels: {args.out / 'metadata.csv'}")


if __name__ == "__main__":
    main()
