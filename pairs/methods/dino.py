"""DINO: self-distillation with no labels; an EMA teacher, centring, sharpening and multi-crop.

Reference: Caron, Touvron, Misra, Jegou, Mairal, Bojanowski, Joulin. "Emerging Properties in
Self-Supervised Vision Transformers", ICCV 2021.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from encoders.heads import ProjectionHead
from pairs.errors import ConfigError
from pairs.losses import DINOLoss
from pairs.losses._checks import check_temperature
from pairs.methods import register_method
from pairs.methods._checks import require_views
from pairs.methods._momentum import MomentumTarget
from pairs.methods.base import Method, MethodOutput
from pairs.pairing import ViewBatch

__all__ = ["DINO", "DINOHead"]


class DINOHead(nn.Module):
    """DINO's head: MLP to a bottleneck, L2 normalisation, then a weight-normalised linear layer to ``K``.

    The last layer's rows are normalised in ``forward`` (``weight_norm`` with the gain fixed to 1, DINO's
    ``norm_last_layer=True``).

    Args:
        in_dim: encoder feature size.
        hidden_dim: MLP hidden size (2048 in DINO).
        bottleneck_dim: bottleneck size (256 in DINO).
        out_dim: number of output logits ``K`` (65536 in DINO).

    Shape:
        ``(B, in_dim)`` -> ``(B, out_dim)``.
    """

    def __init__(self, in_dim: int, hidden_dim: int = 512, bottleneck_dim: int = 128, out_dim: int = 256):
        super().__init__()
        self.mlp = ProjectionHead(in_dim, hidden_dim=hidden_dim, out_dim=bottleneck_dim, n_layers=3)
        self.last = nn.Parameter(torch.randn(out_dim, bottleneck_dim) * bottleneck_dim**-0.5)
        self.out_dim = int(out_dim)

    def bottleneck(self, x: Tensor) -> Tensor:
        """The L2-normalised bottleneck features ``(B, bottleneck_dim)``."""
        return F.normalize(self.mlp(x), dim=1)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(self.bottleneck(x), F.normalize(self.last, dim=1))


class DINO(Method):
    """DINO: a student (encoder + :class:`DINOHead`) matches an EMA teacher's centred, sharpened outputs.

    The teacher sees the ``n_global`` global crops, the student every crop; the loss is
    :class:`pairs.losses.DINOLoss` (its centre is a buffer, so checkpoints keep it). The teacher
    temperature rises linearly from ``warmup_teacher_temp`` to ``teacher_temp`` over the first
    ``teacher_temp_warmup`` fraction of training; the teacher momentum follows a cosine schedule from
    ``momentum`` to 1. Training progress is a buffer, so a resumed run uses the same temperatures.

    Args:
        encoder: backbone with an ``out_dim`` attribute.
        out_dim: number of output logits ``K`` (65536 in DINO; a few hundred suffice for small data).
        hidden_dim: head hidden size.
        bottleneck_dim: head bottleneck size.
        student_temp: student temperature (0.1).
        teacher_temp: teacher temperature after warm-up (0.04-0.07).
        warmup_teacher_temp: teacher temperature at the start (0.04).
        teacher_temp_warmup: fraction of training over which the teacher temperature warms up.
        center_momentum: EMA momentum of the centre (0.9).
        momentum: base teacher momentum (0.996 in DINO; 0.99 for short runs).
        n_global: number of leading (global) crops the teacher sees.

    Shape:
        views: ``V >= 2`` batches (global crops first) -> loss scalar; ``embeddings``:
        ``(n_global * B, bottleneck_dim)`` student bottleneck features.
    """

    default_views = "multicrop"
    progress: Tensor

    def __init__(
        self,
        encoder: nn.Module,
        out_dim: int = 256,
        hidden_dim: int = 512,
        bottleneck_dim: int = 128,
        student_temp: float = 0.1,
        teacher_temp: float = 0.07,
        warmup_teacher_temp: float = 0.04,
        teacher_temp_warmup: float = 0.3,
        center_momentum: float = 0.9,
        momentum: float = 0.99,
        n_global: int = 2,
    ) -> None:
        super().__init__(encoder)
        if not 0.0 <= teacher_temp_warmup <= 1.0:
            raise ValueError(
                f"teacher_temp_warmup must be a fraction of training in [0, 1], got {teacher_temp_warmup}"
            )
        if teacher_temp <= 0 or warmup_teacher_temp <= 0:
            raise ValueError(
                f"teacher temperatures must be > 0, got {warmup_teacher_temp} and {teacher_temp}"
            )
        if n_global < 1:
            raise ValueError(f"n_global must be >= 1, got {n_global}")
        self.head = DINOHead(self.feature_dim, hidden_dim, bottleneck_dim, out_dim)
        self.criterion = DINOLoss(out_dim, center_momentum=center_momentum, student_temp=student_temp)
        self.teacher = MomentumTarget(self.encoder, self.head, momentum)
        self.teacher_temp = float(check_temperature(teacher_temp, "teacher_temp"))
        self.warmup_teacher_temp = float(check_temperature(warmup_teacher_temp, "warmup_teacher_temp"))
        self.teacher_temp_warmup = float(teacher_temp_warmup)
        self.n_global = int(n_global)
        self.register_buffer("progress", torch.zeros((), dtype=torch.float64))

    def current_teacher_temp(self) -> float:
        """The teacher temperature at the current training progress (linear warm-up)."""
        p = float(self.progress)
        if self.teacher_temp_warmup == 0 or p >= self.teacher_temp_warmup:
            return self.teacher_temp
        frac = p / self.teacher_temp_warmup
        return self.warmup_teacher_temp + frac * (self.teacher_temp - self.warmup_teacher_temp)

    def forward(self, batch: ViewBatch) -> MethodOutput:
        views = require_views(batch, 2, "DINO")
        if self.n_global > len(views):
            raise ConfigError(f"DINO was built with n_global={self.n_global} but got {len(views)} views")
        features = self.encode(views)
        bottleneck = [self.head.bottleneck(f) for f in features]
        last = F.normalize(self.head.last, dim=1)
        student = [F.linear(b, last) for b in bottleneck]
        teacher = self.teacher.embed(views[: self.n_global])
        temp = self.current_teacher_temp()
        loss = self.criterion(student, teacher, teacher_temp=temp)
        embeddings = torch.cat(bottleneck[: self.n_global]).detach()
        return MethodOutput(loss, embeddings, {"teacher_temp": temp})

    @torch.no_grad()
    def on_after_optimizer_step(self, progress: float) -> None:
        self.progress.fill_(float(progress))
        self.teacher.follow(self.encoder, self.head, progress)


register_method("dino", DINO)
