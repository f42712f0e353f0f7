"""Reading ImageNet checkpoints (torch .pth without pickle execution, .npz, .safetensors) into the encoders."""

from vosjax.weights.state_dict import CheckpointFormatError, load_state_dict
from vosjax.weights.torchvision import WeightConversionError, convert_resnet, load_imagenet_encoders

__all__ = ['CheckpointFormatError', 'WeightConversionError', 'convert_resnet', 'load_imagenet_encoders',
           'load_state_dict']
