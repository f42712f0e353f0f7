"""Test-wide JAX settings; they must be in place before jax is imported anywhere."""

import os

# Four virtual CPU devices for sharding tests; a lower XLA backend optimisation level roughly halves compile time,
# which dominates these tests (the networks under test are tiny).
os.environ['XLA_FLAGS'] = ' '.join([
    os.environ.get('XLA_FLAGS', ''),
    '--xla_force_host_platform_device_count=4',
    '--xla_backend_optimization_level=0',
]).strip()
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
