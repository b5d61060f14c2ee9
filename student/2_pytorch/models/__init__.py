from . import softmax, twolayernn, convnet, mymodel  # noqa: F401
