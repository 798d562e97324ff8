"""Data-free (DF) knowledge distillation for regression.

Kang & Kang, "Data-free knowledge distillation in neural networks for regression",
Expert Systems with Applications 175:114813, 2021; official code
Myeonginn-Kang/datafree_kd_regression ``proposed.py`` (docs/kd.md, section 'DF').

A generator G maps noise z ~ N(0, I_50) to input segments x_g that make teacher T and student S
disagree; the student then learns to agree with the teacher on x_g and on plain Gaussian noise
x_p. **No data is used**: ``DFDistiller`` only has the teacher, the student, the generator and
noise — it accepts no dataset.

One outer iteration (``DFDistiller.step``): 1 generator step (teacher and student frozen), then
n_s = 10 student steps (generator and teacher frozen), each with fresh z and x_p (one batch of 2m
through each model); batch m = 50; RMSProp lr 1e-3 for both; α = 1 - iteration/total (linear
1 → 0); β = γ = 1e-5.

Decisions:

* **β and γ are applied.** In the official code the β‖x_g‖² and γS(x_g)² terms sit on a
  continuation line without parentheses, so Python drops them and the published code optimises
  only the negative discrepancy. Here they are part of the loss, as in the paper's equation.
  ‖x_g‖² is the squared norm of each generated segment (sum over samples), averaged over the
  batch (the paper's per-example expectation; the zhoutianxun PyTorch port sums over the batch,
  m× larger). With segment length L and unit-variance x_g, β‖x_g‖² ≈ β·L (0.04 for L = 4096).
* **Input scale.** DF assumes inputs in the teacher's standardised space z = (x - μ)/σ (the
  "std" teachers of the study): ``input_scale = 1`` and x_p ~ N(0, 1). For a teacher trained on
  raw audio (the Wright et al. JSON models, guitar DI with ~±0.5 peaks), set ``input_scale`` to
  a raw-audio RMS, e.g. 0.1 (a typical guitar-DI RMS, about -20 dBFS): then x_p ~ N(0, 0.1²) and
  the generator's linear output is multiplied by 0.1, so both input streams live at the scale
  the teacher was trained on. The β term is computed on the scaled x_g the models see.
* **Recurrent models: state reset per segment.** Teacher and student are callables mapping
  (batch, samples) → (batch, samples). Every generated or noise segment is an independent
  input, so RNNs process each from the zero state (``RecurrentModel.forward`` does exactly this;
  no state is carried between segments or iterations, and no warm-up is used: there is no
  "previous audio" for a generated segment). For CAFx pass ``model.forward_frames`` with
  ``segment_length = model.frame_length`` (4096).
* **Freezing.** The teacher's parameters get ``requires_grad = False`` and the module is put in
  ``eval()`` mode; its outputs are computed under ``torch.no_grad``. Backward passes are
  restricted (``backward(inputs=...)``) to the generator's parameters in the G step and to the
  student's in the S step, so neither ever receives the other's gradients.
* **Optimiser note.** RMSprop's square average starts at 0, so its first update is a sign step
  of about 10 × lr per weight; at the official lr 1e-3 the very first generator step can
  overshoot and lower the discrepancy on its own batch (seen on some toy seeds). This is the
  official setting and is kept; the direction of L_G is tested at lr 1e-4.
* **Determinism.** All noise (z, x_p) is drawn from the distiller's own ``torch.Generator``
  seeded by ``seed``; with the same seed and the same initial weights two runs on CPU give
  identical weights. That generator lives on the CPU even when the models are on a GPU (the
  noise is drawn there, then moved: ~0.8 MB per student step at the paper's batch), so a CUDA
  run sees the very noise a CPU run of the same seed sees, and ``python -m fxlib.gpucheck`` can
  compare their first steps (CUDA's generator draws a different sequence from the same seed).
"""
from __future__ import annotations

from typing import Callable, Iterable, Optional

import torch
from torch import nn

Model = Callable[[torch.Tensor], torch.Tensor]

Z_DIM = 50
HIDDEN = 500
BATCH = 50
N_STUDENT_STEPS = 10
LR = 1e-3
BETA = 1e-5
GAMMA = 1e-5
ITERATIONS = 2000
#: x_p / x_g scale for teachers trained on raw audio (a guitar-DI RMS, about -20 dBFS; notes).
RAW_INPUT_SCALE = 0.1
#: Defaults of a DF run's options (``TrainConfig.kd``). ``input_scale`` None = 1 for a teacher
#: trained on standardised inputs, ``RAW_INPUT_SCALE`` for one trained on raw audio.
DEFAULTS = {"input_scale": None, "beta": BETA, "gamma": GAMMA}


