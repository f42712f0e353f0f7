import dataclasses
from configs import base, davis2016_cpu
from vosjax.models import tiny_config
def get_config():
  config = davis2016_cpu.get_config()
  config.model = base.model_block(dataclasses.replace(tiny_config(), memory_bucket=8))
  return config
