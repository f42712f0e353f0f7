"""Visualisation: segmentations drawn over their frames."""

from vosjax.visualization.overlay import OverlayVideoError, OverlayVideoWriter, overlay_masks

__all__ = ['OverlayVideoError', 'OverlayVideoWriter', 'overlay_masks']
