"""fxlib: neural models of guitar effects and knowledge distillation to make them fast.

A small library behind a reproducible study (a 2023 U. de Chile thesis on knowledge distillation
for audio-effect models; the study in the project's own words is in docs/README.md):

* ``fxlib.models``  -- CAFx (A, Av2) and recurrent (B, C and smaller) models, the registry;
* ``fxlib.losses``  -- ESR, DC, pre-emphasis, E_B = ESR + DC, MAE;
* ``fxlib.io``      -- the Wright et al. JSON model format;
* ``fxlib.timing``  -- the thesis's inference-time protocol (``python -m fxlib.bench``);
* ``fxlib.thesis``  -- the thesis's published numbers, for side-by-side tables.
"""
from . import losses
from .models import FAMILY, MODEL_NAMES, build_model, count_parameters

__version__ = "0.1.0"
__all__ = ["MODEL_NAMES", "FAMILY", "build_model", "count_parameters", "losses", "__version__"]
