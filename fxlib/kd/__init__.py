"""Knowledge-distillation building blocks: teacher outlier rejection (TOR) and data-free (DF).

* ``fxlib.kd.tor``: TOR loss (Takamoto et al., MIPR 2020, thesis variant) for training a student
  on data with a teacher's help.
* ``fxlib.kd.df``: data-free KD (Kang & Kang, ESWA 2021): generator, losses, α schedule and a
  distiller that never sees data.
"""
from .df import (DFDistiller, Generator, alpha_schedule, discrepancy, freeze, generator_loss,
                 student_loss)
from .tor import (FAMILY_LOSS, STUDENT_LOSSES, TORLoss, epsilon_from_residuals,
                  rejected_fraction, tor_loss, tor_mask)

__all__ = ["TORLoss", "tor_loss", "tor_mask", "epsilon_from_residuals", "rejected_fraction",
           "STUDENT_LOSSES", "FAMILY_LOSS",
           "DFDistiller", "Generator", "generator_loss", "student_loss", "alpha_schedule",
           "discrepancy", "freeze"]