class Generator(nn.Module):
    """z ∈ R^50 ~ N(0, I) → Linear(50→500) + tanh → Linear(500→segment_length), linear output,
    multiplied by ``input_scale`` (1 for standardised teachers; see module notes)."""

    def __init__(self, segment_length: int, z_dim: int = Z_DIM, hidden: int = HIDDEN,
                 input_scale: float = 1.0):
        super().__init__()
        if segment_length < 1 or z_dim < 1 or hidden < 1:
            raise ValueError("segment_length, z_dim and hidden must be positive")
        if not input_scale > 0:
            raise ValueError(f"input_scale must be > 0, got {input_scale}")
        self.segment_length, self.z_dim, self.input_scale = segment_length, z_dim, input_scale
        self.hidden = nn.Linear(z_dim, hidden)
        self.out = nn.Linear(hidden, segment_length)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """(batch, z_dim) → (batch, segment_length)."""
        return self.input_scale * self.out(torch.tanh(self.hidden(z)))

    def sample_z(self, batch: int, rng: Optional[torch.Generator] = None) -> torch.Tensor:
        """z ~ N(0, 1), drawn on ``rng``'s device (the distiller's is on the CPU: module
        notes, 'Determinism') and moved to the generator's."""
        p = self.out.weight
        where = rng.device if rng is not None else p.device
        return torch.randn(batch, self.z_dim, generator=rng, device=where,
                           dtype=p.dtype).to(p.device)

    def extra_repr(self) -> str:
        return f"segment_length={self.segment_length}, input_scale={self.input_scale:g}"


def discrepancy(t_out: torch.Tensor, s_out: torch.Tensor) -> torch.Tensor:
    """mean((T - S)²) over all entries."""
    return ((t_out - s_out) ** 2).mean()


def generator_loss(t_out: torch.Tensor, s_out: torch.Tensor, x_g: torch.Tensor,
                   beta: float = BETA, gamma: float = GAMMA) -> torch.Tensor:
    """L_G = -mean((T - S)²) + β·mean_batch(‖x_g‖²) + γ·mean(S(x_g)²).

    ``t_out``/``s_out`` are T(x_g), S(x_g) with x_g = G(z), all (batch, samples). The β and γ
    terms are applied here; the official code drops them through a line-continuation bug (its
    published loss is the negative discrepancy alone). ‖x_g‖² sums over samples per segment.
    """
    if t_out.shape != s_out.shape:
        raise ValueError(f"teacher and student outputs differ in shape: {tuple(t_out.shape)} "
                         f"vs {tuple(s_out.shape)}")
    norm2 = (x_g ** 2).flatten(1).sum(dim=1).mean() if x_g.dim() > 1 else (x_g ** 2).sum()
    return -discrepancy(t_out, s_out) + beta * norm2 + gamma * (s_out ** 2).mean()


def student_loss(t_g: torch.Tensor, s_g: torch.Tensor, t_p: torch.Tensor, s_p: torch.Tensor,
                 alpha: float) -> torch.Tensor:
    """L_S = α·mean((T - S)² on x_g) + (1 - α)·mean((T - S)² on x_p ~ N(0, scale²))."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    return alpha * discrepancy(t_g, s_g) + (1.0 - alpha) * discrepancy(t_p, s_p)


def alpha_schedule(step: int, total: int) -> float:
    """α = 1 - step/total, clipped to [0, 1] (official code: step = outer iteration from 0)."""
    if total <= 0:
        raise ValueError(f"total must be positive, got {total}")
    return float(min(1.0, max(0.0, 1.0 - step / total)))


def _module_of(fn) -> Optional[nn.Module]:
    """The nn.Module behind a model callable: the module itself or a bound method's owner."""
    if isinstance(fn, nn.Module):
        return fn
    owner = getattr(fn, "__self__", None)
    return owner if isinstance(owner, nn.Module) else None


def freeze(module: nn.Module) -> nn.Module:
    """requires_grad = False on every parameter, eval mode (the DF teacher)."""
    for p in module.parameters():
        p.requires_grad_(False)
    return module.eval()


