"""Tests of the encoder registry, the image encoders and the heads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

import encoders
from encoders import registry
from encoders.heads import PredictionHead, ProjectionHead
from encoders.image import SmallCNN, _pool_plan


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.fixture
def scratch_registry():
    """Remove whatever a test registers or defers."""
    with registry.ENCODERS.restored():
        yield


# --------------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------------
def test_available_lists_builtins_by_domain():
    names = encoders.available()
    assert names == sorted(names)
    for name in ("small_cnn", "resnet18_cifar", "resnet18", "mlp_head", "prediction_head"):
        assert name in names
    assert encoders.available(domain="head") == ["mlp_head", "prediction_head"]
    assert {"small_cnn", "resnet18_cifar", "resnet18"} <= set(encoders.available(domain="image"))
    assert encoders.available(domain="no-such-domain") == []
    assert encoders.info("small_cnn").factory is SmallCNN


def test_get_builds_every_image_encoder_and_head_with_out_dim():
    for name in encoders.available("image") + encoders.available("head"):
        kwargs = {"in_dim": 8} if encoders.info(name).domain == "head" else {}
        module = encoders.get(name, **kwargs)
        assert isinstance(module, nn.Module)
        assert isinstance(module.out_dim, int)
        assert module.out_dim > 0


def test_get_unknown_name_lists_known_names():
    with pytest.raises(ValueError, match="unknown encoder 'small_cn'") as err:
        encoders.get("small_cn")
    msg = str(err.value)
    assert "Did you mean 'small_cnn'" in msg
    for name in encoders.available():
        assert name in msg


def test_get_bad_kwargs_names_encoder_and_arguments():
    with pytest.raises(TypeError) as err:
        encoders.get("small_cnn", widht=16)
    msg = str(err.value)
    assert "'small_cnn'" in msg
    assert "widht" in msg
    for arg in ("in_channels", "width", "out_dim", "image_size", "norm"):
        assert arg in msg
    with pytest.raises(TypeError, match="'mlp_head'.*in_dim \\(required\\)"):
        encoders.get("mlp_head")
    assert encoders.accepted_arguments("resnet18_cifar") == ["in_channels", "zero_init_residual"]


def test_get_passes_kwargs():
    net = encoders.get("small_cnn", in_channels=3, width=8, out_dim=10, norm="group")
    assert isinstance(net, SmallCNN)
    assert net.out_dim == 10
    assert net.in_channels == 3
    head = encoders.get("mlp_head", in_dim=32, hidden_dim=16, out_dim=4, n_layers=3)
    assert head.out_dim == 4
    assert head.n_layers == 3


def test_register_and_errors(scratch_registry):
    @encoders.register("test_linear", domain="temporal", description="a linear layer")
    class Lin(nn.Module):
        def __init__(self, d: int = 3):
            super().__init__()
            self.fc = nn.Linear(d, 2)
            self.out_dim = 2

        def forward(self, x):
            return self.fc(x)

    assert "test_linear" in encoders.available("temporal")
    assert encoders.get("test_linear", d=5).fc.in_features == 5
    # re-registering the same factory (a module reload) is fine, a different one is not
    encoders.register("test_linear", domain="temporal", description="again")(Lin)
    with pytest.raises(ValueError, match="already registered"):

        @encoders.register("test_linear", domain="temporal", description="clash")
        def other() -> nn.Module:
            return Lin()

    @encoders.register("test_not_module", domain="temporal", description="bad")
    def not_module():
        return 3

    with pytest.raises(TypeError, match="expected an nn.Module"):
        encoders.get("test_not_module")

    @encoders.register("test_no_out_dim", domain="temporal", description="bad")
    def no_out_dim():
        return nn.Linear(2, 2)

    with pytest.raises(TypeError, match="out_dim"):
        encoders.get("test_no_out_dim")
    with pytest.raises(TypeError, match="name must be a str"):
        encoders.register(3, domain="image", description="x")
    with pytest.raises(ValueError, match="non-empty"):
        encoders.register("x", domain="", description="x")
    with pytest.raises(TypeError, match="decorates a class or function"):
        encoders.register("test_value", domain="image", description="x")(5)


def test_deferred_import_failure_is_reported(scratch_registry):
    registry.defer_import("encoders_no_such_module_for_test")
    with pytest.warns(UserWarning, match="could not import encoders_no_such_module_for_test"):
        assert "small_cnn" in encoders.available()  # other encoders still work
    with pytest.raises(ValueError, match="encoders_no_such_module_for_test could not be imported"):
        encoders.get("gone")


def test_domain_modules_load_on_first_lookup_not_on_import():
    code = (
        "import sys, encoders\n"
        "present = [m for m in encoders.ENCODERS.modules() if m.rsplit('.')[-1] not in ('image', 'heads')]\n"
        "assert not any(m in sys.modules for m in present), present\n"
        "encoders.available()\n"
        "assert all(m in sys.modules for m in present), present\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


# --------------------------------------------------------------------------------------------------
# SmallCNN
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm", ["batch", "group", "none"])
@pytest.mark.parametrize("hw", [(8, 8), (9, 11), (13, 13), (16, 16), (28, 28), (32, 32), (8, 40)])
def test_small_cnn_shapes(norm, hw):
    net = SmallCNN(in_channels=1, width=8, norm=norm)
    out = net(torch.randn(3, 1, *hw))
    assert out.shape == (3, 32)
    assert net.out_dim == 32
    assert torch.isfinite(out).all()


def test_small_cnn_out_dim_and_channels():
    net = SmallCNN(in_channels=3, width=4, out_dim=7)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 7)
    assert net.out_dim == 7
    assert n_params(SmallCNN(width=64)) < 2_000_000  # small: digits/MNIST sized


def test_pool_plan():
    assert _pool_plan(8, 8, 4) == [True, False, False]  # 8 -> 4
    assert _pool_plan(28, 28, 4) == [True, True, False]  # 28 -> 14 -> 7
    assert _pool_plan(32, 32, 4) == [True, True, True]  # 32 -> 16 -> 8 -> 4
    assert _pool_plan(8, 64, 4) == [True, False, False]  # the smaller side decides


def test_small_cnn_static_plan_matches_dynamic():
    torch.manual_seed(0)
    dyn = SmallCNN(width=4, norm="group")
    static = SmallCNN(width=4, norm="group", image_size=28)
    static.load_state_dict(dyn.state_dict())
    x = torch.randn(2, 1, 28, 28)
    torch.testing.assert_close(static(x), dyn(x))
    # a static plan for 32x32 still accepts 8x8 inputs
    assert SmallCNN(width=4, image_size=(32, 32))(torch.randn(2, 1, 8, 8)).shape == (2, 16)


@pytest.mark.parametrize("norm", ["group", "none"])
def test_small_cnn_without_batchnorm_is_per_sample(norm):
    net = SmallCNN(width=4, norm=norm).train()
    x = torch.randn(4, 1, 12, 12)
    torch.testing.assert_close(net(x)[:1], net(x[:1]))


def test_small_cnn_gradients_flow():
    net = SmallCNN(width=4, out_dim=5)
    net(torch.randn(4, 1, 8, 8)).pow(2).sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("norm", ["batch", "group"])
def test_small_cnn_runs_colour_batches_channels_last_on_the_cpu_with_the_same_features(norm):
    torch.manual_seed(0)
    net = SmallCNN(in_channels=3, width=8, norm=norm).train()
    x = torch.rand(6, 3, 20, 20)
    seen = []
    net.blocks[1][0].register_forward_hook(lambda m, args, out: seen.append(args[0]))
    out = net(x)
    assert seen[0].is_contiguous(memory_format=torch.channels_last)
    assert not seen[0].is_contiguous()  # NHWC inside, not NCHW
    # the same network on NCHW tensors, block by block: the same features up to float rounding
    ref = net.blocks[0](x)
    for pool, block in zip(_pool_plan(20, 20, 4), net.blocks[1:], strict=True):
        ref = block(net.pool(ref) if pool else ref)
    ref = torch.flatten(nn.functional.adaptive_avg_pool2d(ref, 1), 1)
    assert out.is_contiguous()
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-4)
    out.sum().backward()
    assert all(p.grad is not None and p.grad.is_contiguous() for p in net.parameters())


def test_small_cnn_seeded_init():
    torch.manual_seed(3)
    a = SmallCNN(width=4)
    torch.manual_seed(3)
    b = SmallCNN(width=4)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_small_cnn_bad_inputs():
    net = SmallCNN(in_channels=1, width=4)
    with pytest.raises(ValueError, match="at least 8x8"):
        net(torch.randn(2, 1, 7, 8))
    with pytest.raises(ValueError, match="in_channels=1 but got 3 channels"):
        net(torch.randn(2, 3, 8, 8))
    with pytest.raises(ValueError, match="unsqueeze"):
        net(torch.randn(1, 8, 8))
    with pytest.raises(TypeError, match="floating-point"):
        net(torch.zeros(2, 1, 8, 8, dtype=torch.uint8))
    with pytest.raises(TypeError, match="torch.Tensor"):
        net([[0.0]])
    with pytest.raises(ValueError, match="norm must be one of"):
        SmallCNN(norm="layer")
    with pytest.raises(ValueError, match="width must be a positive int"):
        SmallCNN(width=0)
    with pytest.raises(ValueError, match="at least 8x8"):
        SmallCNN(image_size=4)
    with pytest.raises(ValueError, match="image_size"):
        SmallCNN(image_size=(8, 8, 8))


# --------------------------------------------------------------------------------------------------
# ResNet-18
# --------------------------------------------------------------------------------------------------
def test_resnet18_cifar_structure_and_parameter_count():
    net = encoders.get("resnet18_cifar")
    assert net.out_dim == 512
    assert net.conv1.kernel_size == (3, 3)
    assert net.conv1.stride == (1, 1)
    assert isinstance(net.maxpool, nn.Identity)
    assert isinstance(net.fc, nn.Identity)
    # torchvision's resnet18 minus its fc (512*1000 + 1000) and with a 3x3x3x64 stem instead of 7x7x3x64
    ref = torchvision.models.resnet18(weights=None)
    expected = n_params(ref) - (512 * 1000 + 1000) - 7 * 7 * 3 * 64 + 3 * 3 * 3 * 64
    assert n_params(net) == expected == 11_168_832
    # torchvision's state_dict keys, minus the classifier
    assert set(net.state_dict()) == {k for k in ref.state_dict() if not k.startswith("fc.")}


def test_resnet18_standard_stem():
    net = encoders.get("resnet18")
    ref = torchvision.models.resnet18(weights=None)
    assert net.conv1.kernel_size == (7, 7)
    assert isinstance(net.maxpool, nn.MaxPool2d)
    assert n_params(net) == n_params(ref) - (512 * 1000 + 1000)
    net.eval()
    assert net(torch.randn(2, 3, 64, 64)).shape == (2, 512)


@pytest.mark.parametrize("name", ["resnet18_cifar", "resnet18"])
@pytest.mark.parametrize("size", [8, 32])
def test_resnet_shapes(name, size):
    net = encoders.get(name, in_channels=1).eval()
    with torch.no_grad():
        assert net(torch.randn(2, 1, size, size)).shape == (2, 512)


def test_resnet18_cifar_gradients_and_zero_init():
    net = encoders.get("resnet18_cifar", zero_init_residual=True)
    for block in (net.layer1[0], net.layer4[1]):
        assert torch.count_nonzero(block.bn2.weight) == 0
    net = encoders.get("resnet18_cifar")
    net(torch.randn(2, 3, 8, 8)).sum().backward()
    assert net.conv1.weight.grad is not None
    assert net.conv1.weight.grad.abs().sum() > 0
    assert net.layer4[1].conv2.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="in_channels=3 but got 1"):
        net(torch.randn(2, 1, 32, 32))


# --------------------------------------------------------------------------------------------------
# Heads
# --------------------------------------------------------------------------------------------------
def _count(module: nn.Module, kind: type) -> int:
    return sum(isinstance(m, kind) for m in module.modules())


@pytest.mark.parametrize(
    ("n_layers", "batch_norm", "last_bn", "n_linear", "n_bn"),
    [(1, True, False, 1, 0), (2, True, False, 2, 1), (3, True, True, 3, 3), (3, False, False, 3, 0)],
)
def test_projection_head_structure(n_layers, batch_norm, last_bn, n_linear, n_bn):
    head = ProjectionHead(
        16, hidden_dim=32, out_dim=8, n_layers=n_layers, batch_norm=batch_norm, last_bn=last_bn
    )
    assert _count(head, nn.Linear) == n_linear
    assert _count(head, nn.BatchNorm1d) == n_bn
    assert head.out_dim == 8
    assert head(torch.randn(5, 16)).shape == (5, 8)


def test_projection_head_last_bn_standardises_and_grads_flow():
    head = ProjectionHead(16, hidden_dim=32, out_dim=8, n_layers=3, last_bn=True).train()
    out = head(torch.randn(64, 16))
    torch.testing.assert_close(out.mean(0), torch.zeros(8), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.var(0, unbiased=False), torch.ones(8), atol=1e-3, rtol=0)
    head(torch.randn(4, 16)).pow(2).sum().backward()
    for name, p in head.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_prediction_head():
    head = PredictionHead(8, hidden_dim=4)
    assert head.out_dim == 8
    assert head(torch.randn(3, 8)).shape == (3, 8)
    assert PredictionHead(8, 4, 2)(torch.randn(3, 8)).shape == (3, 2)
    assert _count(head, nn.BatchNorm1d) == 1
    assert _count(head, nn.Linear) == 2


def test_heads_bad_inputs():
    head = ProjectionHead(8, hidden_dim=4, out_dim=2)
    with pytest.raises(ValueError, match=r"\(B, 8\)"):
        head(torch.randn(3, 9))
    with pytest.raises(ValueError, match="at least 2 samples"):
        head(torch.randn(1, 8))
    assert head.eval()(torch.randn(1, 8)).shape == (1, 2)  # fine in eval mode
    assert ProjectionHead(8, batch_norm=False, out_dim=2)(torch.randn(1, 8)).shape == (1, 2)
    with pytest.raises(ValueError, match="n_layers"):
        ProjectionHead(8, n_layers=0)
    with pytest.raises(ValueError, match="in_dim"):
        PredictionHead(-1, 4)
    with pytest.raises(TypeError, match="torch.Tensor"):
        PredictionHead(4, 4)("x")
