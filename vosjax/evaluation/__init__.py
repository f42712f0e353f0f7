"""Evaluation: segmenting splits and scoring them."""

from vosjax.evaluation.video_eval import copy_first_frame, evaluate_videos

__all__ = ['copy_first_frame', 'evaluate_videos']
