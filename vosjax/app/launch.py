"""What `python -m vosjax.app` opens before it serves: the workspace, and the --video to open in it, if any."""

from __future__ import annotations

import os

from vosjax.app.objects import MAX_OBJECTS
from vosjax.app.video_import import display_name
from vosjax.app.workspace import PAINTED, Workspace, WorkspaceError
from vosjax.data.user_video import UserVideo, open_user_video


def open_workspace(folder: str, video_path: str | None, max_objects: int = MAX_OBJECTS
                   ) -> tuple[Workspace, UserVideo | None, str]:
  """(the workspace, the video to open in it or None, its display name).

  A workspace that already holds `video_path`'s video (same name and frame count) resumes as it is. One that holds
  masks of another video is refused (its work would be lost); an empty one takes the new video.
  """
  workspace = Workspace.open(folder, max_objects)
  if video_path is None:
    return workspace, None, ''
  video = open_user_video(video_path)  # bad input is refused here, before the model loads
  source = display_name(os.path.basename(os.path.normpath(video_path)))
  held = workspace.video
  if held is not None and held.source == source and held.num_frames == video.num_frames:
    return workspace, None, source
  if held is not None and (workspace.kind != 0).any():
    painted = int((workspace.kind == PAINTED).sum())
    raise WorkspaceError(f'{workspace.folder} holds the work on another video, {held.source} ({painted} painted '
                         f'frames); give another --workspace for {video_path}, or open it from the page')
  return workspace, video, source
