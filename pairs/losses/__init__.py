"""Contrastive, margin and non-contrastive losses: pure functions plus thin ``nn.Module`` wrappers.

* :mod:`pairs.losses.contrastive`: one log-sum-exp core for NT-Xent (SimCLR), SupCon, DCL, InfoNCE
  (CPC / MoCo, with a :class:`NegativeQueue`) and the CLIP loss; dense or tiled (:mod:`.tiled`) and
  distributed (:mod:`.distributed`).
* :mod:`pairs.losses.margin`: contrastive margin, triplet and N-pair losses.
* :mod:`pairs.losses.noncontrastive`: BYOL / SimSiam, Barlow Twins, VICReg, SwAV, DINO.
* :mod:`pairs.losses.graph`: GraphCL's graph-level and GRACE's node-level losses.
"""

from pairs.losses._checks import check_embeddings, check_temperature, l2_normalize
from pairs.losses.contrastive import (
    CLIPLoss,
    InfoNCELoss,
    NTXentLoss,
    SupConLoss,
    clip_loss,
    info_nce,
    nt_xent,
    supcon_loss,
)
from pairs.losses.distributed import gather_with_grad
from pairs.losses.graph import grace_loss, graphcl_loss
from pairs.losses.hierarchical import (
    HierarchicalContrastiveLoss,
    hierarchical_contrastive_loss,
    instance_contrastive_loss,
    temporal_contrastive_loss,
)
from pairs.losses.margin import (
    ContrastiveMarginLoss,
    NPairLoss,
    TripletMarginLoss,
    contrastive_margin_loss,
    npair_loss,
    triplet_loss,
    triplet_margin_loss,
)
from pairs.losses.noncontrastive import (
    BarlowTwinsLoss,
    DINOLoss,
    NegativeCosineLoss,
    SwAVLoss,
    VICRegLoss,
    barlow_twins_loss,
    byol_loss,
    dino_loss,
    simsiam_loss,
    sinkhorn_knopp,
    swav_loss,
    vicreg_loss,
    vicreg_terms,
)
from pairs.losses.queue import NegativeQueue
from pairs.losses.tiled import tiled_logsumexp

__all__ = [
    "HierarchicalContrastiveLoss",
    "hierarchical_contrastive_loss",
    "instance_contrastive_loss",
    "temporal_contrastive_loss",
    "BarlowTwinsLoss",
    "CLIPLoss",
    "ContrastiveMarginLoss",
    "DINOLoss",
    "InfoNCELoss",
    "NPairLoss",
    "NTXentLoss",
    "NegativeCosineLoss",
    "NegativeQueue",
    "SupConLoss",
    "SwAVLoss",
    "TripletMarginLoss",
    "VICRegLoss",
    "barlow_twins_loss",
    "byol_loss",
    "check_embeddings",
    "check_temperature",
    "clip_loss",
    "contrastive_margin_loss",
    "dino_loss",
    "gather_with_grad",
    "grace_loss",
    "graphcl_loss",
    "info_nce",
    "l2_normalize",
    "npair_loss",
    "nt_xent",
    "simsiam_loss",
    "sinkhorn_knopp",
    "supcon_loss",
    "swav_loss",
    "tiled_logsumexp",
    "triplet_loss",
    "triplet_margin_loss",
    "vicreg_loss",
    "vicreg_terms",
]
