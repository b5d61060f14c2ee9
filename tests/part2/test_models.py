"""The four Part 2 models: output shapes and the architecture each question asks for."""
import pytest
import torch
import torch.nn as nn

import models  # the reference's package; tests/part2/conftest.py puts it on sys.path

IM_SIZE = (3, 32, 32)


def layers_of(model, kind):
    return [m for m in model.modules() if isinstance(m, kind)]


@pytest.mark.parametrize('make', [
    lambda: models.softmax.Softmax(IM_SIZE, 10),
    lambda: models.twolayernn.TwoLayerNN(IM_SIZE, 64, 10),
    lambda: models.convnet.CNN(IM_SIZE, 16, 5, 10),
    lambda: models.mymodel.MyModel(IM_SIZE, 8, 3, 10),
], ids=['softmax', 'twolayernn', 'convnet', 'mymodel'])
@pytest.mark.parametrize('batch', [1, 7])
def test_scores_have_shape_n_by_classes(make, batch):
    model = make().eval()
    scores = model(torch.randn(batch, *IM_SIZE))
    assert scores.shape == (batch, 10)
    assert scores.dtype == torch.float32 and torch.isfinite(scores).all()


def test_softmax_is_exactly_one_affine_map():
    model = models.softmax.Softmax(IM_SIZE, 10)
    assert sum(p.numel() for p in model.parameters()) == 3072 * 10 + 10
    [linear] = layers_of(model, nn.Linear)
    x = torch.randn(4, *IM_SIZE)
    assert torch.allclose(model(x), x.flatten(1) @ linear.weight.T + linear.bias)


def test_two_layer_net_has_one_hidden_layer_of_hidden_dim():
    model = models.twolayernn.TwoLayerNN(IM_SIZE, 64, 10)
    first, second = layers_of(model, nn.Linear)
    assert (first.in_features, first.out_features) == (3072, 64)
    assert (second.in_features, second.out_features) == (64, 10)
    assert not layers_of(model, nn.Conv2d)


@pytest.mark.parametrize('kernel_size', [3, 5, 7])
def test_cnn_convolves_with_the_given_kernel_size(kernel_size):
    model = models.convnet.CNN(IM_SIZE, 16, kernel_size, 10)
    first = layers_of(model, nn.Conv2d)[0]
    assert first.kernel_size == (kernel_size, kernel_size)
    assert first.in_channels == 3 and first.out_channels == 16


def test_models_learn_a_batch():
    """A few steps on one batch lower each model's loss: gradients reach every parameter."""
    torch.manual_seed(0)
    x, y = torch.randn(16, *IM_SIZE), torch.randint(0, 10, (16,))
    for model in [models.softmax.Softmax(IM_SIZE, 10), models.twolayernn.TwoLayerNN(IM_SIZE, 32, 10),
                  models.convnet.CNN(IM_SIZE, 8, 3, 10), models.mymodel.MyModel(IM_SIZE, 8, 3, 10)]:
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        first = nn.functional.cross_entropy(model(x), y)
        for _ in range(10):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            assert all(p.grad is not None for p in model.parameters())
            optimizer.step()
        assert loss.item() < first.item(), type(model).__name__