class DFDistiller:
    """Data-free distillation of ``teacher`` into ``student`` (one ``step`` = one outer iteration).

    Args:
        teacher, student: callables (batch, samples) → (batch, samples), e.g. an RNN module or
            ``cafx.forward_frames``. Their parameters are found through the module (or the bound
            method's owner); pass ``student_parameters`` explicitly for other callables.
        generator: a ``Generator`` whose ``segment_length`` is the student's input length.
        total_iterations: for the α schedule (α = 1 - iteration/total_iterations).
        batch_size, n_student_steps, beta, gamma: m = 50, n_s = 10, β = γ = 1e-5.
        input_scale: std of x_p (1 for standardised teachers; see module notes). Defaults to
            ``generator.input_scale`` so both streams share one scale.
        g_optimizer, s_optimizer: optional; default RMSprop(lr=1e-3) on the generator's and the
            student's parameters.
        seed: seeds the distiller's own noise generator (z and x_p).
    """

    def __init__(self, teacher: Model, student: Model, generator: Generator, *,
                 total_iterations: int = ITERATIONS, batch_size: int = BATCH,
                 n_student_steps: int = N_STUDENT_STEPS, beta: float = BETA,
                 gamma: float = GAMMA, input_scale: Optional[float] = None,
                 g_optimizer: Optional[torch.optim.Optimizer] = None,
                 s_optimizer: Optional[torch.optim.Optimizer] = None,
                 student_parameters: Optional[Iterable[torch.nn.Parameter]] = None,
                 lr: float = LR, seed: int = 0):
        if batch_size < 1 or n_student_steps < 0 or total_iterations < 1:
            raise ValueError("batch_size and total_iterations must be positive, "
                             "n_student_steps >= 0")
        self.teacher, self.student, self.generator = teacher, student, generator
        teacher_module = _module_of(teacher)
        if teacher_module is not None:
            freeze(teacher_module)
        self.teacher_module = teacher_module
        if student_parameters is None:
            student_module = _module_of(student)
            if student_module is None:
                raise ValueError("cannot find the student's parameters: pass an nn.Module, a "
                                 "bound method of one, or student_parameters=")
            student_parameters = student_module.parameters()
        self.student_parameters = [p for p in student_parameters if p.requires_grad]
        if not self.student_parameters:
            raise ValueError("the student has no trainable parameters")
        self.generator_parameters = [p for p in generator.parameters() if p.requires_grad]
        self.g_optimizer = g_optimizer or torch.optim.RMSprop(self.generator_parameters, lr=lr)
        self.s_optimizer = s_optimizer or torch.optim.RMSprop(self.student_parameters, lr=lr)
        self.total_iterations, self.batch_size = total_iterations, batch_size
        self.n_student_steps, self.beta, self.gamma = n_student_steps, beta, gamma
        self.input_scale = generator.input_scale if input_scale is None else float(input_scale)
        if not self.input_scale > 0:
            raise ValueError(f"input_scale must be > 0, got {self.input_scale}")
        self.rng = torch.Generator().manual_seed(seed)   # on the CPU, whatever the device
        self.iteration = 0

    # -- pieces ------------------------------------------------------------------------------
    def _teacher(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.teacher(x)

    def sample_noise_inputs(self) -> torch.Tensor:
        """x_p ~ N(0, input_scale²), (batch_size, segment_length)."""
        p = self.generator.out.weight
        x = torch.randn(self.batch_size, self.generator.segment_length, generator=self.rng,
                        dtype=p.dtype)
        return self.input_scale * x.to(p.device)

    def generator_step(self, z: Optional[torch.Tensor] = None) -> float:
        """One G update on a fresh z (or the given one; student and teacher frozen); returns L_G."""
        if z is None:
            z = self.generator.sample_z(self.batch_size, self.rng)
        x_g = self.generator(z)
        # The teacher needs gradients w.r.t. its input here (not its weights): no no_grad.
        # cuDNN's RNN backward refuses eval mode, so on CUDA the frozen (eval) teacher runs
        # without cuDNN in this step: the same maths through PyTorch's native kernels.
        with torch.backends.cudnn.flags(enabled=not x_g.is_cuda):
            t_out = self.teacher(x_g)
        s_out = self.student(x_g)
        loss = generator_loss(t_out, s_out, x_g, self.beta, self.gamma)
        self.g_optimizer.zero_grad(set_to_none=True)
        loss.backward(inputs=self.generator_parameters)
        self.g_optimizer.step()
        return loss.item()

    def student_step(self, alpha: float) -> float:
        """One S update on fresh x_g = G(z) and x_p (generator and teacher frozen); returns L_S."""
        with torch.no_grad():
            x_g = self.generator(self.generator.sample_z(self.batch_size, self.rng))
        x_p = self.sample_noise_inputs()
        # both streams through each model as one batch (every segment is independent): one
        # recurrent pass instead of two, the same maths
        x = torch.cat((x_g, x_p))
        t, s = self._teacher(x), self.student(x)
        m = x_g.shape[0]
        loss = student_loss(t[:m], s[:m], t[m:], s[m:], alpha)
        self.s_optimizer.zero_grad(set_to_none=True)
        loss.backward(inputs=self.student_parameters)
        self.s_optimizer.step()
        return loss.item()

    # -- one outer iteration -----------------------------------------------------------------
    def step(self) -> dict:
        """1 generator step then n_s student steps; advances ``iteration``. Returns losses."""
        alpha = alpha_schedule(self.iteration, self.total_iterations)
        g_loss = self.generator_step()
        s_losses = [self.student_step(alpha) for _ in range(self.n_student_steps)]
        self.iteration += 1
        return {"iteration": self.iteration, "alpha": alpha, "generator_loss": g_loss,
                "student_loss": (sum(s_losses) / len(s_losses)) if s_losses else float("nan")}

    def run(self, iterations: Optional[int] = None,
            callback: Optional[Callable[[dict], None]] = None) -> list[dict]:
        """Run ``iterations`` outer steps (default: up to ``total_iterations``)."""
        n = (self.total_iterations - self.iteration) if iterations is None else iterations
        history = []
        for _ in range(max(0, n)):
            record = self.step()
            history.append(record)
            if callback is not None:
                callback(record)
        return history


__all__ = ["DEFAULTS", "RAW_INPUT_SCALE", "Generator", "generator_loss", "student_loss", "alpha_schedule", "discrepancy",
           "freeze", "DFDistiller"]
