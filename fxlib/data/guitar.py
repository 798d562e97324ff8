"""Synthesised dry DI: electric guitar and bass phrases from an extended Karplus–Strong string.

The embedded dataset needs a dry input that *behaves* like the IDMT-SMT guitar/bass recordings of
Wright et al. (DAFx 2019): plucked strings with realistic attack, decay and spectrum, monophonic
lines and polyphonic chords in similar proportions. It is built offline from a seed.

String model (Karplus & Strong 1983, extended by Jaffe & Smith, CMJ 7(2) 1983; see also
J. O. Smith, *Physical Audio Signal Processing*, "Extended Karplus-Strong Algorithm")::

    s[n] = e[n] + rho * A(z) H_d(z) z^-N s[n]
    H_d(z) = (1 - b) + b z^-1        damping, b in [0, 0.5]: higher = darker, faster treble decay
    A(z)   = (C + z^-1)/(1 + C z^-1) first-order allpass, C = (1 - D)/(1 + D): fractional tuning
    N + b + D = fs / f0              exact loop delay, D in [0.1, 1.1)
    rho = 10^(-3 / (T60 f0))         loop gain per period: the fundamental decays 60 dB in T60

Excitation: one period of seeded, zero-mean white noise, low-passed by a one-pole filter whose
pole rises as the velocity falls (soft notes are darker), times the pick-position comb
``1 - z^-round(beta P)`` (beta = pluck point as a fraction of the string). The string output is
taken through a pickup-position comb ``1 - z^-round(gamma P)``, and each phrase through a
second-order resonant low-pass (pickup inductance + cable capacitance, 1.5–5 kHz, Q 0.9–2.5) and
a -6 dB/octave tilt above 60 Hz: the loop starts with a flat harmonic envelope, while a plucked
string's velocity (what a magnetic pickup senses) has harmonics ~ sin(pi k beta) sin(pi k gamma)/k
(Smith, PASP, "plucked string"). Those combs, resonance and tilt give the DI its colour. A palm
mute is a short T60 (60–250 ms) with heavy damping; a note is stopped (next note on the same
string, end of phrase) by switching rho to a fast decay (release T60 40–90 ms), as a fretting
hand does.

Ranges follow standard tuning with 24 frets: guitar E2 (82.4 Hz) to E6 (1318.5 Hz), bass E1
(41.2 Hz) to G4 (392 Hz).

Phrases (:func:`make_score`): each phrase is one instrument and one texture, cycled in shuffled
blocks of the four combinations {guitar, bass} x {mono, poly} so the proportions stay near 50/50 in
any stretch of a dozen phrases or more. Mono: scale-walking lines (legato/staccato, occasional
rests) and palm-muted riffs with open accents. Poly: strummed chords (per-string offsets 5-30 ms,
log-uniform, down/up strums, some palm-muted), power-chord chugs, let-ring arpeggios, bass double
stops. Every phrase has its own tempo, key, pickup, dynamic level and dynamic shape (flat,
crescendo, decrescendo) plus per-note velocity jitter and accents; phrases are separated by short
rests. Each rendered phrase is scaled so that its peak equals its dynamic level (0.3-1), which
keeps a split's loudness independent of its length; the split is then normalised to peak 0.5 (DI
units, read as volts by the circuit models) over a -140 dB seeded noise floor.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.signal import bilinear, lfilter

from ..thesis import SAMPLE_RATE

FS = SAMPLE_RATE

#: Columns of a note table (one structured-array row per note; times in samples).
NOTE_DTYPE = np.dtype([
    ("onset", "i8"),      # first sample of the note
    ("off", "i8"),        # sample at which the note is stopped (fast release begins)
    ("f0", "f8"),         # fundamental, Hz (tuning includes a few cents of per-string detune)
    ("amp", "f8"),        # excitation gain (velocity and instrument level)
    ("t60", "f8"),        # decay time while held, s
    ("t60_off", "f8"),    # decay time after the stop, s
    ("damp", "f8"),       # loop damping coefficient b
    ("bright", "f8"),     # excitation one-pole coefficient (0 = bright)
    ("beta", "f8"),       # pluck position, fraction of the string
    ("pickup", "f8"),     # pickup position, fraction of the string
    ("inst", "i8"),       # 0 guitar, 1 bass
    ("string", "i8"),     # string index, low to high
    ("phrase", "i8"),     # index of the phrase the note belongs to
])

#: Below this level (re. the excitation) a held note is no longer rendered; -80 dB.
_FLOOR_DB = 80.0


@njit(cache=True, nogil=True)
def _render_notes(out, onset, n_on, n_tot, period, rho_on, rho_off, damp, beta, pickup, amp,
                  bright, noise, noise_start, scratch):
    """Add every note into ``out`` (onsets relative to ``out[0]``). Per-sample string loop."""
    n_out = out.shape[0]
    for i in range(onset.shape[0]):
        P = period[i]
        b = damp[i]
        N = int(P - b - 0.1)
        D = P - b - N                      # allpass delay in [0.1, 1.1): well-behaved Thiran range
        C = (1.0 - D) / (1.0 + D)
        # Excitation: zero-mean noise period -> velocity low-pass -> pick-position comb.
        le = int(P + 0.5)
        mb = max(1, int(beta[i] * P + 0.5))
        w0 = noise_start[i]
        mean = 0.0
        for n in range(le):
            mean += noise[w0 + n]
        mean /= le
        a = bright[i]
        lp = 0.0
        energy = 0.0
        exc = scratch[1]
        for n in range(le + mb):
            if n < le:
                lp = (1.0 - a) * (noise[w0 + n] - mean) + a * lp
            else:
                lp = a * lp                # the filter tail rings on after the noise burst
            exc[n] = lp
        for n in range(le + mb - 1, -1, -1):
            exc[n] = exc[n] - (exc[n - mb] if n >= mb else 0.0)
            energy += exc[n] * exc[n]
        g = amp[i] / np.sqrt(energy / le + 1e-30)
        # String loop.
        s = scratch[0]
        total = n_tot[i]
        d_prev = 0.0
        a_prev = 0.0
        for n in range(total):
            xd = s[n - N] if n >= N else 0.0
            xd1 = s[n - N - 1] if n >= N + 1 else 0.0
            d = (1.0 - b) * xd + b * xd1
            ap = C * d + d_prev - C * a_prev
            d_prev = d
            a_prev = ap
            r = rho_on[i] if n < n_on[i] else rho_off[i]
            e = g * exc[n] if n < le + mb else 0.0
            s[n] = e + r * ap
        # Pickup comb and a 2 ms fade at the very end so a truncated tail never clicks.
        mp = max(1, int(pickup[i] * P + 0.5))
        fade = min(88, total)
        o = onset[i]
        for n in range(total):
            k = o + n
            if k < 0:
                continue
            if k >= n_out:
                break
            v = s[n] - (s[n - mp] if n >= mp else 0.0)
            if n >= total - fade:
                v *= (total - n) / fade
            out[k] += v


def _pickup_filter(fc: float, q: float, fs: int = FS):
    """Second-order resonant low-pass (pickup L with cable C), bilinear with prewarping."""
    w = 2.0 * fs * np.tan(np.pi * fc / fs)
    return bilinear([w * w], [1.0, w / q, w * w], fs)


def render(notes: np.ndarray, phrases: list, n_samples: int, fs: int = FS,
           seed_seq: np.random.SeedSequence | None = None) -> np.ndarray:
    """Render a note table (see :data:`NOTE_DTYPE`) phrase by phrase into ``n_samples`` (float64).

    ``phrases`` are :class:`Phrase` records; each phrase's notes are rendered
    into a buffer that is filtered by that phrase's pickup resonance and added to the output.
    ``seed_seq`` seeds the excitation noise (deterministic).
    """
    rng = np.random.default_rng(seed_seq)
    out = np.zeros(n_samples)
    for ph in phrases:
        sel = notes[notes["phrase"] == ph.index]
        if sel.size == 0:
            continue
        period = fs / sel["f0"]
        t60_cap = np.ceil(sel["t60"] * fs * _FLOOR_DB / 60.0).astype(np.int64)
        n_on = np.minimum(sel["off"] - sel["onset"], t60_cap)
        n_tot = n_on + np.ceil(sel["t60_off"] * fs).astype(np.int64)   # -60 dB after the stop
        start = int(sel["onset"].min())
        if start >= n_samples:
            continue
        stop = int(min(n_samples, (sel["onset"] + n_tot).max()))
        le = (period + 0.5).astype(np.int64)
        noise = rng.standard_normal(int(le.sum()))
        noise_start = np.concatenate([[0], np.cumsum(le)[:-1]]).astype(np.int64)
        longest = int(max(n_tot.max(), (le + np.maximum(1, sel["beta"] * period + 0.5)).max())) + 2
        scratch = np.zeros((2, longest))
        buf = np.zeros(stop - start)
        _render_notes(buf, sel["onset"] - start, n_on, n_tot, period,
                      10.0 ** (-3.0 / (sel["t60"] * sel["f0"])),
                      10.0 ** (-3.0 / (sel["t60_off"] * sel["f0"])),
                      sel["damp"], sel["beta"], sel["pickup"], sel["amp"], sel["bright"],
                      noise, noise_start, scratch)
        b, a = _pickup_filter(ph.pickup_fc, ph.pickup_q, fs)
        buf = lfilter(b, a, buf)
        # The loop's harmonics start flat (white excitation); a plucked string's velocity, which
        # a magnetic pickup senses, falls as 1/k: one-pole tilt, -6 dB/octave above tilt_hz.
        pole = np.exp(-2.0 * np.pi * PARAMS["tilt_hz"] / fs)
        buf = lfilter([1.0 - pole], [1.0, -pole], buf)
        # Each phrase peaks at its own dynamic level: the split's loudness then no longer hangs
        # on one rare pile-up of strings, so short and long splits drive the effects alike.
        out[start:stop] += buf * (ph.level / (np.max(np.abs(buf)) + 1e-30))
    return out


def midi_to_hz(m) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(m, dtype=float) - 69.0) / 12.0)


# ---------------------------------------------------------------------------------------------
# Score: phrases and notes
# ---------------------------------------------------------------------------------------------
OPEN = {"guitar": (40, 45, 50, 55, 59, 64), "bass": (28, 33, 38, 43)}   # MIDI, standard tuning
N_FRETS = 24                                                          # E6 = 88, G4 = 67
SCALES = ((0, 3, 5, 7, 10), (0, 2, 3, 5, 7, 8, 10), (0, 2, 4, 5, 7, 9, 11), (0, 3, 5, 6, 7, 10),
          (0, 2, 3, 5, 7, 9, 10), (0, 2, 4, 5, 7, 9, 10))
#: Movable chord shapes: (root string, fret offsets on consecutive strings, root pitch class of
#: the open shape). E/A/D shapes in major, minor and dominant 7th, plus power chords.
SHAPES = {
    "maj": ((0, (0, 2, 2, 1, 0, 0), 4), (1, (0, 2, 2, 2, 0), 9), (2, (0, 2, 3, 2), 2)),
    "min": ((0, (0, 2, 2, 0, 0, 0), 4), (1, (0, 2, 2, 1, 0), 9), (2, (0, 2, 3, 1), 2)),
    "dom7": ((0, (0, 2, 0, 1, 0, 0), 4), (1, (0, 2, 0, 2, 0), 9)),
    "pow": ((0, (0, 2, 2), 4), (1, (0, 2, 2), 9)),
}
#: Every random range of the synthesis (seconds, Hz, fractions); goes into the manifest.
PARAMS = {
    "fs": FS, "peak": 0.5, "noise_floor_re_peak": 1e-7, "render_floor_db": _FLOOR_DB,
    "open_midi": OPEN, "frets": N_FRETS,
    "phrase_s": (1.5, 4.0), "ring_s": (0.2, 1.0), "rest_s": (0.08, 0.7), "rest_prob": 0.6,
    "tempo_bpm": (75.0, 150.0), "phrase_level": (0.3, 1.0), "timing_sd_s": 0.004,
    "detune_cents": 3.0, "strum_offset_s": (0.005, 0.03), "release_t60_s": (0.04, 0.09),
    "velocity_exponent": 1.6, "tilt_hz": 60.0,
    "guitar": {"t60_at_e2_s": 5.0, "t60_exponent": -0.45, "t60_spread": (0.8, 1.25),
               "damp_wound": (0.15, 0.3), "damp_plain": (0.05, 0.2), "pluck": (0.06, 0.2),
               "pickup_bridge": (0.06, 0.1), "pickup_neck": (0.2, 0.27), "bridge_prob": 0.6,
               "resonance_hz": (2500.0, 5000.0), "resonance_q": (1.0, 2.5), "level": 1.0},
    "bass": {"t60_at_e1_s": 7.0, "t60_exponent": -0.4, "t60_spread": (0.8, 1.25),
             "damp": (0.25, 0.45), "pluck": (0.1, 0.3), "pickup": (0.08, 0.2),
             "resonance_hz": (1500.0, 3500.0), "resonance_q": (0.9, 2.0), "level": 1.2},
    "palm_mute": {"t60_s": (0.06, 0.25), "damp": (0.38, 0.5), "darker": 0.2},
}


@dataclass(frozen=True)
class Phrase:
    index: int
    start: int            # samples
    end: int              # samples; every note of the phrase is stopped by here
    instrument: str       # "guitar" | "bass"
    texture: str          # "mono" | "poly"
    kind: str             # line | muted | strum | chug | arpeggio | double_stop
    tempo: float          # BPM
    level: float          # phrase peak re. the loudest phrase (dynamics between phrases)
    pickup_fc: float      # pickup resonance, Hz
    pickup_q: float


class _Score:
    """Accumulates notes of one phrase with instrument-dependent physical parameters."""

    def __init__(self, rng, inst, start_s, level, shape, gamma):
        self.rng, self.inst, self.t0, self.level, self.shape = rng, inst, start_s, level, shape
        self.gamma = gamma
        self.rows = []

    def vel(self, frac, accent=0.0):
        v = self.level * (1.0 + self.shape * (frac - 0.5)) + accent + self.rng.normal(0.0, 0.06)
        return float(np.clip(v, 0.08, 1.0))

    def add(self, t, dur, midi, string, vel, muted=False):
        r, bass, P = self.rng, self.inst == "bass", PARAMS
        q = P[self.inst]
        f0 = float(midi_to_hz(midi)) * 2.0 ** (r.uniform(-1, 1) * P["detune_cents"] / 1200.0)
        # Low notes ring longer: T60 falls as a power of f0 from its value at the open low E.
        f_ref, t_ref = (41.2, q["t60_at_e1_s"]) if bass else (82.4, q["t60_at_e2_s"])
        t60 = r.uniform(*q["t60_spread"]) * t_ref * (f0 / f_ref) ** q["t60_exponent"]
        if bass:
            damp = r.uniform(*q["damp"])
        else:                   # wound strings (E A D) lose treble faster
            damp = r.uniform(*(q["damp_wound"] if string < 3 else q["damp_plain"]))
        if muted:
            t60, damp = r.uniform(*P["palm_mute"]["t60_s"]), r.uniform(*P["palm_mute"]["damp"])
        # Softer notes are darker; fingers (bass) are darker than a pick.
        bright = (0.35 + 0.4 * (1 - vel)) if bass else (0.05 + 0.55 * (1 - vel) ** 1.5)
        bright = min(0.95, bright + (P["palm_mute"]["darker"] if muted else 0.0))
        onset = self.t0 + t + r.normal(0.0, P["timing_sd_s"])     # human timing
        self.rows.append((onset, onset + dur, f0, vel ** P["velocity_exponent"] * q["level"], t60,
                          r.uniform(*P["release_t60_s"]), damp, bright, r.uniform(*q["pluck"]),
                          self.gamma, int(bass), string))


def _place(inst, midi, pos):
    """String for a pitch: fret within [0, 24], nearest to the hand position ``pos``."""
    opens = OPEN[inst]
    best = min((abs(midi - o - pos), s) for s, o in enumerate(opens) if 0 <= midi - o <= N_FRETS)
    return best[1]


def _chord(rng, inst, root_pc, quality):
    """(string, midi) list for a chord: a movable shape at a playable fret (<= 12)."""
    opens = OPEN[inst]
    if inst == "bass":       # double stop / arpeggio material: root + 5th, octave, 10th or 4th
        s = int(rng.integers(0, 3))
        fret = (root_pc - opens[s] % 12) % 12
        root = opens[s] + fret
        notes = [(s, root)]
        for iv in rng.choice([7, 12, 16, 5], size=int(rng.integers(1, 3)), replace=False):
            ss = _place(inst, root + int(iv), fret)
            if ss != s and all(ss != n[0] for n in notes):
                notes.append((ss, root + int(iv)))
        return notes
    options = SHAPES[quality]
    s0, offs, open_pc = options[int(rng.integers(0, len(options)))]
    fret = (root_pc - open_pc) % 12
    return [(s0 + k, opens[s0 + k] + fret + o) for k, o in enumerate(offs)]


def _phrase_notes(sc, texture, tempo, length, key):
    """Fill one phrase (times relative to its start, seconds). Returns the kind chosen."""
    r, inst = sc.rng, sc.inst
    beat = 60.0 / tempo
    lo, hi = (40, 88) if inst == "guitar" else (28, 67)
    scale = SCALES[int(r.integers(0, len(SCALES)))]
    if texture == "mono":
        kind = "line" if r.random() < 0.65 else "muted"
        step = beat * r.choice([1.0, 0.5, 0.5, 0.25, 1 / 3])
        if kind == "line":
            pitches = [p for p in range(lo, hi + 1) if (p - key) % 12 in scale]
            centre = (0.4, 0.22) if inst == "guitar" else (0.25, 0.15)   # bass sits low
            idx = int(np.clip(r.normal(*centre), 0, 0.9) * (len(pitches) - 1))
            legato = r.uniform(0.6, 1.0)
        else:
            step = beat * r.choice([0.5, 0.25])
            root = lo + (key - lo) % 12
        t = 0.0
        while t < length:
            units = int(r.choice([1, 1, 1, 1, 2, 2, 3])) if kind == "line" else 1
            accent = 0.12 if abs(t / beat - round(t / beat)) < 1e-6 else 0.0
            if r.random() >= 0.08:                          # otherwise a short rest
                if kind == "line":
                    idx = int(np.clip(idx + r.choice([-3, -2, -1, -1, 0, 1, 1, 2, 3, 5, -5]),
                                      0, len(pitches) - 1))
                    midi, dur, muted = pitches[idx], units * step * legato, False
                else:
                    muted = r.random() < 0.8
                    midi = root + (0 if muted else int(r.choice([0, 3, 5, 7, 10, 12])))
                    dur = step
                s = _place(inst, midi, 2 if kind == "muted" else r.integers(0, 13))
                sc.add(t, dur, midi, s, sc.vel(t / length, accent), muted)
            t += units * step
        return kind
    if inst == "bass":
        kind = "double_stop" if r.random() < 0.5 else "arpeggio"
    else:
        kind = str(r.choice(["strum", "strum", "chug", "arpeggio"]))
    degrees = [(0, "min"), (3, "maj"), (5, "min"), (7, "maj"), (8, "maj"), (10, "maj"),
               (2, "min"), (7, "dom7"), (0, "maj"), (5, "maj")]
    t, chord_end = 0.0, 0.0
    while t < length:
        deg, quality = degrees[int(r.integers(0, len(degrees)))]
        quality = "pow" if kind == "chug" else quality
        notes = _chord(r, inst, (key + deg) % 12, quality)
        chord_end = min(length, t + beat * int(r.choice([2, 3, 4])))
        step = beat * (0.25 if kind == "chug" and r.random() < 0.4 else 0.5)
        while t < chord_end - 1e-9:
            on_beat = abs(t / beat - round(t / beat)) < 1e-6
            frac = t / length
            if kind == "arpeggio":
                i = int(r.integers(0, len(notes)))
                s, midi = notes[i]
                sc.add(t, chord_end - t + 0.05, midi, s, sc.vel(frac, 0.1 * on_beat))
            elif kind in ("strum", "chug", "double_stop") and (on_beat or r.random() < 0.45):
                down = on_beat or r.random() < 0.3
                order = notes if down else notes[::-1][: int(r.integers(2, len(notes) + 1))]
                spread = float(np.exp(r.uniform(*np.log(PARAMS["strum_offset_s"]))))  # log-unif.
                muted = (kind == "chug" and r.random() < 0.75) or \
                    (kind == "strum" and r.random() < 0.12)
                ring = step if muted else beat * float(r.choice([0.5, 1, 2, 4]))
                v = sc.vel(frac, 0.12 * on_beat - (0 if down else 0.1))
                for k, (s, midi) in enumerate(order):
                    sc.add(t + k * spread, ring, midi, s,
                           float(np.clip(v * r.uniform(0.85, 1.05), 0.05, 1)), muted)
                if kind == "double_stop":
                    step = beat * float(r.choice([1, 2]))
            t += step
        t = chord_end
    return kind


def make_score(n_samples: int, seed_seq: np.random.SeedSequence, fs: int = FS):
    """Phrases and note table (:data:`NOTE_DTYPE`) filling ``n_samples``, deterministically."""
    rng, P = np.random.default_rng(seed_seq), PARAMS
    combos = [("guitar", "mono"), ("guitar", "poly"), ("bass", "mono"), ("bass", "poly")]
    queue, phrases, rows = [], [], []
    t = rng.uniform(0.02, 0.2)
    total = n_samples / fs
    while t < total - 0.25:
        if not queue:
            queue = [combos[i] for i in rng.permutation(4)]
        inst, texture = queue.pop()
        q = P[inst]
        length = min(rng.uniform(*P["phrase_s"]), total - t)
        ring = rng.uniform(*P["ring_s"])
        if inst == "guitar":
            bridge = rng.random() < q["bridge_prob"]
            gamma = rng.uniform(*(q["pickup_bridge"] if bridge else q["pickup_neck"]))
        else:
            gamma = rng.uniform(*q["pickup"])
        fc, res_q = rng.uniform(*q["resonance_hz"]), rng.uniform(*q["resonance_q"])
        shape = rng.choice([0.0, 0.0, -0.6, 0.6]) * rng.random()    # flat, cresc., decresc.
        level = rng.uniform(*P["phrase_level"])
        sc = _Score(rng, inst, t, level, shape, gamma)
        tempo = rng.uniform(*P["tempo_bpm"])
        kind = _phrase_notes(sc, texture, tempo, length, int(rng.integers(0, 12)))
        end = min(total, t + length + ring)
        idx = len(phrases)
        phrases.append(Phrase(idx, int(round(t * fs)), int(round(end * fs)), inst, texture, kind,
                              float(tempo), float(level), float(fc), float(res_q)))
        rows += [row[:1] + (min(row[1], end),) + row[2:] + (idx,) for row in sc.rows]
        t = end + (rng.uniform(*P["rest_s"]) if rng.random() < P["rest_prob"] else 0.0)
    notes = np.array(rows, dtype=[(n, "f8") for n in NOTE_DTYPE.names]) if rows else \
        np.zeros(0, NOTE_DTYPE)
    out = np.zeros(len(notes), NOTE_DTYPE)
    for name in NOTE_DTYPE.names:
        v = notes[name]
        out[name] = np.round(v * fs) if name in ("onset", "off") else v
    out["onset"] = np.maximum(out["onset"], 0)
    # One note per string at a time: a new pluck stops the previous note on that string.
    order = np.lexsort((out["onset"], out["string"], out["inst"]))
    o = out[order]
    same = (o["inst"][1:] == o["inst"][:-1]) & (o["string"][1:] == o["string"][:-1])
    o["off"][:-1] = np.where(same, np.minimum(o["off"][:-1], o["onset"][1:]), o["off"][:-1])
    o["off"] = np.maximum(o["off"], o["onset"] + 1)
    return phrases, o[np.argsort(o["onset"], kind="stable")]


def score_stats(phrases: list, n_samples: int) -> dict:
    """Share of phrase time per instrument and texture, rest share, counts."""
    dur = {k: 0 for k in ("guitar", "bass", "mono", "poly")}
    for p in phrases:
        dur[p.instrument] += p.end - p.start
        dur[p.texture] += p.end - p.start
    played = max(1, dur["guitar"] + dur["bass"])
    return {"guitar": dur["guitar"] / played, "bass": dur["bass"] / played,
            "mono": dur["mono"] / played, "poly": dur["poly"] / played,
            "silence": 1.0 - played / n_samples, "phrases": len(phrases)}


def synth_di(n_samples: int, entropy: int, peak: float = PARAMS["peak"], fs: int = FS):
    """Dry DI for one split: ``(x float32 peak-normalised, phrases, notes)``, all from ``entropy``.

    A -140 dB (re. peak) seeded noise floor is added before normalising: real DIs are never
    digitally silent, and it keeps every downstream recursive filter out of denormal range.
    """
    seeds = [np.random.SeedSequence(entropy, spawn_key=(k,)) for k in range(3)]
    phrases, notes = make_score(n_samples, seeds[0], fs)
    x = render(notes, phrases, n_samples, fs, seeds[1])
    top = float(np.max(np.abs(x))) or 1.0
    x += PARAMS["noise_floor_re_peak"] * top * np.random.default_rng(seeds[2]).standard_normal(
        n_samples)
    x *= peak / float(np.max(np.abs(x)))
    if not np.all(np.isfinite(x)):
        raise RuntimeError("DI synthesis produced non-finite samples")
    return x.astype(np.float32), phrases, notes
