"""A convolution over [per-frame channels, per-object channels] that computes the per-frame part once per frame.

Several layers of the network see, for every object of a frame, the concatenation of channels that are the same for
all the frame's objects (the RGB frame, the frame features F_T) with channels of that object (its masks, its mask
features). A convolution is linear in its input channels, so conv(concat(shared, own)) = conv(shared, W_shared) +
conv(own, W_own): the shared half runs once per frame and is broadcast over the objects. The parameters are those
of the `nn.Conv` it replaces (one 'kernel' over all input channels, in the same order, and a 'bias'), so checkpoints
and initial values do not change.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


class SplitInputConv(nn.Module):
  """conv(concat(shared broadcast over objects, own)) computed as conv(shared) once + conv(own) per object.

  Attributes:
    features: output channels.
    kernel_size: (kh, kw).
    strides: (sh, sw).
    padding: ((top, bottom), (left, right)), explicit.
    use_bias: add a bias (once).
    shared_first: True when the shared channels come first in the kernel's input channels (the layer's original
      concatenation order), False when the object's own channels do.
    dtype: computation dtype; the parameters stay float32.
  """

  features: int
  kernel_size: tuple[int, int]
  strides: tuple[int, int] = (1, 1)
  padding: tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0))
  use_bias: bool = True
  shared_first: bool = True
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, shared: jax.Array, own: jax.Array) -> jax.Array:
    """Convolves every object's input.

    Args:
      shared: [B, H, W, C_s] channels common to the K objects of each batch element.
      own: [B, K, H, W, C_o] each object's channels.

    Returns:
      [B, K, H', W', features].
    """
    batch, objects, height, width, own_channels = own.shape
    shared_channels = shared.shape[-1]
    kernel = self.param('kernel', nn.initializers.lecun_normal(),
                        self.kernel_size + (shared_channels + own_channels, self.features), jnp.float32)
    kernel = kernel.astype(self.dtype)
    shared_kernel, own_kernel = ((kernel[:, :, :shared_channels], kernel[:, :, shared_channels:]) if self.shared_first
                                 else (kernel[:, :, own_channels:], kernel[:, :, :own_channels]))
    conv = lambda x, w: jax.lax.conv_general_dilated(x.astype(self.dtype), w, self.strides, self.padding,
                                                     dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    if objects == 1:  # nothing to share: one convolution over the concatenation is faster (measured, 480p)
      parts = [shared, own[:, 0]] if self.shared_first else [own[:, 0], shared]
      out = conv(jnp.concatenate([p.astype(self.dtype) for p in parts], axis=-1), kernel)[:, None]
    else:
      per_frame = conv(shared, shared_kernel)  # [B, H', W', F]
      per_object = conv(own.reshape(batch * objects, height, width, own_channels), own_kernel)
      out = per_object.reshape((batch, objects) + per_object.shape[1:]) + per_frame[:, None]
    if self.use_bias:
      out = out + self.param('bias', nn.initializers.zeros_init(), (self.features,), jnp.float32).astype(self.dtype)
    return out
