"""The docs match the code: every image link of README.md and docs/*.md resolves, and every flag the README's
commands name exists (for train.py and evaluate.py, every `--config.` field too)."""

import contextlib
import functools
import importlib
import importlib.util
import io
import os
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = [ROOT / 'README.md', *sorted((ROOT / 'docs').glob('*.md'))]
NOT_OURS = ('venv', 'pytest', 'pip')


@pytest.mark.parametrize('doc', DOCS, ids=lambda p: p.name)
def test_every_image_link_resolves(doc):
  links = re.findall(r'!\[[^\]]*\]\(([^)\s]+)\)', doc.read_text())
  missing = [link for link in links if not link.startswith(('http://', 'https://'))
             and not (doc.parent / link).is_file()]
  assert not missing, f'{doc.name}: broken image links {missing}'


def readme_commands() -> list[list[str]]:
  """The README's commands (bash blocks, continuation lines joined, and inline `python ...` spans) as token lists."""
  text = (ROOT / 'README.md').read_text()
  lines = []
  for block in re.findall(r'```bash\n(.*?)```', text, re.S):
    lines += block.replace('\\\n', ' ').splitlines()
  lines += re.findall(r'`((?:python|\.venv/bin/python)[^`]*)`', text)
  commands = []
  for line in lines:
    for part in re.split(r'&&|;', line.split('#')[0]):
      tokens = shlex.split(part.replace('[', ' ').replace(']', ' '))
      if tokens and re.fullmatch(r'(\S*/)?python3?', tokens[0]):
        commands.append(tokens[1:])
  return commands


def program_of(tokens: list[str]) -> str | None:
  if tokens[:1] == ['-m'] and len(tokens) > 1:
    return None if tokens[1] in NOT_OURS else tokens[1]
  return tokens[0] if tokens and tokens[0].endswith('.py') else None


@functools.lru_cache(maxsize=None)
def known_flags(program: str) -> frozenset[str]:
  """The flags `program` defines: for `python -m NAME`, the help of its `parse_args(argv)` (every such command has
  one, in NAME/__main__.py for a package); absl's --helpfull for train.py and evaluate.py; --help for other scripts."""
  if not program.endswith('.py'):
    module = importlib.import_module(program)
    if not hasattr(module, 'parse_args'):
      module = importlib.import_module(f'{program}.__main__')
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
      module.parse_args(['--help'])
    text = out.getvalue()
  else:
    env = dict(os.environ, JAX_PLATFORMS='cpu')
    flag = '--helpfull' if program in ('train.py', 'evaluate.py') else '--help'
    result = subprocess.run([sys.executable, str(ROOT / program), flag], capture_output=True, text=True, env=env,
                            timeout=300, cwd=ROOT)
    text = result.stdout + result.stderr
  return frozenset(re.findall(r'--([A-Za-z0-9_]+)', text))


def _config(path: str | None):
  """The config a command's --config names, or the shared base (its fields are every recipe's) for a placeholder."""
  file = ROOT / path if path else None
  if file is None or not file.is_file():
    file = ROOT / 'configs' / 'base.py'
  spec = importlib.util.spec_from_file_location(f'readme_{file.stem}', file)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def _has_field(config, dotted: str) -> bool:
  node = config
  for part in dotted.split('.'):
    if not hasattr(node, 'keys') or part not in node.keys():
      return False
    node = node[part]
  return True


def test_the_readme_names_only_flags_that_exist():
  commands = [(program_of(c), c) for c in readme_commands()]
  commands = [(program, tokens) for program, tokens in commands if program]
  assert {'train.py', 'evaluate.py', 'vosjax.segment', 'vosjax.export'} <= {p for p, _ in commands}
  unknown = []
  for program, tokens in commands:
    flags = [t[2:].split('=')[0] for t in tokens if t.startswith('--')]
    config_path = next((t.split('=', 1)[1] for t in tokens if t.startswith('--config=')), None)
    if '--config' in tokens:
      config_path = tokens[tokens.index('--config') + 1]
    for flag in flags:
      if flag.startswith('config.') and program in ('train.py', 'evaluate.py'):
        if not _has_field(_config(config_path), flag[len('config.'):]):
          unknown.append(f'{program} --{flag}')
      elif flag not in known_flags(program):
        unknown.append(f'{program} --{flag}')
  assert not unknown, f'the README names flags that do not exist: {sorted(set(unknown))}'
