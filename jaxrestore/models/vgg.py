"""IGNN's frozen patch embedding: the first block of VGG19 (conv1_1 → ReLU → conv1_2 → ReLU).

As the original `models/VGG19.py` with `feature_list=[3]`: the input in [0, pixel_range] is
divided by pixel_range, normalised with the ImageNet mean/std through a frozen 1×1 mean shift,
then passed through VGG19 `features[0:4]`. Every weight is frozen (collection `constants`).

Weights come from a converted checkpoint (`python -m jaxrestore.convert ignn ...`); nothing is
downloaded. A freshly initialised model gets a seeded random embedding drawn like the original's
training start: the original's `initialize_weights(net, 0.1)` re-initialises every conv except
the mean shifts, VGG included, and the VGG weights are frozen, so IGNN trained from scratch by
the original code also searches neighbours in a random (kaiming-normal × 0.1) VGG embedding. The
embedding never receives gradients either way (the original detaches the indices and the
difference features that are computed from it).
"""
import flax.linen as nn

from jaxrestore.models.layers import FROZEN, FrozenConv, kaiming_init, mean_shift

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGGEmbedding(nn.Module):
    """x (B,H,W,3) in [0, pixel_range] → (B,H,W,64) VGG19 relu1_2 features (frozen).

    Variables (collection `constants`): `sub_mean`, `conv1_1`, `conv1_2`, each kernel/bias.
    """
    pixel_range: float = 255.0
    features: int = 64
    init_scale: float = 0.1

    @nn.compact
    def __call__(self, x):
        x = x / self.pixel_range
        x = mean_shift(IMAGENET_MEAN, IMAGENET_STD, 1.0, -1.0, name="sub_mean")(x)
        x = nn.relu(FrozenConv(self.features, 3, kaiming_init(self.init_scale),
                               collection=FROZEN, name="conv1_1")(x))
        x = nn.relu(FrozenConv(self.features, 3, kaiming_init(self.init_scale),
                               collection=FROZEN, name="conv1_2")(x))
        return x
