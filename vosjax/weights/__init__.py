"""Reading ImageNet checkpoints (torch .pth without pickle execution, .npz, .safetensors) into the encoders."""

from vosjax.weights.conversion import WeightConversionError
from vosjax.weights.efficientnet import convert_efficientnet
from vosjax.weights.imagenet import load_imagenet_encoders
from vosjax.weights.packaged import WeightsNotFoundError, resolve_weights
from vosjax.weights.state_dict import CheckpointFormatError, load_state_dict
from vosjax.weights.torchvision import convert_resnet

__all__ = ['CheckpointFormatError', 'WeightConversionError', 'WeightsNotFoundError', 'convert_efficientnet',
           'convert_resnet', 'load_imagenet_encoders', 'load_state_dict', 'resolve_weights']
